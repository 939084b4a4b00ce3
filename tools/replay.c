// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * replay.c - `netrv replay ARCHIVE [--model M [--binding B]]...`: rerun
 * monitors over an archived merged trace and print their verdicts.
 *
 * The archive is read in its exact merged order (archive_reader.h) and fed
 * to the monitors of replay_hooks.c like the live merge feeds them.  Each
 * verdict is printed as one JSON line.  --compare checks the replayed
 * verdicts against the ones the live collector archived (same class,
 * resource and time, same order) and fails if they differ.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "replay"
#include "archive_reader.h"
#include "jsonw.h"
#include "log.h"
#include "replay_hooks.h"
#include "tools.h"

#define REPLAY_MAX_MODELS 16

struct vlist {
	char **v;
	size_t n, cap;
};

struct replay {
	struct replay_sink sink;
	bool print_archived, print_replayed, compare;
	struct vlist live, again;
	uint64_t replayed;
};

static void print_verdict(const char *source, uint64_t tai, const char *vclass,
			  const void *res, size_t len, const char *json)
{
	printf("{\"source\":\"%s\",\"tai_ns\":%" PRIu64 ",\"class\":", source,
	       tai);
	jsonw_cstr(stdout, vclass);
	printf(",\"resource\":");
	jsonw_str(stdout, res, len);
	printf(",\"verdict\":");
	jsonw_cstr(stdout, json ? json : "");
	printf("}\n");
}

/* A comparable key: class, time, resource bytes in hex. */
static void vlist_add(struct vlist *l, uint64_t tai, const char *vclass,
		      const uint8_t *res, size_t len)
{
	char *k;
	size_t i, off;

	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		char **nv = realloc(l->v, nc * sizeof(*nv));

		if (!nv)
			return;
		l->v = nv;
		l->cap = nc;
	}
	k = malloc(strlen(vclass) + 2 * len + 48);
	if (!k)
		return;
	off = (size_t)sprintf(k, "%s@%" PRIu64 ":", vclass, tai);
	for (i = 0; i < len; i++)
		off += (size_t)sprintf(k + off, "%02x", res[i]);
	l->v[l->n++] = k;
}

static void vlist_free(struct vlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void on_verdict(struct replay_sink *s, uint64_t tai, const char *vclass,
		       const void *res, size_t len, const char *json)
{
	struct replay *rp = container_of(s, struct replay, sink);

	rp->replayed++;
	if (rp->print_replayed)
		print_verdict("replay", tai, vclass, res, len, json);
	if (rp->compare)
		vlist_add(&rp->again, tai, vclass, res, len);
}

static void on_record(const struct archive_record *rec, void *arg)
{
	struct replay *rp = arg;

	if (rec->kind != AREC_VERDICT)
		return;
	if (rp->print_archived)
		print_verdict("archive", rec->tai_ns, rec->vclass,
			      rec->resource, rec->resource_len, rec->json);
	if (rp->compare)
		vlist_add(&rp->live, rec->tai_ns, rec->vclass, rec->resource,
			  rec->resource_len);
}

static int compare(const struct replay *rp)
{
	size_t i, n = rp->live.n < rp->again.n ? rp->live.n : rp->again.n;

	for (i = 0; i < n; i++) {
		if (strcmp(rp->live.v[i], rp->again.v[i])) {
			pr_err("verdict %zu differs: archived %s, replayed %s",
			       i + 1, rp->live.v[i], rp->again.v[i]);
			return 3;
		}
	}
	if (rp->live.n != rp->again.n) {
		pr_err("%zu verdicts archived, %zu replayed", rp->live.n,
		       rp->again.n);
		return 3;
	}
	pr_info("replay agrees with the archive: %zu verdicts", n);
	return 0;
}

int tool_replay(int argc, char **argv)
{
	struct replay_model models[REPLAY_MAX_MODELS];
	struct replay rp = { .sink.verdict = on_verdict };
	struct consumer *list = NULL, *c, *next;
	bool lock_engine = true, archived = false;
	struct archive_reader *r;
	const char *path = NULL, *config = NULL;
	size_t n_models = 0;
	long long n;
	int i, status = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--model") && i + 1 < argc) {
			if (n_models == REPLAY_MAX_MODELS) {
				pr_err("at most %d --model options",
				       REPLAY_MAX_MODELS);
				return 2;
			}
			models[n_models].model = argv[++i];
			models[n_models++].binding = NULL;
		} else if (!strcmp(a, "--binding") && i + 1 < argc) {
			if (!n_models) {
				pr_err("--binding belongs to the --model "
				       "before it");
				return 2;
			}
			models[n_models - 1].binding = argv[++i];
		} else if (!strcmp(a, "--config") && i + 1 < argc) {
			config = argv[++i];
		} else if (!strcmp(a, "--no-lock-engine")) {
			lock_engine = false;
		} else if (!strcmp(a, "--archived")) {
			archived = true;
		} else if (!strcmp(a, "--compare")) {
			rp.compare = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			return tool_usage(stdout, 0);
		} else if (a[0] != '-' && !path) {
			path = a;
		} else {
			pr_err("unknown argument '%s'", a);
			return tool_usage(stderr, 2);
		}
	}
	if (!path)
		return tool_usage(stderr, 2);
	if (replay_hooks_create(config, models, n_models, lock_engine, &rp.sink,
				&list))
		return 1;
	rp.print_replayed = true;
	rp.print_archived = archived || !list;
	r = archive_reader_open(path);
	if (!r) {
		status = 1;
		goto out;
	}
	n = archive_replay(r, list, on_record, &rp);
	archive_reader_close(r);
	if (n < 0) {
		status = 1;
		goto out;
	}
	pr_info("%lld records replayed, %" PRIu64 " verdicts from monitors", n,
		rp.replayed);
	if (rp.compare)
		status = compare(&rp);
out:
	for (c = list; c; c = next) {
		next = c->next;
		if (c->ops->destroy)
			c->ops->destroy(c);
	}
	vlist_free(&rp.live);
	vlist_free(&rp.again);
	if (fflush(stdout))
		status = 1;
	return status;
}
