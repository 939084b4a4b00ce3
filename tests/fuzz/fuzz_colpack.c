// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_colpack.c - libFuzzer target for the collector's decoder of
 * Batch.columns_zstd (colpack_expand_batch, lib/colpack.h): arbitrary
 * column data under a fixed schema of two DLM-like types.  The input is
 * compressed first (so the fuzzer reaches the column parser rather than
 * fighting zstd's checks); with the first byte odd it is taken as the zstd
 * frame itself.  An accepted batch must have consistent columns.
 */
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "colpack.h"

static Netrv__Field f[6], *fp[6];
static Netrv__EventType t0 = NETRV__EVENT_TYPE__INIT,
			t2 = NETRV__EVENT_TYPE__INIT;
static const Netrv__EventType *types[3];
static struct colpack *cp;
static uint8_t z[1 << 20];

static void init(void)
{
	for (int i = 0; i < 6; i++) {
		netrv__field__init(&f[i]);
		f[i].kind = i < 3 ? NETRV__FIELD_KIND__FIELD_INT :
			    i < 5 ? NETRV__FIELD_KIND__FIELD_STRING :
				    NETRV__FIELD_KIND__FIELD_BYTES;
		f[i].is_signed = i == 1;
		fp[i] = &f[i];
	}
	t0.n_fields = 4; /* ints and a string */
	t0.fields = fp;
	t2.id = 2;
	t2.n_fields = 3; /* two strings and bytes */
	t2.fields = fp + 3;
	types[0] = &t0;
	types[2] = &t2; /* id 1 unused */
	cp = colpack_create(1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Netrv__Batch *b;
	char err[128];
	size_t zlen;

	if (!cp)
		init();
	if (!size)
		return 0;
	if (data[0] & 1) {
		zlen = size - 1 < sizeof(z) ? size - 1 : sizeof(z);
		memcpy(z, data + 1, zlen);
	} else {
		zlen = ZSTD_compress(z, sizeof(z), data + 1, size - 1, 1);
		if (ZSTD_isError(zlen))
			return 0;
	}
	b = calloc(1, sizeof(*b));
	netrv__batch__init(b);
	b->columns_zstd.data = malloc(zlen ? zlen : 1);
	memcpy(b->columns_zstd.data, z, zlen);
	b->columns_zstd.len = zlen;
	if (!colpack_expand_batch(cp, b, types, 3, err, sizeof(err)) &&
	    (b->n_time_delta != b->n_event_type || b->n_cpu != b->n_event_type))
		abort();
	netrv__batch__free_unpacked(b, NULL);
	return 0;
}
