// SPDX-License-Identifier: GPL-2.0-or-later
/* jbuf.c - see jbuf.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jbuf.h"
#include "jsonesc.h"

struct jbuf jbuf_init(char *buf, size_t len)
{
	return (struct jbuf){ .buf = buf, .cap = len ? len - 1 : 0 };
}

void jbuf_put(struct jbuf *j, const char *s, size_t n)
{
	if (j->pos < j->cap) {
		size_t room = j->cap - j->pos;

		memcpy(j->buf + j->pos, s, n < room ? n : room);
	}
	j->pos += n;
}

void jbuf_puts(struct jbuf *j, const char *s)
{
	jbuf_put(j, s, strlen(s));
}

void jbuf_printf(struct jbuf *j, const char *fmt, ...)
{
	char tmp[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		jbuf_put(j, tmp,
			 (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static int put_cb(void *arg, const void *p, size_t n)
{
	jbuf_put(arg, p, n);
	return 0;
}

void jbuf_str(struct jbuf *j, const void *p, size_t len)
{
	jbuf_put(j, "\"", 1);
	jsonesc(put_cb, j, p, len, JSONESC_ASCII);
	jbuf_put(j, "\"", 1);
}

size_t jbuf_finish(struct jbuf *j)
{
	if (j->cap)
		j->buf[j->pos < j->cap ? j->pos : j->cap] = '\0';
	return j->pos;
}
