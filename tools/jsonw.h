/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * jsonw.h - JSON string output for the netrv tool.  Names and resources are
 * untrusted bytes: every byte outside printable ASCII is written as \u00XX
 * (bytes read as Latin-1), and <, >, & are escaped too, so the output is
 * valid UTF-8 JSON that can also sit inside an HTML <script> block.
 */
#ifndef NETRV_TOOLS_JSONW_H
#define NETRV_TOOLS_JSONW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** jsonw_str - write @len bytes at @p as a quoted JSON string */
void jsonw_str(FILE *f, const void *p, size_t len);

/** jsonw_cstr - jsonw_str() of a NUL-terminated string */
void jsonw_cstr(FILE *f, const char *s);

/** jsonw_us - write TAI ns @t minus @t0 as microseconds, exactly */
void jsonw_us(FILE *f, uint64_t t, uint64_t t0);

#endif
