/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * escape.h - untrusted bytes (node names, resource names, reasons) made
 * safe for one log line.
 */
#ifndef NETRV_COLLECTOR_ESCAPE_H
#define NETRV_COLLECTOR_ESCAPE_H

#include <stddef.h>

/**
 * escape_bytes - printable ASCII as is, the rest (and \ and ') as \xNN,
 * cut with "..." when @out is too small
 * @out: room for @outlen bytes, at least 8; always NUL-terminated
 *
 * Return: @out.
 */
const char *escape_bytes(const void *in, size_t len, char *out, size_t outlen);

#endif
