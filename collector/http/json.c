// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * json.c - see json.h.  Escaping is lib/jsonesc.c's (JSONESC_UTF8): byte-exact
 * and allocation-free, runs of plain bytes appended in one evbuffer_add().
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "json.h"
#include "jsonesc.h"

size_t json_utf8_seq(const uint8_t *p, size_t avail)
{
	return jsonesc_utf8_seq(p, avail);
}

static int put_evbuffer(void *arg, const void *p, size_t len)
{
	return evbuffer_add(arg, p, len) ? -1 : 0;
}

int json_escape(struct evbuffer *out, const void *p, size_t len)
{
	return jsonesc(put_evbuffer, out, p, len, JSONESC_UTF8);
}

void json_init(struct json *j, struct evbuffer *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

static void json_put(struct json *j, const char *s, size_t len)
{
	if (evbuffer_add(j->out, s, len))
		j->err = true;
}

/* Before any value: the comma, unless it follows its key. */
static void json_value_start(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		json_put(j, ",", 1);
	j->need_comma[j->depth] = true;
}

static void json_open(struct json *j, char c)
{
	json_value_start(j);
	json_put(j, &c, 1);
	if (j->depth >= JSON_MAX_DEPTH) {
		j->err = true;
		return;
	}
	j->depth++;
	j->need_comma[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
	json_put(j, &c, 1);
	if (j->depth)
		j->depth--;
}

void json_object_begin(struct json *j)
{
	json_open(j, '{');
}

void json_object_end(struct json *j)
{
	json_close(j, '}');
}

void json_array_begin(struct json *j)
{
	json_open(j, '[');
}

void json_array_end(struct json *j)
{
	json_close(j, ']');
}

static void json_quoted(struct json *j, const void *p, size_t len)
{
	json_put(j, "\"", 1);
	if (json_escape(j->out, p, len))
		j->err = true;
	json_put(j, "\"", 1);
}

void json_key(struct json *j, const char *key)
{
	json_value_start(j);
	json_quoted(j, key, strlen(key));
	json_put(j, ":", 1);
	j->after_key = true;
}

void json_strn(struct json *j, const void *p, size_t len)
{
	json_value_start(j);
	json_quoted(j, p, len);
}

void json_str(struct json *j, const char *s)
{
	if (!s) {
		json_null(j);
		return;
	}
	json_strn(j, s, strlen(s));
}

static void json_num(struct json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void json_num(struct json *j, const char *fmt, ...)
{
	char buf[48];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_value_start(j);
	json_put(j, buf, n);
}

void json_u64(struct json *j, uint64_t v)
{
	json_num(j, "%" PRIu64, v);
}

void json_i64(struct json *j, int64_t v)
{
	json_num(j, "%" PRId64, v);
}

void json_double(struct json *j, double v)
{
	if (!isfinite(v)) {
		json_null(j);
		return;
	}
	json_num(j, "%.9g", v);
}

void json_bool(struct json *j, bool v)
{
	json_value_start(j);
	json_put(j, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json *j)
{
	json_value_start(j);
	json_put(j, "null", 4);
}

void json_raw(struct json *j, const char *text, size_t len)
{
	json_value_start(j);
	json_put(j, text, len);
}

void json_kv_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_str(j, s);
}

void json_kv_strn(struct json *j, const char *key, const void *p, size_t len)
{
	json_key(j, key);
	json_strn(j, p, len);
}

void json_kv_u64(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_u64(j, v);
}

void json_kv_i64(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_i64(j, v);
}

void json_kv_double(struct json *j, const char *key, double v)
{
	json_key(j, key);
	json_double(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

void json_kv_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_null(j);
}
