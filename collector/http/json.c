// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * json.c - see json.h.  Escaping is byte-exact and allocation-free: runs of
 * plain bytes are appended in one evbuffer_add().
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "json.h"

size_t json_utf8_seq(const uint8_t *p, size_t avail)
{
	uint8_t c = p[0];
	size_t n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
		return 0; /* overlong */
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int json_escape(struct evbuffer *out, const void *p, size_t len)
{
	const uint8_t *s = p, *run = p;
	size_t i = 0, n;
	char esc[8];

	while (i < len) {
		uint8_t c = s[i];
		const char *short_esc = NULL;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80) {
			n = json_utf8_seq(s + i, len - i);
			if (n) {
				i += n;
				continue;
			}
		}
		if (run < s + i && evbuffer_add(out, run, s + i - run))
			return -1;
		switch (c) {
		case '"':
			short_esc = "\\\"";
			break;
		case '\\':
			short_esc = "\\\\";
			break;
		case '\n':
			short_esc = "\\n";
			break;
		case '\r':
			short_esc = "\\r";
			break;
		case '\t':
			short_esc = "\\t";
			break;
		case '\b':
			short_esc = "\\b";
			break;
		case '\f':
			short_esc = "\\f";
			break;
		}
		if (!short_esc) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			short_esc = esc;
		}
		if (evbuffer_add(out, short_esc, strlen(short_esc)))
			return -1;
		i++;
		run = s + i;
	}
	if (run < s + len && evbuffer_add(out, run, s + len - run))
		return -1;
	return 0;
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
