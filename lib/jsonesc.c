// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * jsonesc.c - the JSON string escaper shared by the collector, its lock
 * engine and dashboard, and the tools (see jsonesc.h).
 */
#include <errno.h>
#include <string.h>

#include "jsonesc.h"

size_t jsonesc_utf8_seq(const uint8_t *p, size_t avail)
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

/* The escape for byte @c, or NULL if it is written as it is. */
static const char *esc_of(uint8_t c, unsigned int flags, char buf[8])
{
	static const char hexd[] = "0123456789abcdef";

	if (c == '"')
		return "\\\"";
	if (c == '\\')
		return "\\\\";
	if ((flags & JSONESC_HTML) && (c == '<' || c == '>' || c == '&'))
		goto hex;
	if (c >= 0x20 && c < 0x7f)
		return NULL;
	if (!(flags & JSONESC_ASCII)) {
		switch (c) {
		case 0x7f:
			return NULL;
		case '\n':
			return "\\n";
		case '\r':
			return "\\r";
		case '\t':
			return "\\t";
		case '\b':
			return "\\b";
		case '\f':
			return "\\f";
		}
	}
hex:
	memcpy(buf, "\\u00", 4);
	buf[4] = hexd[c >> 4];
	buf[5] = hexd[c & 15];
	buf[6] = '\0';
	return buf;
}

int jsonesc(jsonesc_write_fn fn, void *arg, const void *p, size_t len,
	    unsigned int flags)
{
	const uint8_t *s = p, *run = p;
	size_t i = 0, n;
	char buf[8];
	int r;

	while (i < len) {
		const char *e;

		if (s[i] >= 0x80 && !(flags & JSONESC_ASCII)) {
			n = jsonesc_utf8_seq(s + i, len - i);
			if (n) {
				i += n;
				continue;
			}
		}
		e = esc_of(s[i], flags, buf);
		if (!e) {
			i++;
			continue;
		}
		if (run < s + i && (r = fn(arg, run, (size_t)(s + i - run))))
			return r;
		if ((r = fn(arg, e, strlen(e))))
			return r;
		run = s + ++i;
	}
	if (run < s + len && (r = fn(arg, run, (size_t)(s + len - run))))
		return r;
	return 0;
}

static int put_bytebuf(void *arg, const void *p, size_t len)
{
	struct bytebuf *b = arg;

	if (bytebuf_reserve(b, len))
		return -1;
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

int jsonesc_bytebuf(struct bytebuf *b, const void *p, size_t len,
		    unsigned int flags)
{
	return jsonesc(put_bytebuf, b, p, len, flags);
}

static int put_file(void *arg, const void *p, size_t len)
{
	return fwrite(p, 1, len, arg) == len ? 0 : -1;
}

int jsonesc_file(FILE *f, const void *p, size_t len, unsigned int flags)
{
	return jsonesc(put_file, f, p, len, flags);
}
