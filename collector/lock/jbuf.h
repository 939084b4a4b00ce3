/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jbuf.h - JSON text into a caller's fixed buffer, snprintf style: writing
 * never fails, output past the end is counted but dropped, so the caller
 * learns the size it would have needed.  Shared by verdict.c and view.c.
 */
#ifndef NETRV_LOCK_JBUF_H
#define NETRV_LOCK_JBUF_H

#include <stddef.h>

struct jbuf {
	char *buf;
	size_t cap; /* len - 1: room for the NUL */
	size_t pos; /* bytes written or that would have been */
};

/** jbuf_init - write into @buf of @len bytes (may be 0) */
struct jbuf jbuf_init(char *buf, size_t len);
void jbuf_put(struct jbuf *j, const char *s, size_t n);
void jbuf_puts(struct jbuf *j, const char *s);
void jbuf_printf(struct jbuf *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** jbuf_str - @p as a JSON string, every byte outside printable ASCII escaped */
void jbuf_str(struct jbuf *j, const void *p, size_t len);
/** jbuf_finish - NUL-terminate; return the length the text needs */
size_t jbuf_finish(struct jbuf *j);

#endif
