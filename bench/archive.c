// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench/archive.c - how fast the archive writes, and how big it is.
 *
 *   bench_archive [-n EVENTS] [-d DIR] [-p PACKET_BYTES] [-k]
 *
 * Events come from tests/archive/gen.h (flock, dlm with res_name, exec with
 * a file name; 3-4 nodes; clock changes, ties, late events), generated once
 * into memory and replayed with shifted times, so the figure is the
 * writer's cost: events/s per core (process CPU time) and per wall second
 * (including the final fsync), and bytes per event on disk.  DIR defaults
 * to a fresh directory under /tmp, removed at the end unless -k.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "archive.h"
#include "gen.h"

#define POOL 50000

struct pre {
	struct cevent ev;
	struct evpack_value vals[GEN_MAX_FIELDS];
	uint8_t bytes[GEN_MAX_FIELDS][96];
};

static double now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	struct archive_options o = { 0 };
	uint64_t n = 10000000, i, span;
	struct archive_stats st;
	struct archive *ar;
	double c0, w0, c1, w1;
	struct pre *pool;
	char dir[256] = "";
	bool keep = false;
	struct gen g;
	size_t k = 0;
	int opt;

	while ((opt = getopt(argc, argv, "n:d:p:k")) != -1) {
		switch (opt) {
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		case 'p':
			o.packet_bytes = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-n EVENTS] [-d DIR] "
				"[-p PACKET_BYTES] [-k]\n",
				argv[0]);
			return 2;
		}
	}
	if (!*dir)
		snprintf(dir, sizeof(dir), "/tmp/netrv-bench-archive-%d",
			 getpid());
	pool = calloc(POOL, sizeof(*pool));
	if (!pool)
		return 1;
	gen_init(&g, 42);
	while (k < POOL) {
		struct pre *p = &pool[k];
		size_t f;

		if (gen_next(&g) != GK_EVENT)
			continue;
		p->ev = g.ev;
		for (f = 0; f < g.ev.type->n_fields; f++) {
			p->vals[f] = g.vals[f];
			if (g.vals[f].len) {
				memcpy(p->bytes[f], g.vals[f].bytes,
				       g.vals[f].len);
				p->vals[f].bytes = p->bytes[f];
			}
		}
		p->ev.vals = p->vals;
		k++;
	}
	span = g.t - pool[0].ev.tai_ns + 1000;

	o.dir = dir;
	ar = archive_open(&o);
	if (!ar)
		return 1;
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	w0 = now(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++) {
		struct pre *p = &pool[i % POOL];

		if (i && i % POOL == 0) {
			for (k = 0; k < POOL; k++) {
				pool[k].ev.tai_ns += span;
				pool[k].ev.trace_ns += span;
			}
		}
		if (archive_write_event(ar, &p->ev))
			return 1;
	}
	if (archive_flush(ar))
		return 1;
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	archive_get_stats(ar, &st);
	if (archive_close(ar))
		return 1;
	w1 = now(CLOCK_MONOTONIC);
	printf("archive: %" PRIu64 " events, %" PRIu64 " packets, %" PRIu64
	       " bytes in %s\n",
	       st.events, st.packets, st.bytes, dir);
	printf("archive: %.2f M events/s per core (%.3f s CPU), "
	       "%.2f M events/s wall incl. fsync (%.3f s)\n",
	       (double)n / (c1 - c0) / 1e6, c1 - c0,
	       (double)n / (w1 - w0) / 1e6, w1 - w0);
	printf("archive: %.1f bytes per event on disk\n",
	       (double)st.bytes / (double)n);
	if (!keep) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	free(pool);
	return st.events == n ? 0 : 1;
}
