// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * escape.c - see escape.h.
 */
#include <stdio.h>
#include <string.h>

#include "escape.h"

const char *escape_bytes(const void *in, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t o = 0, i;

	for (i = 0; i < len && o + 8 < outlen; i++) {
		unsigned char c = p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
					      c);
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
	return out;
}
