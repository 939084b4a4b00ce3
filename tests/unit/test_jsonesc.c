// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_jsonesc.c - lib/jsonesc.c, the one JSON string escaper.
 *
 * Fixed cases for each policy; then 20 000 random byte strings (biased to
 * quotes, controls, UTF-8 lead and continuation bytes) per policy:
 *  - the output is valid JSON string content: no raw control byte, every
 *    '"' and '\' part of an escape, valid UTF-8 (ASCII only for ASCII);
 *  - decoding it (\u00XX and the short escapes to their byte) gives back
 *    the input exactly;
 *  - it equals what the escapers it replaced wrote (copied here as
 *    reference: the collector's http/json.c, the lock engine's verdict and
 *    view JSON and the event log, the tool's jsonw.c).
 * Also: the bytebuf and FILE writers, a writer error stops the escaping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jsonesc.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char *esc(const void *p, size_t len, unsigned int flags)
{
	struct bytebuf b = { 0 };

	if (jsonesc_bytebuf(&b, p, len, flags) || bytebuf_reserve(&b, 1))
		abort();
	b.data[b.len] = 0;
	return (char *)b.data;
}

/* --- the escapers jsonesc replaced, as they were --- */
static void old_ascii(struct bytebuf *o, const uint8_t *b, size_t len,
		      bool html)
{
	char t[8];

	for (size_t i = 0; i < len; i++) {
		uint8_t c = b[i];

		if (c == '"' || c == '\\') {
			snprintf(t, sizeof(t), "\\%c", c);
		} else if (c < 0x20 || c > 0x7e ||
			   (html && (c == '<' || c == '>' || c == '&'))) {
			snprintf(t, sizeof(t), "\\u%04x", c);
		} else {
			t[0] = (char)c;
			t[1] = 0;
		}
		bytebuf_reserve(o, strlen(t) + 1);
		memcpy(o->data + o->len, t, strlen(t));
		o->len += strlen(t);
	}
}

static void old_utf8(struct bytebuf *o, const uint8_t *s, size_t len)
{
	size_t i = 0, n;
	char t[8];

	while (i < len) {
		uint8_t c = s[i];
		const char *e = NULL;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			t[0] = (char)c;
			t[1] = 0;
			e = t;
			n = 1;
		} else if (c >= 0x80 &&
			   (n = jsonesc_utf8_seq(s + i, len - i))) {
			memcpy(t, s + i, n);
			t[n] = 0;
			e = t;
		} else {
			n = 1;
			switch (c) {
			case '"':
				e = "\\\"";
				break;
			case '\\':
				e = "\\\\";
				break;
			case '\n':
				e = "\\n";
				break;
			case '\r':
				e = "\\r";
				break;
			case '\t':
				e = "\\t";
				break;
			case '\b':
				e = "\\b";
				break;
			case '\f':
				e = "\\f";
				break;
			default:
				snprintf(t, sizeof(t), "\\u%04x", c);
				e = t;
			}
		}
		bytebuf_reserve(o, strlen(e) + 1);
		memcpy(o->data + o->len, e, strlen(e));
		o->len += strlen(e);
		i += n;
	}
}

/* Decode escaped string content back to bytes; -1 if not valid. */
static long decode(const char *s, uint8_t *out, bool ascii)
{
	size_t n = 0, len = strlen(s);

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c < 0x20 || c == '"')
			return -1;
		if (ascii && c >= 0x7f)
			return -1;
		if (c >= 0x80) {
			size_t k = jsonesc_utf8_seq((const uint8_t *)s + i,
						    len - i);

			if (!k)
				return -1;
			memcpy(out + n, s + i, k);
			n += k;
			i += k - 1;
			continue;
		}
		if (c != '\\') {
			out[n++] = c;
			continue;
		}
		c = (uint8_t)s[++i];
		switch (c) {
		case '"':
		case '\\':
			out[n++] = c;
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'u': {
			unsigned int v;

			if (strncmp(s + i + 1, "00", 2) ||
			    sscanf(s + i + 3, "%2x", &v) != 1)
				return -1;
			out[n++] = (uint8_t)v;
			i += 4;
			break;
		}
		default:
			return -1;
		}
	}
	return (long)n;
}

static int fail_after(void *arg, const void *p, size_t len)
{
	int *left = arg;

	(void)p;
	(void)len;
	return --*left < 0 ? -7 : 0;
}

int main(int argc, char **argv)
{
	static const unsigned int policies[] = { JSONESC_UTF8, JSONESC_ASCII,
						 JSONESC_ASCII | JSONESC_HTML,
						 JSONESC_UTF8 | JSONESC_HTML };
	static const uint8_t pool[] = { '"',  '\\', '<',  '>',	'&',
					'a',  'z',  0,	  1,	'\n',
					'\t', 0x1f, 0x7f, 0x80, 0xbf,
					0xc2, 0xc3, 0xe2, 0xed, 0xf0,
					0xf4, 0xf5, 0xff, 0x9f, 0xa0 };
	char *s;
	FILE *f;
	int left;
	(void)argc;

	s = esc("a\"b\\c\nd\x01\xc3\xa9\xff<", 12, JSONESC_UTF8);
	CHECK_STR(s, "a\\\"b\\\\c\\nd\\u0001\xc3\xa9\\u00ff<");
	free(s);
	s = esc("a\"b\\c\nd\x01\xc3\xa9\xff<", 12, JSONESC_ASCII);
	CHECK_STR(s, "a\\\"b\\\\c\\u000ad\\u0001\\u00c3\\u00a9\\u00ff<");
	free(s);
	s = esc("<img src=x>&\x7f", 13, JSONESC_ASCII | JSONESC_HTML);
	CHECK_STR(s, "\\u003cimg src=x\\u003e\\u0026\\u007f");
	free(s);
	s = esc("\x7f", 1, JSONESC_UTF8);
	CHECK_STR(s, "\x7f"); /* JSON allows DEL as it is */
	free(s);
	s = esc("\xed\xa0\x80\xe0\x80\xaf", 6,
		JSONESC_UTF8); /* surrogate, overlong */
	CHECK_STR(s, "\\u00ed\\u00a0\\u0080\\u00e0\\u0080\\u00af");
	free(s);
	s = esc("", 0, JSONESC_UTF8);
	CHECK_STR(s, "");
	free(s);

	for (int k = 0; k < 20000; k++) {
		uint8_t in[64], dec[64];
		size_t len = rnd() % sizeof(in);

		for (size_t i = 0; i < len; i++)
			in[i] = rnd() % 3 ? pool[rnd() % sizeof(pool)] :
					    (uint8_t)rnd();
		for (size_t p = 0; p < 4; p++) {
			unsigned int fl = policies[p];
			struct bytebuf ref = { 0 };
			long n;

			s = esc(in, len, fl);
			n = decode(s, dec, fl & JSONESC_ASCII);
			if (!CHECK(n == (long)len && !memcmp(dec, in, len))) {
				fprintf(stderr, "policy %u, output %s\n", fl,
					s);
				free(s);
				goto out;
			}
			if (p < 3) {
				if (p == 0)
					old_utf8(&ref, in, len);
				else
					old_ascii(&ref, in, len, p == 2);
				bytebuf_reserve(&ref, 1);
				ref.data[ref.len] = 0;
				if (!CHECK(!strcmp(s, (char *)ref.data))) {
					fprintf(stderr, "policy %u: %s != %s\n",
						fl, s, (char *)ref.data);
					free(s);
					bytebuf_release(&ref);
					goto out;
				}
			}
			bytebuf_release(&ref);
			free(s);
		}
	}
out:
	/* FILE writer */
	f = tmpfile();
	if (CHECK(f)) {
		char buf[64] = { 0 };

		CHECK_INT(jsonesc_file(f, "x\"\xff", 3, JSONESC_ASCII), 0);
		rewind(f);
		CHECK(fread(buf, 1, sizeof(buf) - 1, f) > 0);
		CHECK_STR(buf, "x\\\"\\u00ff");
		fclose(f);
	}
	/* a writer error stops it and is returned */
	left = 1;
	CHECK_INT(jsonesc(fail_after, &left, "ab\"cd\"ef", 8, JSONESC_UTF8),
		  -7);
	CHECK_INT(left, -1);
	return check_summary(argv[0]);
}
