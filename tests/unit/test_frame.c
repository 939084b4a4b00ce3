// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_frame.c - the frame decoder against a stream built by the encoder:
 * every split point, random chunkings, oversize refused before allocation,
 * truncation, bad headers, garbage, and protobuf round trips.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frame.h"
#include "msg.h"

/* Allocation counter for the decoder (linked with --wrap=realloc). */
static size_t big_reallocs;
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n)
{
	if (n > 1024 * 1024)
		big_reallocs++;
	return __real_realloc(p, n);
}

struct stream {
	uint8_t *data;
	size_t len;
	int n_frames;
	enum frame_type types[16];
	uint32_t lens[16];
	size_t offsets[16]; /* payload offset of each frame in data */
};

static void stream_add(struct stream *s, enum frame_type t, uint32_t len,
		       unsigned int seed)
{
	s->data = realloc(s->data, s->len + FRAME_HEADER_SIZE + len);
	frame_header_put(s->data + s->len, t, len);
	for (uint32_t i = 0; i < len; i++)
		s->data[s->len + FRAME_HEADER_SIZE + i] =
			(uint8_t)(seed + i * 7);
	s->types[s->n_frames] = t;
	s->lens[s->n_frames] = len;
	s->offsets[s->n_frames] = s->len + FRAME_HEADER_SIZE;
	s->n_frames++;
	s->len += FRAME_HEADER_SIZE + len;
}

/* Feed @s in chunks whose ends are @cuts; check every frame comes out. */
static int decode_split(const struct stream *s, const size_t *cuts, int ncuts)
{
	struct frame_decoder *dec = frame_decoder_create(FRAME_DEFAULT_MAX);
	size_t pos = 0;
	int got = 0, ok = 1;

	for (int c = 0; c <= ncuts && ok; c++) {
		size_t end = c < ncuts ? cuts[c] : s->len;

		while (pos < end && ok) {
			struct frame f;
			size_t used;
			enum frame_status st = frame_decoder_feed(
				dec, s->data + pos, end - pos, &used, &f);

			pos += used;
			if (st == FRAME_NEED_MORE)
				break;
			if (st != FRAME_OK || got >= s->n_frames ||
			    f.type != s->types[got] || f.len != s->lens[got] ||
			    memcmp(f.payload, s->data + s->offsets[got],
				   f.len)) {
				ok = 0;
				break;
			}
			got++;
		}
	}
	if (ok && (got != s->n_frames || frame_decoder_finish(dec) != FRAME_OK))
		ok = 0;
	frame_decoder_destroy(dec);
	return ok;
}

static void test_every_split(void)
{
	struct stream s = { 0 };
	int bad = 0;

	stream_add(&s, FRAME_HELLO, 0, 1);
	stream_add(&s, FRAME_BATCH, 37, 2);
	stream_add(&s, FRAME_ACK, 1, 3);
	stream_add(&s, FRAME_SCHEMA, 300, 4);
	stream_add(&s, FRAME_GOODBYE, 9, 5);

	/* one cut anywhere, and two cuts anywhere */
	for (size_t a = 0; a <= s.len; a++) {
		if (!decode_split(&s, &a, 1))
			bad++;
		for (size_t b = a; b <= s.len; b += 3) {
			size_t cuts[2] = { a, b };

			if (!decode_split(&s, cuts, 2))
				bad++;
		}
	}
	/* byte by byte */
	{
		size_t *cuts = malloc(s.len * sizeof(*cuts));

		for (size_t i = 0; i < s.len; i++)
			cuts[i] = i + 1;
		CHECK(decode_split(&s, cuts, (int)s.len));
		free(cuts);
	}
	/* random chunkings */
	srandom(42);
	for (int r = 0; r < 2000; r++) {
		size_t cuts[8];
		int n = 1 + random() % 8;

		cuts[0] = random() % (s.len + 1);
		for (int i = 1; i < n; i++)
			cuts[i] = cuts[i - 1] +
				  random() % (s.len - cuts[i - 1] + 1);
		if (!decode_split(&s, cuts, n))
			bad++;
	}
	CHECK_INT(bad, 0);
	free(s.data);
}

static enum frame_status feed_all(struct frame_decoder *dec, const uint8_t *p,
				  size_t len, size_t *total)
{
	enum frame_status st = FRAME_NEED_MORE;
	struct frame f;
	size_t used;

	*total = 0;
	while (*total < len) {
		st = frame_decoder_feed(dec, p + *total, len - *total, &used,
					&f);
		*total += used;
		if (st != FRAME_OK && st != FRAME_NEED_MORE)
			break;
	}
	return st;
}

static void test_oversize_before_alloc(void)
{
	static const uint32_t lens[] = { 4097, 0x7fffffff, 0xffffffff };

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct frame_decoder *dec = frame_decoder_create(4096);
		uint8_t hdr[FRAME_HEADER_SIZE + 16] = { 0 };
		struct frame f;
		size_t used;

		frame_header_put(hdr, FRAME_BATCH, lens[i]);
		big_reallocs = 0;
		/* whole header at once, and split in the header */
		CHECK_INT(frame_decoder_feed(dec, hdr, sizeof(hdr), &used, &f),
			  FRAME_ERR_OVERSIZE);
		CHECK(used <= FRAME_HEADER_SIZE);
		CHECK_INT(frame_decoder_finish(dec), FRAME_ERR_OVERSIZE);
		frame_decoder_destroy(dec);

		dec = frame_decoder_create(4096);
		CHECK_INT(frame_decoder_feed(dec, hdr, 5, &used, &f),
			  FRAME_NEED_MORE);
		CHECK_INT(frame_decoder_feed(dec, hdr + 5, 10, &used, &f),
			  FRAME_ERR_OVERSIZE);
		CHECK_INT(big_reallocs, 0);
		frame_decoder_destroy(dec);
	}
	/* the hard ceiling cannot be raised */
	CHECK(frame_decoder_create(FRAME_HARD_MAX + 1) == NULL);
	CHECK_INT(errno, EINVAL);
}

static void test_bad_headers(void)
{
	static const struct {
		uint8_t hdr[FRAME_HEADER_SIZE];
		enum frame_status want;
	} cases[] = {
		{ { 'X', 'R', 1, 1, 0, 0, 0, 0 }, FRAME_ERR_MAGIC },
		{ { 'N', 'r', 1, 1, 0, 0, 0, 0 }, FRAME_ERR_MAGIC },
		{ { 'N', 'R', 2, 1, 0, 0, 0, 0 }, FRAME_ERR_VERSION },
		{ { 'N', 'R', 0, 1, 0, 0, 0, 0 }, FRAME_ERR_VERSION },
		{ { 'N', 'R', 1, 0, 0, 0, 0, 0 }, FRAME_ERR_TYPE },
		{ { 'N', 'R', 1, FRAME_TYPE_MAX, 0, 0, 0, 0 }, FRAME_ERR_TYPE },
		{ { 'N', 'R', 1, 1, 0, 0, 0, 0 }, FRAME_OK },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct frame_decoder *dec = frame_decoder_create(64);
		size_t used;
		enum frame_status st =
			feed_all(dec, cases[i].hdr, FRAME_HEADER_SIZE, &used);

		CHECK_INT(st, cases[i].want);
		/* errors are sticky: more input changes nothing */
		if (st != FRAME_OK) {
			struct frame f;

			CHECK_INT(frame_decoder_feed(dec, cases[i].hdr, 8,
						     &used, &f),
				  cases[i].want);
			CHECK_INT(used, 0);
		}
		CHECK(strlen(frame_status_str(st)) > 0);
		frame_decoder_destroy(dec);
	}
}

static void test_truncated(void)
{
	struct stream s = { 0 };

	stream_add(&s, FRAME_BATCH, 100, 9);
	for (size_t cut = 1; cut < s.len; cut++) {
		struct frame_decoder *dec = frame_decoder_create(1000);
		size_t used;

		CHECK_INT(feed_all(dec, s.data, cut, &used), FRAME_NEED_MORE);
		CHECK_INT(frame_decoder_finish(dec), FRAME_ERR_TRUNCATED);
		frame_decoder_destroy(dec);
	}
	free(s.data);
}

static void test_garbage(void)
{
	uint8_t buf[4096];
	int errors = 0;

	srandom(7);
	for (int r = 0; r < 500; r++) {
		struct frame_decoder *dec = frame_decoder_create(512);
		size_t len = random() % sizeof(buf), used;

		for (size_t i = 0; i < len; i++)
			buf[i] = random();
		/* half the time, start with a valid-looking header */
		if (r & 1 && len >= FRAME_HEADER_SIZE)
			frame_header_put(buf, 1 + random() % 7,
					 random() % 1024);
		if (feed_all(dec, buf, len, &used) > FRAME_NEED_MORE)
			errors++;
		frame_decoder_destroy(dec);
	}
	CHECK(errors > 0); /* random bytes are refused, not crashed on */
}

static void test_msg_round_trip(void)
{
	uint64_t deltas[] = { 0, 5, 1000000 };
	uint32_t types[] = { 1, 2, 1 }, cpus[] = { 0, 1, 0 };
	uint8_t fields[] = { 1, 2, 3, 4 }, buf[1024];
	Netrv__Batch b = NETRV__BATCH__INIT, *got = NULL;
	Netrv__ClockStatus cs = NETRV__CLOCK_STATUS__INIT;
	struct frame_decoder *dec = frame_decoder_create(1024);
	struct frame f;
	size_t used;
	long n;

	cs.tai_offset_ns = -37;
	cs.epsilon_ns = 1500;
	b.seq = 77;
	b.base_ns = 1800000000000000000ULL;
	b.n_time_delta = 3;
	b.time_delta = deltas;
	b.n_event_type = 3;
	b.event_type = types;
	b.n_cpu = 3;
	b.cpu = cpus;
	b.fields.len = sizeof(fields);
	b.fields.data = fields;
	b.clock = &cs;

	n = msg_pack(FRAME_BATCH, &b.base, buf, sizeof(buf));
	REQUIRE(n == (long)msg_frame_size(&b.base));
	CHECK(msg_pack(FRAME_HELLO, &b.base, buf, sizeof(buf)) == -1);
	CHECK(msg_pack(FRAME_BATCH, &b.base, buf, 10) == -1);
	REQUIRE(frame_decoder_feed(dec, buf, n, &used, &f) == FRAME_OK);
	CHECK_INT(used, n);
	got = (Netrv__Batch *)msg_unpack(&f, NULL);
	REQUIRE(got);
	CHECK_INT(got->seq, 77);
	CHECK(got->base_ns == b.base_ns);
	CHECK_INT(got->n_time_delta, 3);
	CHECK_INT(got->time_delta[2], 1000000);
	CHECK_INT(got->event_type[1], 2);
	CHECK_INT(got->fields.len, 4);
	CHECK_INT(got->clock->tai_offset_ns, -37);
	CHECK_INT(got->clock->epsilon_ns, 1500);

	/* a corrupt payload is refused by the message layer */
	{
		struct frame bad = f;
		uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff };

		bad.payload = junk;
		bad.len = sizeof(junk);
		CHECK(msg_unpack(&bad, NULL) == NULL);
	}
out:
	if (got)
		protobuf_c_message_free_unpacked(&got->base, NULL);
	frame_decoder_destroy(dec);
}

int main(int argc, char **argv)
{
	test_every_split();
	test_oversize_before_alloc();
	test_bad_headers();
	test_truncated();
	test_garbage();
	test_msg_round_trip();
	return check_summary("test_frame");
}
