/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * json.h - a small streaming JSON writer into a libevent evbuffer.
 *
 * The HTTP part and the providers behind it build every JSON document with
 * it, so that untrusted bytes (resource names, node names, event text) come
 * out escaped one way everywhere: the output is always valid UTF-8; bytes
 * that are not part of a valid UTF-8 sequence are written as \u00XX (the
 * byte's value as a code point), control characters as \uXXXX or their
 * short escapes.  Commas between members and elements are placed by the
 * writer.  A failed evbuffer_add() is remembered in ->err; callers check it
 * once at the end.
 */
#ifndef NETRV_HTTP_JSON_H
#define NETRV_HTTP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define JSON_MAX_DEPTH 32

struct json {
	struct evbuffer *out; /* borrowed */
	unsigned int depth;
	bool need_comma[JSON_MAX_DEPTH + 1];
	bool after_key;
	bool err; /* out of memory or nesting too deep */
};

/** json_init - write into @out (borrowed; appended to, never drained) */
void json_init(struct json *j, struct evbuffer *out);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);

/** json_key - a member name; @key is escaped like any string */
void json_key(struct json *j, const char *key);

/** json_str - a string value from NUL-terminated @s (NULL: null) */
void json_str(struct json *j, const char *s);
/** json_strn - a string value from @len untrusted bytes (may hold NULs) */
void json_strn(struct json *j, const void *p, size_t len);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
/** json_double - finite numbers as %.6g-ish, NaN and infinities as null */
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
void json_null(struct json *j);
/**
 * json_raw - a complete JSON value the caller vouches for (e.g. a stored
 * verdict document); it is copied as is.
 */
void json_raw(struct json *j, const char *text, size_t len);

/* Members: key and value in one call. */
void json_kv_str(struct json *j, const char *key, const char *s);
void json_kv_strn(struct json *j, const char *key, const void *p, size_t len);
void json_kv_u64(struct json *j, const char *key, uint64_t v);
void json_kv_i64(struct json *j, const char *key, int64_t v);
void json_kv_double(struct json *j, const char *key, double v);
void json_kv_bool(struct json *j, const char *key, bool v);
void json_kv_null(struct json *j, const char *key);

/**
 * json_escape - append @len bytes as the body of a JSON string (no quotes)
 *
 * Return: 0, or -1 if the evbuffer could not grow.
 */
int json_escape(struct evbuffer *out, const void *p, size_t len);

/**
 * json_utf8_seq - length of the valid UTF-8 sequence starting at @p
 *
 * Return: 1..4, or 0 if @p[0] does not start a valid, complete, shortest
 * form sequence of a code point up to U+10FFFF that is not a surrogate.
 */
size_t json_utf8_seq(const uint8_t *p, size_t avail);

#endif
