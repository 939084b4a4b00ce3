// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_models.c - libFuzzer target for the DOT reader, the header writer
 * and the binding reader.  The input is a model, optionally followed by
 * "\n---\n" and a binding for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "da_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *sep = memmem(text, size, "\n---\n", 5);
	size_t dot_len = sep ? (size_t)(sep - text) : size;
	struct da_model *m;
	char err[256];
	FILE *null;

	m = da_model_parse(text, dot_len, "f.dot", NULL, err, sizeof(err));
	if (!m)
		return 0;
	null = fopen("/dev/null", "w");
	if (null) {
		da_header_write(m, null);
		da_model_report(m, null, null);
		fclose(null);
	}
	if (sep) {
		size_t blen = size - dot_len - 5;
		char *b = malloc(blen + 1);

		if (b) {
			struct mb_binding *bd;

			memcpy(b, sep + 5, blen);
			b[blen] = 0;
			bd = mb_binding_parse(b, "f.bind", m, err, sizeof(err));
			mb_binding_free(bd);
			free(b);
		}
	}
	da_model_free(m);
	return 0;
}
