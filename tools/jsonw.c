// SPDX-License-Identifier: GPL-2.0-or-later
/* jsonw.c - JSON strings and times for the netrv tool (see jsonw.h). */
#include <string.h>

#include "jsonesc.h"
#include "jsonw.h"

void jsonw_str(FILE *f, const void *p, size_t len)
{
	fputc('"', f);
	jsonesc_file(f, p, len, JSONESC_ASCII | JSONESC_HTML);
	fputc('"', f);
}

void jsonw_cstr(FILE *f, const char *s)
{
	jsonw_str(f, s, strlen(s));
}

void jsonw_us(FILE *f, uint64_t t, uint64_t t0)
{
	uint64_t d = t >= t0 ? t - t0 : t0 - t;

	fprintf(f, "%s%llu.%03llu", t >= t0 ? "" : "-",
		(unsigned long long)(d / 1000), (unsigned long long)(d % 1000));
}
