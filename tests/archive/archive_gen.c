// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * archive_gen.c - drives the archive writer with gen.h's stream, for the
 * shell tests that read archives with babeltrace2, kill a writer, export.
 *
 *   archive_gen write DIR SEED N CHUNK_BYTES EXPECT
 *       write N records; EXPECT gets, one JSON object per line, what a
 *       CTF reader must show (name, stamp, node context, fields), and a
 *       last line of counts {"events":..,"holds":..,"verdicts":..}
 *   archive_gen crash DIR SEED
 *       write until killed (at most 60 s): after every 1000 records,
 *       archive_flush() and print the number of records written so far
 *   archive_gen check PATH SEED MIN
 *       read PATH (archive or one chunk) with netrv's reader: the stream
 *       of SEED, complete up to record MIN, whole packets after; print
 *       the number of records read
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

#include "feed.h"

static void json_str(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(f, "\\%c", p[i]);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			fprintf(f, "\\u%04x", p[i]);
		else
			fputc(p[i], f);
	}
	fputc('"', f);
}

static void json_bytes(FILE *f, const uint8_t *p, size_t len)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < len; i++)
		fprintf(f, "%s%u", i ? "," : "", p[i]);
	fputc(']', f);
}

static void expect_event(FILE *f, const struct cevent *ev, uint64_t stamp)
{
	size_t i;

	fprintf(f, "{\"name\":\"%s:%s\",\"stamp\":%" PRIu64 ",\"node\":",
		ev->type->system, ev->type->name, stamp);
	json_str(f, (const uint8_t *)ev->node->name, strlen(ev->node->name));
	fprintf(f,
		",\"cpu\":%u,\"seq\":%" PRIu64 ",\"index\":%u,"
		"\"eps_ns\":%" PRIu64 ",\"fields\":{",
		ev->cpu, ev->seq, ev->index, ev->eps_ns);
	for (i = 0; i < ev->type->n_fields; i++) {
		const Netrv__Field *fd = ev->type->fields[i];

		fprintf(f, "%s\"%s\":", i ? "," : "", fd->name);
		if (fd->kind == NETRV__FIELD_KIND__FIELD_STRING)
			json_str(f, ev->vals[i].bytes, ev->vals[i].len);
		else if (fd->kind == NETRV__FIELD_KIND__FIELD_BYTES)
			json_bytes(f, ev->vals[i].bytes, ev->vals[i].len);
		else if (fd->is_signed)
			fprintf(f, "%" PRId64, ev->vals[i].s);
		else
			fprintf(f, "%" PRIu64, ev->vals[i].u);
	}
	fprintf(f, "}}\n");
}

static void expect(FILE *f, const struct gen *g, uint64_t *last, bool *any,
		   uint64_t *wm)
{
	uint64_t stamp;

	if (g->kind == GK_EVENT) {
		stamp = *any && g->ev.tai_ns < *last ? *last : g->ev.tai_ns;
	} else {
		if (g->kind == GK_WATERMARK && !gen_wm_kept(wm, g->tai))
			return;
		stamp = *any ? *last : g->tai;
	}
	*last = stamp;
	*any = true;
	switch (g->kind) {
	case GK_EVENT:
		expect_event(f, &g->ev, stamp);
		break;
	case GK_VERDICT:
		fprintf(f,
			"{\"name\":\"netrv:verdict\",\"stamp\":%" PRIu64
			",\"fields\":{\"tai_ns\":%" PRIu64 ",\"class\":",
			stamp, g->tai);
		json_str(f, (const uint8_t *)g->vclass, strlen(g->vclass));
		fprintf(f, ",\"resource\":");
		json_bytes(f, g->res, g->res_len);
		fprintf(f, ",\"json\":");
		json_str(f, (const uint8_t *)g->json, strlen(g->json));
		fprintf(f, "}}\n");
		break;
	case GK_LOSS:
		fprintf(f,
			"{\"name\":\"netrv:loss\",\"stamp\":%" PRIu64
			",\"fields\":{\"node\":%u,\"from_tai_ns\":%" PRIu64
			",\"to_tai_ns\":%" PRIu64 ",\"count\":%" PRIu64 "}}\n",
			stamp, g->node->index, g->tai, g->to_tai, g->count);
		break;
	case GK_NODE_STATE:
		fprintf(f,
			"{\"name\":\"netrv:node_state\",\"stamp\":%" PRIu64
			",\"fields\":{\"tai_ns\":%" PRIu64
			",\"node\":%u,\"state\":\"%s\"}}\n",
			stamp, g->tai, g->node->index,
			g->state == CNODE_UP ? "up" : "unreachable");
		break;
	case GK_WATERMARK:
		fprintf(f,
			"{\"name\":\"netrv:watermark\",\"stamp\":%" PRIu64
			",\"fields\":{\"tai_ns\":%" PRIu64 "}}\n",
			stamp, g->tai);
		break;
	}
}

static int do_write(char **argv)
{
	struct archive_options o = { .dir = argv[0] };
	uint64_t seed = strtoull(argv[1], NULL, 0), last = 0, wm = 0;
	long n = strtol(argv[2], NULL, 0), i;
	struct archive *ar;
	bool any = false;
	struct gen g;
	FILE *f;

	o.chunk_bytes = strtoull(argv[3], NULL, 0);
	f = fopen(argv[4], "w");
	ar = archive_open(&o);
	if (!f || !ar) {
		perror("archive_gen write");
		return 1;
	}
	gen_init(&g, seed);
	for (i = 0; i < n; i++) {
		gen_next(&g);
		if (gen_feed(&g, ar))
			return 1;
		expect(f, &g, &last, &any, &wm);
	}
	fprintf(f,
		"{\"events\":%" PRIu64 ",\"holds\":%" PRIu64
		",\"verdicts\":%" PRIu64 ",\"losses\":%" PRIu64 "}\n",
		g.events, g.holds, g.verdicts, g.losses);
	if (archive_close(ar) || fclose(f))
		return 1;
	return 0;
}

static int do_crash(char **argv)
{
	struct archive_options o = { .dir = argv[0], .packet_bytes = 4096 };
	uint64_t seed = strtoull(argv[1], NULL, 0);
	time_t start = time(NULL);
	struct archive *ar;
	struct gen g;
	long i;

	ar = archive_open(&o);
	if (!ar)
		return 1;
	gen_init(&g, seed);
	for (i = 1; time(NULL) - start < 60; i++) {
		gen_next(&g);
		if (gen_feed(&g, ar))
			return 1;
		if (i % 1000 == 0) {
			if (archive_flush(ar))
				return 1;
			printf("%ld\n", i);
			fflush(stdout);
		}
	}
	return 1; /* should have been killed */
}

static int do_check(char **argv)
{
	struct archive_reader *r = archive_reader_open(argv[0]);
	uint64_t seed = strtoull(argv[1], NULL, 0), wm = 0;
	long min = strtol(argv[2], NULL, 0), n = 0, i = 0;
	struct archive_record rec;
	struct gen g;
	int ret;

	if (!r)
		return 1;
	gen_init(&g, seed);
	/*
	 * After kill -9, every record up to the last flush is there; beyond
	 * it, streams hold whole packets written since, so the archive is
	 * a subsequence of the stream with nothing missing up to MIN.
	 */
	while ((ret = archive_reader_next(r, &rec)) > 0) {
		const char *diff;

		n++;
		for (;;) {
			do {
				gen_next(&g);
				i++;
			} while (g.kind == GK_WATERMARK &&
				 !gen_wm_kept(&wm, g.tai));
			diff = gen_same(&g, &rec);
			if (!diff)
				break;
			if (i <= min || i > min + 1000000) {
				fprintf(stderr, "record %ld: %s differs\n", i,
					diff);
				return 1;
			}
		}
	}
	archive_reader_close(r);
	printf("%ld\n", n);
	if (ret < 0 || i < min) {
		fprintf(stderr, "read up to record %ld (want >= %ld), ret %d\n",
			i, min, ret);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "write"))
		return do_write(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "crash"))
		return do_crash(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "check"))
		return do_check(argv + 2);
	fprintf(stderr, "usage: see the comment at the top of archive_gen.c\n");
	return 2;
}
