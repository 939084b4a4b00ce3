// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * subbuf_parse - what walking a sub-buffer costs per record: kbuffer
 * (libtraceevent, the calls trace.c made before subbuf.c) against the
 * agent's own parser (agent/subbuf.c), on the real sub-buffers the unit
 * test uses (tests/agent/data/subbufs.bin.gz).
 *
 *   subbuf_parse [--passes N]
 *
 * Prints ns/record for each, the best of five timed rounds (wall clock:
 * noisy on a shared machine, the best round the least).  Asserts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <traceevent/kbuffer.h>
#include <zlib.h>

#include "agent.h"

#define PAGE 4096
#define MAX_PAGES 256

static uint8_t pages[MAX_PAGES][PAGE];
static int n_pages;
static volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* the per-record calls of trace.c's take_subbuf() before subbuf.c */
static uint64_t walk_kbuffer(struct kbuffer *kb, long *recs)
{
	uint64_t sum = 0;

	for (int i = 0; i < n_pages; i++) {
		unsigned long long ts;
		void *d;

		kbuffer_load_subbuffer(kb, pages[i]);
		sum += (uint64_t)kbuffer_missed_events(kb);
		for (d = kbuffer_read_event(kb, &ts);
		     d && (uint32_t)kbuffer_curr_index(kb) < PAGE;
		     d = kbuffer_next_event(kb, &ts)) {
			sum += ts + (uint64_t)kbuffer_event_size(kb) +
			       *(uint8_t *)d;
			(*recs)++;
		}
	}
	return sum;
}

static uint64_t walk_subbuf(long *recs)
{
	uint64_t sum = 0;

	for (int i = 0; i < n_pages; i++) {
		struct subbuf_iter it;
		struct subbuf_rec r;

		if (subbuf_load(&it, pages[i], PAGE))
			continue;
		sum += (uint64_t)it.missed;
		while (subbuf_next(&it, &r) && r.off < PAGE) {
			sum += r.ts + r.len + r.data[0];
			(*recs)++;
		}
	}
	return sum;
}

int main(int argc, char **argv)
{
	gzFile g = gzopen(SUBBUF_DATA "/subbufs.bin.gz", "rb");
	struct kbuffer *kb = kbuffer_alloc(KBUFFER_LSIZE_SAME_AS_HOST,
					   KBUFFER_ENDIAN_SAME_AS_HOST);
	long passes = 2000;
	uint32_t len;
	double best[2] = { 1e9, 1e9 };
	long recs[2] = { 0, 0 };

	if (argc == 3 && !strcmp(argv[1], "--passes"))
		passes = atol(argv[2]);
	if (!g || !kb) {
		fprintf(stderr, "subbuf_parse: cannot open the data\n");
		return 1;
	}
	while (n_pages < MAX_PAGES && gzread(g, &len, 4) == 4 && len <= PAGE &&
	       gzread(g, pages[n_pages], len) == (int)len)
		n_pages++;
	gzclose(g);
	for (int round = 0; round < 5; round++) {
		for (int k = 0; k < 2; k++) {
			double t0 = now(), dt;

			recs[k] = 0;
			for (long p = 0; p < passes; p++)
				sink += k ? walk_subbuf(&recs[k]) :
					    walk_kbuffer(kb, &recs[k]);
			dt = now() - t0;
			if (dt / recs[k] < best[k])
				best[k] = dt / recs[k];
		}
	}
	kbuffer_free(kb);
	printf("%d sub-buffers, %ld records per pass, %ld passes\n", n_pages,
	       recs[1] / passes, passes);
	printf("kbuffer   %6.2f ns/record\n", best[0] * 1e9);
	printf("subbuf.c  %6.2f ns/record\n", best[1] * 1e9);
	return recs[0] != recs[1];
}
