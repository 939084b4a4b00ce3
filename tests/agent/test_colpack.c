// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_colpack.c - the column form of batches (lib/colpack.h): every batch
 * the agent sent in two captured real runs (tests/agent/data, made with
 * `bench/agent_overhead.py --codec plain --dump FILE`: the DLM-like uprobe
 * workload and filelock:flock_lock_inode) comes back equal after
 * encode + expand; so do random batches of random schemas (the plain form
 * is the oracle); damaged column data is refused or expands into a
 * consistent batch, never read out of bounds (run it under ASan).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "colpack.h"
#include "evpack.h"
#include "frame.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A copy of @b's columns as columns_zstd only, as the agent sends it. */
static Netrv__Batch *columns_batch(const struct bytebuf *z)
{
	Netrv__Batch *c = calloc(1, sizeof(*c));

	netrv__batch__init(c);
	c->columns_zstd.data = malloc(z->len ? z->len : 1);
	memcpy(c->columns_zstd.data, z->data, z->len);
	c->columns_zstd.len = z->len;
	return c;
}

/* Encode the plain form, expand it again, compare.  1: equal. */
static int round_trip(struct colpack *cp, const Netrv__EventType *const *types,
		      size_t n_types, size_t n, const uint64_t *delta,
		      const uint32_t *type, const uint32_t *cpu,
		      const uint8_t *fields, size_t fields_len, size_t *zlen)
{
	struct bytebuf z = { 0 };
	Netrv__Batch *c = NULL;
	char err[128] = "";
	int ok = 0;

	if (colpack_encode(cp, types, n_types, n, delta, type, cpu, fields,
			   fields_len, &z))
		goto out;
	*zlen = z.len;
	c = columns_batch(&z);
	if (colpack_expand_batch(cp, c, types, n_types, err, sizeof(err))) {
		fprintf(stderr, "  expand: %s\n", err);
		goto out;
	}
	ok = c->n_time_delta == n && c->n_event_type == n && c->n_cpu == n &&
	     c->columns_zstd.len == 0 && c->fields.len == fields_len &&
	     (!n || (!memcmp(c->time_delta, delta, n * sizeof(*delta)) &&
		     !memcmp(c->event_type, type, n * sizeof(*type)) &&
		     !memcmp(c->cpu, cpu, n * sizeof(*cpu)))) &&
	     (!fields_len || !memcmp(c->fields.data, fields, fields_len));
out:
	if (c)
		netrv__batch__free_unpacked(c, NULL);
	bytebuf_release(&z);
	return ok;
}

/* Records of a receiver --dump: u8 frame type, u32 length, payload. */
static void test_capture(const char *path, size_t min_events)
{
	gzFile g = gzopen(path, "rb");
	struct colpack *cp = colpack_create(1);
	Netrv__Schema *s = NULL;
	size_t events = 0, batches = 0, plain = 0, packed = 0, zlen;
	uint8_t *buf = NULL;

	REQUIRE(g && cp);
	for (;;) {
		uint8_t t;
		uint32_t len;
		Netrv__Batch *b;

		if (gzread(g, &t, 1) != 1)
			break;
		REQUIRE(gzread(g, &len, 4) == 4 && len < FRAME_HARD_MAX);
		free(buf);
		buf = malloc(len ? len : 1);
		REQUIRE(buf && gzread(g, buf, len) == (int)len);
		if (t == FRAME_SCHEMA) {
			if (s)
				netrv__schema__free_unpacked(s, NULL);
			s = netrv__schema__unpack(NULL, len, buf);
			REQUIRE(s);
			for (size_t i = 0; i < s->n_types; i++)
				REQUIRE(s->types[i]->id == i);
			continue;
		}
		REQUIRE(t == FRAME_BATCH && s);
		b = netrv__batch__unpack(NULL, len, buf);
		REQUIRE(b);
		CHECK(b->columns_zstd.len == 0 && b->fields_deflate.len == 0);
		CHECK(round_trip(cp, (const Netrv__EventType *const *)s->types,
				 s->n_types, b->n_event_type, b->time_delta,
				 b->event_type, b->cpu, b->fields.data,
				 b->fields.len, &zlen));
		events += b->n_event_type;
		batches++;
		plain += len;
		packed += len - b->fields.len -
			  3 * b->n_event_type /* about the varint columns */
			  + zlen;
		netrv__batch__free_unpacked(b, NULL);
	}
	CHECK(events >= min_events);
	printf("%s: %zu batches, %zu events; plain %.1f bytes/event, columns about %.1f\n",
	       path, batches, events, events ? (double)plain / events : 0,
	       events ? (double)packed / events : 0);
out:
	free(buf);
	if (s)
		netrv__schema__free_unpacked(s, NULL);
	colpack_destroy(cp);
	if (g)
		gzclose(g);
}

/* A random schema: types with ids (some ids unused), random fields. */
struct rschema {
	Netrv__EventType *types[6];
	Netrv__EventType store[6];
	Netrv__Field fstore[6][8];
	Netrv__Field *fptr[6][8];
	size_t n_types;
};

static void make_schema(struct rschema *r)
{
	memset(r, 0, sizeof(*r));
	r->n_types = 1 + rnd() % 6;
	for (size_t t = 0; t < r->n_types; t++) {
		Netrv__EventType *et = &r->store[t];

		if (t && rnd() % 4 == 0)
			continue; /* an unused id */
		netrv__event_type__init(et);
		et->id = (uint32_t)t;
		et->n_fields = rnd() % 8;
		et->fields = r->fptr[t];
		for (size_t f = 0; f < et->n_fields; f++) {
			Netrv__Field *fd = &r->fstore[t][f];

			netrv__field__init(fd);
			fd->kind = (Netrv__FieldKind)(rnd() % 3);
			fd->is_signed = rnd() % 2;
			r->fptr[t][f] = fd;
		}
		r->types[t] = et;
	}
}

static const char *const pool[] = { "",
				    "2      1a00f",
				    "2      1a010",
				    "2      1a01f",
				    "5         7",
				    "lockspace-A",
				    "lockspace-AB",
				    "a\0b\0c" };

static void put_random(struct bytebuf *fields, const Netrv__Field *f,
		       uint64_t *counter)
{
	char s[64];
	size_t len;

	if (f->kind == NETRV__FIELD_KIND__FIELD_INT) {
		uint64_t v;

		switch (rnd() % 4) {
		case 0:
			v = rnd();
			break;
		case 1:
			v = rnd() % 7;
			break;
		case 2:
			v = ++*counter;
			break;
		default:
			v = (uint64_t) - (int64_t)(rnd() % 300);
		}
		if (f->is_signed)
			evpack_put_s64(fields, (int64_t)v);
		else
			evpack_put_u64(fields, v);
		return;
	}
	if (rnd() % 3) {
		const char *p = pool[rnd() % (sizeof(pool) / sizeof(*pool))];

		len = p[0] == 'a' ? 5 : strlen(p);
		memcpy(s, p, len);
	} else {
		len = rnd() % sizeof(s);
		for (size_t i = 0; i < len; i++)
			s[i] = (char)rnd();
	}
	evpack_put_bytes(fields, s, len);
}

static void test_random(void)
{
	struct colpack *cp = colpack_create(1);
	uint64_t delta[300];
	uint32_t type[300], cpu[300];
	struct bytebuf fields = { 0 };
	struct rschema r;
	size_t zlen;

	REQUIRE(cp);
	for (int round = 0; round < 400; round++) {
		size_t n = round % 10 == 0 ? 0 : rnd() % 300;
		uint64_t counter = rnd() % 1000;
		const Netrv__EventType *const *types;

		make_schema(&r);
		types = (const Netrv__EventType *const *)r.types;
		fields.len = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t t;

			do
				t = (uint32_t)(rnd() % r.n_types);
			while (!types[t]);
			delta[i] = rnd() % 3 ? rnd() % 100000 : rnd();
			type[i] = t;
			cpu[i] = (uint32_t)(rnd() % 4);
			for (size_t f = 0; f < types[t]->n_fields; f++)
				put_random(&fields, types[t]->fields[f],
					   &counter);
		}
		if (!CHECK(round_trip(cp, types, r.n_types, n, delta, type, cpu,
				      fields.data, fields.len, &zlen)))
			fprintf(stderr, "  round %d, %zu events\n", round, n);
	}
	/* rows that do not match the schema are refused */
	make_schema(&r);
	fields.len = 0;
	evpack_put_u64(&fields, 300); /* a string length past the end */
	type[0] = 0;
	delta[0] = 0;
	cpu[0] = 0;
	{
		struct bytebuf z = { 0 };
		Netrv__EventType one = NETRV__EVENT_TYPE__INIT;
		Netrv__Field f = NETRV__FIELD__INIT;
		Netrv__Field *fp = &f;
		const Netrv__EventType *tp = &one;

		f.kind = NETRV__FIELD_KIND__FIELD_STRING;
		one.n_fields = 1;
		one.fields = &fp;
		errno = 0;
		CHECK(colpack_encode(cp, &tp, 1, 1, delta, type, cpu,
				     fields.data, fields.len, &z) == -1 &&
		      errno == EBADMSG);
		type[0] = 1; /* no such type */
		CHECK(colpack_encode(cp, &tp, 1, 1, delta, type, cpu,
				     fields.data, fields.len, &z) == -1 &&
		      errno == EBADMSG);
		bytebuf_release(&z);
	}
out:
	bytebuf_release(&fields);
	colpack_destroy(cp);
}

/* Damaged column data (re-compressed, so zstd cannot notice). */
static void test_damaged(void)
{
	struct colpack *cp = colpack_create(1);
	struct bytebuf fields = { 0 }, z = { 0 }, bad = { 0 };
	uint64_t delta[50], counter = 0;
	uint32_t type[50], cpu[50];
	static uint8_t plain[1 << 16], copy[1 << 16];
	size_t plen;
	struct rschema r;
	const Netrv__EventType *const *types;
	int refused = 0, accepted = 0;
	char err[128];

	REQUIRE(cp);
	do
		make_schema(&r);
	while (!r.types[0]->n_fields);
	types = (const Netrv__EventType *const *)r.types;
	for (size_t i = 0; i < 50; i++) {
		delta[i] = i;
		type[i] = 0;
		cpu[i] = 1;
		for (size_t f = 0; f < types[0]->n_fields; f++)
			put_random(&fields, types[0]->fields[f], &counter);
	}
	REQUIRE(!colpack_encode(cp, types, r.n_types, 50, delta, type, cpu,
				fields.data, fields.len, &z));
	plen = ZSTD_decompress(plain, sizeof(plain), z.data, z.len);
	REQUIRE(!ZSTD_isError(plen));
	REQUIRE(!bytebuf_reserve(&bad, ZSTD_compressBound(sizeof(plain))));
	for (int round = 0; round < 3000; round++) {
		size_t clen = plen;
		Netrv__Batch *c;
		int ret;

		memcpy(copy, plain, plen);
		if (round % 5 == 0)
			clen = rnd() % plen; /* truncated */
		else
			copy[rnd() % plen] ^= (uint8_t)(1 + rnd() % 255);
		bad.len = ZSTD_compress(bad.data, bad.cap, copy, clen, 1);
		REQUIRE(!ZSTD_isError(bad.len));
		c = columns_batch(&bad);
		ret = colpack_expand_batch(cp, c, types, r.n_types, err,
					   sizeof(err));
		if (ret) {
			refused++;
			CHECK(errno == EBADMSG && c->columns_zstd.len &&
			      !c->n_time_delta && !strncmp(err, "columns", 7));
		} else {
			accepted++;
			CHECK(c->n_time_delta == c->n_event_type &&
			      c->n_cpu == c->n_event_type &&
			      !c->columns_zstd.len);
		}
		netrv__batch__free_unpacked(c, NULL);
	}
	CHECK(refused > 0);
	printf("damaged: %d refused, %d accepted (a flipped value)\n", refused,
	       accepted);
	/* not zstd at all */
	{
		struct bytebuf junk = { (uint8_t *)"not zstd", 8, 8 };
		Netrv__Batch *c = columns_batch(&junk);

		CHECK(colpack_expand_batch(cp, c, types, r.n_types, err,
					   sizeof(err)) == -1 &&
		      errno == EBADMSG);
		netrv__batch__free_unpacked(c, NULL);
	}
out:
	bytebuf_release(&fields);
	bytebuf_release(&z);
	bytebuf_release(&bad);
	colpack_destroy(cp);
}

int main(int argc, char **argv)
{
	(void)argc;
	test_capture(COLPACK_DATA "/dlm_batches.bin.gz", 900);
	test_capture(COLPACK_DATA "/flock_batches.bin.gz", 2000);
	test_random();
	test_damaged();
	return check_summary(argv[0]);
}
