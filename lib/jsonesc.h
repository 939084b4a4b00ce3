/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jsonesc.h - the one JSON string escaper: untrusted bytes in, the body of
 * a valid JSON string out (without the quotes), through a writer callback
 * or into a struct bytebuf or a FILE.
 *
 * Two policies for bytes that are not plain printable ASCII:
 *   JSONESC_UTF8   valid UTF-8 sequences are kept; \n \r \t \b \f use the
 *                  short escapes; every other control byte and every byte
 *                  that is not part of valid UTF-8 is \u00XX (the byte's
 *                  value as a code point).  The dashboard's form.
 *   JSONESC_ASCII  every byte outside 0x20..0x7e is \u00XX: the output is
 *                  ASCII and each byte is recovered exactly (code point =
 *                  byte).  Verdicts, the state view, the event log.
 * JSONESC_HTML (with either) also writes < > & as \u00XX, so the string is
 * safe inside an HTML <script> element.  '"' and '\' are always escaped.
 */
#ifndef NETRV_JSONESC_H
#define NETRV_JSONESC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evpack.h"

enum {
	JSONESC_UTF8 = 0,
	JSONESC_ASCII = 1,
	JSONESC_HTML = 2,
};

/* Append @len bytes at @p; return 0, or -1 to stop (the error is returned). */
typedef int (*jsonesc_write_fn)(void *arg, const void *p, size_t len);

/**
 * jsonesc - write @len bytes at @p, escaped, through @fn
 * @flags: JSONESC_UTF8 or JSONESC_ASCII, optionally | JSONESC_HTML
 *
 * Runs of bytes that need no escape are written with one call.  Nothing is
 * allocated.
 *
 * Return: 0, or the first nonzero value @fn returned.
 */
int jsonesc(jsonesc_write_fn fn, void *arg, const void *p, size_t len,
	    unsigned int flags);

/** jsonesc_bytebuf - jsonesc() appending to @b; -1 with errno (ENOMEM) */
int jsonesc_bytebuf(struct bytebuf *b, const void *p, size_t len,
		    unsigned int flags);

/** jsonesc_file - jsonesc() into @f; -1 if a write failed */
int jsonesc_file(FILE *f, const void *p, size_t len, unsigned int flags);

/**
 * jsonesc_utf8_seq - length of the valid UTF-8 sequence starting at @p
 * @avail: bytes available at @p (at least 1)
 *
 * Return: 1 to 4, or 0 if @p does not start a valid sequence (overlong
 * forms, surrogates and code points above U+10FFFF are invalid).
 */
size_t jsonesc_utf8_seq(const uint8_t *p, size_t avail);

#endif
