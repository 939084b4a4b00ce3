// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_subbuf.c - the agent's sub-buffer parser against kbuffer.
 *
 * kbuffer (libtraceevent) is the reference: every sub-buffer is walked by
 * both, and each record's offset, time stamp, payload pointer and length
 * and the missed-events count must agree.  The sub-buffers are real ones
 * from this machine's tracefs (data/subbufs.bin.gz, made by
 * data/capture_subbufs.py), hand-made ones for every record kind with
 * their expected stamps worked out here, and random valid ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <traceevent/kbuffer.h>
#include <zlib.h>

#include "agent.h"
#include "check.h"

#define PAGE 4096
#define HDR 16

struct seen {
	size_t recs, extends, stamps, pads, len0, missed_stored, missed_unknown;
};

/*
 * Walk @page with both parsers.  @trunc: the offset where ours must report
 * a truncated record (kbuffer reads on past the commit there), or
 * UINT32_MAX for none.
 * Return: the records both gave, or -1 after a failed check.
 */
static long compare(struct kbuffer *kb, uint8_t *page, uint32_t trunc)
{
	struct subbuf_iter it;
	struct subbuf_rec r;
	unsigned long long ts;
	void *data;
	long n = 0;

	REQUIRE(kbuffer_load_subbuffer(kb, page) == 0);
	REQUIRE(subbuf_load(&it, page, PAGE) == 0);
	/*
	 * kbuffer reports the count only while its cursor is at byte 0: not
	 * when the sub-buffer opens with a time extend or stamp.  Ours always
	 * does (the hand-made cases check it against the header).
	 */
	if (kbuffer_curr_index(kb) == 0)
		CHECK_INT(it.missed, kbuffer_missed_events(kb));
	else
		CHECK_INT(kbuffer_missed_events(kb), 0);
	for (data = kbuffer_read_event(kb, &ts); data;
	     data = kbuffer_next_event(kb, &ts)) {
		uint32_t off = (uint32_t)kbuffer_curr_index(kb);

		if (off >= trunc)
			break;
		REQUIRE(subbuf_next(&it, &r));
		if (!CHECK(r.off == off && r.ts == ts &&
			   r.data == (uint8_t *)data &&
			   r.len == (uint32_t)kbuffer_event_size(kb))) {
			fprintf(stderr,
				"  record %ld: ours off %u ts %llu len %u, kbuffer off %u ts %llu len %d\n",
				n, r.off, (unsigned long long)r.ts, r.len, off,
				ts, kbuffer_event_size(kb));
			return -1;
		}
		n++;
	}
	CHECK(!subbuf_next(&it, &r));
	if (trunc == UINT32_MAX) {
		CHECK(!it.truncated);
	} else {
		CHECK(it.truncated);
		CHECK_INT(it.next, trunc);
	}
	return n;
out:
	return -1;
}

/* What the real sub-buffer holds, by our parser's own walk of headers. */
static void census(const uint8_t *page, struct seen *s)
{
	uint64_t commit;
	uint32_t size, off = 0;

	memcpy(&commit, page + 8, 8);
	size = commit & ((1u << 27) - 1);
	if (commit & (1ULL << 31)) {
		if (commit & (1ULL << 30))
			s->missed_stored++;
		else
			s->missed_unknown++;
	}
	while (off + 4 <= size) {
		uint32_t h, a = 0, type;

		memcpy(&h, page + HDR + off, 4);
		type = h & 31;
		if (off + 8 <= size)
			memcpy(&a, page + HDR + off + 4, 4);
		if (type == 0) {
			s->len0++;
			off += 4 + ((a + 3) & ~3u);
		} else if (type <= 28) {
			off += 4 + type * 4;
		} else if (type == 29) {
			s->pads++;
			off += 4 + a;
		} else {
			s->extends += type == 30;
			s->stamps += type == 31;
			off += 8;
		}
	}
}

static void test_captured(struct kbuffer *kb)
{
	gzFile g = gzopen(COLPACK_DATA "/subbufs.bin.gz", "rb");
	struct seen s = { 0 };
	size_t pages = 0;
	uint8_t *page = calloc(1, PAGE);

	REQUIRE(g && page);
	for (;;) {
		uint32_t len;
		long n;

		if (gzread(g, &len, 4) != 4)
			break;
		REQUIRE(len >= HDR && len <= PAGE);
		memset(page, 0, PAGE);
		REQUIRE(gzread(g, page, len) == (int)len);
		n = compare(kb, page, UINT32_MAX);
		REQUIRE(n >= 0);
		s.recs += (size_t)n;
		census(page, &s);
		pages++;
	}
	printf("captured: %zu sub-buffers, %zu records, %zu time extends, %zu with length words, %zu padding, missed: %zu stored, %zu unknown\n",
	       pages, s.recs, s.extends, s.len0, s.pads, s.missed_stored,
	       s.missed_unknown);
	/* the capture has what it was made for */
	CHECK(pages >= 10 && s.recs >= 500);
	CHECK(s.extends > 0 && s.len0 > 0);
	CHECK(s.missed_stored + s.missed_unknown > 0);
out:
	free(page);
	if (g)
		gzclose(g);
}

/* --- hand-made sub-buffers --------------------------------------------- */

struct page {
	uint8_t b[PAGE];
	uint32_t len; /* data bytes written */
};

static void put32(struct page *p, uint32_t v)
{
	memcpy(p->b + HDR + p->len, &v, 4);
	p->len += 4;
}

static void page_init(struct page *p, uint64_t stamp)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->b, &stamp, 8);
}

/* a data record of @len bytes (filled with @fill) */
static void put_data(struct page *p, uint32_t delta, uint32_t len, uint8_t fill)
{
	if (len && len <= 112 && len % 4 == 0) {
		put32(p, (delta << 5) | (len / 4));
	} else {
		put32(p, delta << 5);
		put32(p, len + 4);
		len = (len + 3) & ~3u;
	}
	memset(p->b + HDR + p->len, fill, len);
	p->len += len;
}

static void put_ext(struct page *p, uint32_t type, uint64_t v)
{
	put32(p, ((uint32_t)(v & ((1u << 27) - 1)) << 5) | type);
	put32(p, (uint32_t)(v >> 27));
}

/* a discarded record (padding with a delta) of @len data bytes */
static void put_discard(struct page *p, uint32_t delta, uint32_t len)
{
	put32(p, (delta << 5) | 29);
	put32(p, len + 4);
	memset(p->b + HDR + p->len, 0xdd, len);
	p->len += len;
}

static void page_commit(struct page *p, int64_t missed, bool store)
{
	uint64_t commit = p->len;

	if (missed) {
		commit |= 1ULL << 31;
		if (store)
			commit |= 1ULL << 30;
		if (store && p->len + 8 <= PAGE - HDR)
			memcpy(p->b + HDR + p->len, &missed, 8);
	}
	memcpy(p->b + 8, &commit, 8);
}

static void test_kinds(struct kbuffer *kb)
{
	static struct page p;
	struct subbuf_iter it;
	struct subbuf_rec r;
	const uint64_t base = 1000000;
	uint32_t at;

	/* every kind, expected stamps worked out by hand */
	page_init(&p, base);
	put_data(&p, 5, 8, 1); /* base + 5 */
	put_ext(&p, 30, 3ULL << 27 | 7); /* + 3 << 27 | 7 */
	put_data(&p, 1, 200, 2); /* type_len 0: 200 bytes */
	put_discard(&p, 10, 24); /* + 10, no record */
	put_data(&p, 2, 13, 3); /* type_len 0, 13 rounded to 16 */
	put_ext(&p, 31, 5ULL << 40 | 123); /* absolute */
	put_data(&p, 0, 112, 4);
	at = p.len;
	put32(&p, 29); /* end-of-page padding, no delta */
	put32(&p, PAGE - HDR - at - 4);
	page_commit(&p, 7, true);
	CHECK_INT(compare(kb, p.b, UINT32_MAX), 4);
	REQUIRE(subbuf_load(&it, p.b, PAGE) == 0);
	CHECK_INT(it.missed, 7);
	REQUIRE(subbuf_next(&it, &r));
	CHECK(r.ts == base + 5 && r.len == 8 && r.off == 0 && r.data[0] == 1);
	REQUIRE(subbuf_next(&it, &r));
	CHECK(r.ts == base + 5 + (3ULL << 27 | 7) + 1 && r.len == 200 &&
	      r.off == 20 && r.data[199] == 2);
	REQUIRE(subbuf_next(&it, &r));
	CHECK(r.ts == base + 5 + (3ULL << 27 | 7) + 1 + 10 + 2 && r.len == 16);
	REQUIRE(subbuf_next(&it, &r));
	CHECK(r.ts == (5ULL << 40 | 123) && r.len == 112 && r.data[0] == 4);
	CHECK(!subbuf_next(&it, &r) && !it.truncated);

	/* missed events, count not stored; the absolute stamp's top bits */
	page_init(&p, 0xa8ULL << 56 | 99);
	put_ext(&p, 31, 1ULL << 58 | 77);
	put_data(&p, 3, 4, 5);
	page_commit(&p, 12, false);
	CHECK_INT(compare(kb, p.b, UINT32_MAX), 1);
	REQUIRE(subbuf_load(&it, p.b, PAGE) == 0);
	CHECK_INT(it.missed, -1);
	REQUIRE(subbuf_next(&it, &r));
	CHECK(r.ts == (0xa8ULL << 56 | 1ULL << 58 | 80));

	/* a truncated tail: the last record's data runs past the commit */
	page_init(&p, base);
	put_data(&p, 1, 16, 6);
	put_data(&p, 1, 40, 7);
	at = p.len;
	put_data(&p, 1, 60, 8);
	p.len -= 20;
	page_commit(&p, 0, false);
	CHECK_INT(compare(kb, p.b, at), 2);
	/* the same with a length word cut off */
	page_init(&p, base);
	put_data(&p, 1, 16, 6);
	at = p.len;
	put32(&p, 1 << 5);
	page_commit(&p, 0, false);
	CHECK_INT(compare(kb, p.b, at), 1);
	/* and a time extend */
	page_init(&p, base);
	put_data(&p, 1, 16, 6);
	at = p.len;
	put32(&p, 30);
	page_commit(&p, 0, false);
	CHECK_INT(compare(kb, p.b, at), 1);

	/* an empty sub-buffer, a full one, bad headers */
	page_init(&p, base);
	page_commit(&p, 3, true);
	CHECK_INT(compare(kb, p.b, UINT32_MAX), 0);
	page_init(&p, base);
	while (p.len + 4 + 64 <= PAGE - HDR)
		put_data(&p, 1, 64, 9);
	page_commit(&p, 3, true); /* flagged stored, but no room for it */
	REQUIRE(subbuf_load(&it, p.b, PAGE) == 0);
	CHECK_INT(it.missed, -1);
	page_commit(&p, 0, false);
	CHECK_INT(compare(kb, p.b, UINT32_MAX), (PAGE - HDR) / 68);
	p.len = PAGE - HDR + 4;
	page_commit(&p, 0, false);
	errno = 0;
	CHECK(subbuf_load(&it, p.b, PAGE) < 0 && errno == EPROTO);
	CHECK(subbuf_load(&it, p.b, 15) < 0 && errno == EPROTO);
out:
	return;
}

/* Random valid sub-buffers of every kind, against kbuffer. */
static void test_random(struct kbuffer *kb)
{
	static struct page p;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	long total = 0;

	for (int i = 0; i < 3000; i++) {
		long n;

		page_init(&p, (x >> 8) & ((1ULL << 59) - 1));
		for (;;) {
			uint32_t k, len;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			k = x % 16;
			len = (uint32_t)(x >> 20) % 300;
			if (p.len + 8 + 320 + 8 > PAGE - HDR || k == 15)
				break;
			if (k < 10)
				put_data(&p, (uint32_t)(x >> 40) & 0x7ffffff,
					 len, (uint8_t)k);
			else if (k == 10)
				put_ext(&p, 30, (x >> 30) & ((1ULL << 59) - 1));
			else if (k == 11)
				put_ext(&p, 31, (x >> 8) & ((1ULL << 59) - 1));
			else if (k == 12)
				put_discard(&p, (uint32_t)(x >> 40) & 0xffff,
					    len & ~3u);
			else
				put_data(&p, 0, 4 * (1 + len % 28), 0xee);
		}
		page_commit(&p, (int64_t)(x % 3 ? 0 : x % 1000), (x >> 3) % 2);
		n = compare(kb, p.b, UINT32_MAX);
		REQUIRE(n >= 0);
		total += n;
	}
	printf("random: 3000 sub-buffers, %ld records\n", total);
	CHECK(total > 30000);
out:
	return;
}

int main(int argc, char **argv)
{
	struct kbuffer *kb = kbuffer_alloc(KBUFFER_LSIZE_SAME_AS_HOST,
					   KBUFFER_ENDIAN_SAME_AS_HOST);

	(void)argc;
	if (!kb)
		return 1;
	test_captured(kb);
	test_kinds(kb);
	test_random(kb);
	kbuffer_free(kb);
	return check_summary(argv[0]);
}
