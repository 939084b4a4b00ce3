// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * wire.c - the collector's parts put together (see wire.h): one option
 * table out of every part's, the consumers in their order, the verdict
 * sinks, the HTTP providers, and an idle timer that flushes the archive
 * and tells the dashboard each node's watermark and merge queue.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_SUBSYS "collector"
#include "archive.h"
#include "archive_config.h"
#include "clocks.h"
#include "consumer.h"
#include "http.h"
#include "lock_reactor.h"
#include "log.h"
#include "merge.h"
#include "verdicts.h"
#include "web.h"
#include "wire.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define WIRE_TICK_MS 200

struct wire {
	struct pipeline *p;
	struct lock_setup ls;
	struct lock_engine *engine; /* the pipeline destroys it */
	struct consumer *models; /* the pipeline destroys it */
	struct archive *ar;
	uint64_t flush_ns, last_flush;
	struct http *h;
	struct http_nodes *nodes;
	struct web *web;
	struct http_provider prov;
	struct event *tick;
	char token[512];
};

static uint64_t mono_ns(void)
{
	return clocks_now(CLOCK_MONOTONIC);
}

/* The archive as a verdict sink: every verdict, clock-bound ones also as
 * clock violations of the receiving node. */
static void archive_verdict(void *arg, const struct verdict *v,
			    const char *vclass, const char *json)
{
	struct archive *ar = arg;

	archive_write_verdict(ar, v->tai_ns, vclass,
			      v->domain ? (const void *)v->name : "",
			      v->domain ? v->name_len : 0, json);
	if (v->cls == VERDICT_CLOCK_BOUND && v->has_msg)
		archive_write_clock_violation(ar, v->tai_ns, v->recv.node,
					      json);
}

/* The lock engine's snapshot names nodes; the merge knows them by then. */
static const struct cnode *node_by_name(void *arg, const char *name)
{
	struct merge *m = arg;

	for (uint32_t i = 0; i < merge_n_nodes(m); i++) {
		const struct cnode *cn = merge_cnode(m, i);

		if (!strcmp(cn->name, name))
			return cn;
	}
	return NULL;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wire *w = arg;
	uint64_t now = mono_ns();

	(void)fd;
	(void)what;
	if (w->ar && now - w->last_flush >= w->flush_ns) {
		w->last_flush = now;
		archive_flush(w->ar);
	}
	if (w->nodes) {
		struct merge *m = pipeline_merge(w->p);

		for (uint32_t i = 0; i < pipeline_n_nodes(w->p); i++) {
			struct pipeline_node_info ni;
			const struct cnode *cn;

			pipeline_node_info(w->p, i, &ni);
			cn = merge_cnode(m, ni.idx);
			if (!cn)
				continue;
			if (ni.have_watermark)
				http_nodes_watermark(w->nodes, cn,
						     ni.watermark_tai);
			http_nodes_queue(w->nodes, cn, ni.queued);
		}
	}
}

/* /metrics: WAL, acks, merge, archive and exec hook state. */
static void wire_metrics(struct http_provider *prov, struct http_metrics *m)
{
	struct wire *w = container_of(prov, struct wire, prov);
	uint32_t n = pipeline_n_nodes(w->p);
	struct pipeline_node_info *ni = calloc(n ? n : 1, sizeof(*ni));
	struct pipeline_info pi;

	pipeline_info(w->p, &pi);
	http_metrics_family(m, "netrv_wal_bytes", "gauge",
			    "Bytes of WAL segments on disk");
	http_metrics_sample(m, (double)pi.wal_bytes, NULL);
	http_metrics_family(m, "netrv_wal_unsynced_bytes", "gauge",
			    "Bytes written to the WAL and not yet synced");
	http_metrics_sample(m, (double)pi.wal_pending, NULL);
	http_metrics_family(m, "netrv_checkpoints_total", "counter",
			    "Checkpoints of the merge position taken");
	http_metrics_sample(m, (double)pi.checkpoints, NULL);
	http_metrics_family(m, "netrv_merge_released_events_total", "counter",
			    "Events the merge delivered to the consumers");
	http_metrics_sample(m, (double)pi.merge.released, NULL);
	http_metrics_family(
		m, "netrv_merge_late_events_total", "counter",
		"Events that arrived behind the merge (reported as loss)");
	http_metrics_sample(m, (double)pi.merge.late, NULL);
	if (ni) {
		for (uint32_t i = 0; i < n; i++)
			pipeline_node_info(w->p, i, &ni[i]);
		http_metrics_family(
			m, "netrv_node_wal_written_batches", "gauge",
			"Highest batch sequence written to the WAL");
		for (uint32_t i = 0; i < n; i++)
			http_metrics_sample_n(m, (double)ni[i].written_seq,
					      "node", ni[i].name,
					      strlen(ni[i].name));
		http_metrics_family(m, "netrv_node_wal_durable_batches",
				    "gauge",
				    "Highest batch sequence synced to disk");
		for (uint32_t i = 0; i < n; i++)
			http_metrics_sample_n(m, (double)ni[i].durable_seq,
					      "node", ni[i].name,
					      strlen(ni[i].name));
		http_metrics_family(
			m, "netrv_node_acked_batches", "gauge",
			"Highest batch sequence acknowledged to the agent");
		for (uint32_t i = 0; i < n; i++)
			http_metrics_sample_n(m, (double)ni[i].acked_seq,
					      "node", ni[i].name,
					      strlen(ni[i].name));
		http_metrics_family(
			m, "netrv_node_duplicate_batches_total", "counter",
			"Batches dropped as duplicates (resent after a reconnect)");
		for (uint32_t i = 0; i < n; i++)
			http_metrics_sample_n(m, (double)ni[i].dups, "node",
					      ni[i].name, strlen(ni[i].name));
		http_metrics_family(
			m, "netrv_node_backpressure", "gauge",
			"1 while the node's connection is not read (merge queue full)");
		for (uint32_t i = 0; i < n; i++)
			http_metrics_sample_n(m, ni[i].paused, "node",
					      ni[i].name, strlen(ni[i].name));
		free(ni);
	}
	if (w->ar) {
		struct archive_stats as;

		archive_get_stats(w->ar, &as);
		http_metrics_family(m, "netrv_archive_events_total", "counter",
				    "Trace events written to the archive");
		http_metrics_sample(m, (double)as.events, NULL);
		http_metrics_family(
			m, "netrv_archive_records_total", "counter",
			"Verdicts, losses, node states and watermarks archived");
		http_metrics_sample(m, (double)as.records, NULL);
		http_metrics_family(m, "netrv_archive_written_bytes_total",
				    "counter", "Bytes written to the archive");
		http_metrics_sample(m, (double)as.bytes, NULL);
		http_metrics_family(m, "netrv_archive_dropped_total", "counter",
				    "Archive records lost to write errors");
		http_metrics_sample(m, (double)as.dropped, NULL);
		http_metrics_family(m, "netrv_archive_chunk", "gauge",
				    "Number of the chunk being written");
		http_metrics_sample(m, as.chunk, NULL);
	}
	if (w->ls.exec) {
		struct lock_exec_stats xs;

		lock_exec_get_stats(w->ls.exec, &xs);
		http_metrics_family(m, "netrv_exec_started_total", "counter",
				    "Exec hook commands started");
		http_metrics_sample(m, (double)xs.started, NULL);
		http_metrics_family(
			m, "netrv_exec_dropped_total", "counter",
			"Verdicts the exec hook dropped (queue full)");
		http_metrics_sample(m, (double)xs.dropped, NULL);
		http_metrics_family(m, "netrv_exec_queued", "gauge",
				    "Verdicts waiting for the exec hook");
		http_metrics_sample(m, xs.queued, NULL);
	}
}

static const struct http_provider_ops wire_ops = {
	.metrics = wire_metrics,
};

static int load_models(struct wire *w, const struct config *cfg)
{
	char err[768];

	if (verdicts_models_from_config(cfg, w->engine, &w->models, err,
					sizeof(err))) {
		pr_err("%s", err);
		return -1;
	}
	return 0;
}

static int open_archive(struct wire *w, const struct config *cfg)
{
	struct archive_options o;
	struct verdict_sink *s;

	archive_options_from_config(cfg, &o);
	if (!o.dir)
		return 0;
	w->ar = archive_open(&o);
	if (!w->ar)
		return -1;
	w->flush_ns = o.flush_ns ? o.flush_ns : 1000000000ull;
	s = verdicts_fn_sink(archive_verdict, w->ar);
	if (!s)
		return -1;
	lock_engine_add_sink(w->engine, s);
	return 0;
}

static int start_http(struct wire *w, const struct config *cfg,
		      struct event_base *base)
{
	struct http_config hc;

	if (!config_bool(cfg, "http", "enable"))
		return 0;
	if (http_config_from(cfg, &hc, w->token, sizeof(w->token)))
		return -1;
	w->h = http_create(base, &hc);
	if (!w->h)
		return -1;
	w->nodes = http_nodes_create(w->h);
	w->web = web_create(
		w->h, w->engine, w->ls.view,
		(unsigned int)config_int(cfg, "lock", "recent_verdicts"));
	if (!w->nodes || !w->web) {
		pr_err("http: %m");
		return -1;
	}
	lock_engine_add_sink(w->engine, web_sink(w->web));
	w->prov.ops = &wire_ops;
	w->prov.name = "collector";
	http_add_provider(w->h, http_nodes_provider(w->nodes));
	http_add_provider(w->h, web_provider(w->web));
	http_add_provider(w->h, &w->prov);
	return 0;
}

struct wire *wire_create(struct pipeline *p, const struct config *cfg,
			 struct event_base *base)
{
	struct wire *w = calloc(1, sizeof(*w));
	struct timeval tv = { 0, WIRE_TICK_MS * 1000 };
	char err[512];

	if (!w)
		return NULL;
	w->p = p;
	if (lock_setup_create(&w->ls, cfg, base, err, sizeof(err))) {
		pr_err("%s", err);
		goto fail;
	}
	w->engine = w->ls.engine;
	if (lock_engine_persist(w->engine, config_string(cfg, "wal", "dir"),
				node_by_name, pipeline_merge(p))) {
		pr_err("out of memory");
		goto fail;
	}
	if (load_models(w, cfg) || open_archive(w, cfg) ||
	    start_http(w, cfg, base))
		goto fail;
	w->tick = event_new(base, -1, EV_PERSIST, tick_cb, w);
	if (!w->tick || event_add(w->tick, &tv))
		goto fail;
	/* from here on the pipeline owns the consumers */
	if (w->ar)
		pipeline_add_consumer(p, archive_consumer(w->ar));
	pipeline_add_consumer(p, lock_engine_consumer(w->engine));
	w->ls.engine = NULL; /* lock_setup_destroy() frees the conf only */
	if (w->models)
		pipeline_add_consumer(p, w->models);
	if (w->nodes)
		pipeline_add_consumer(p, http_nodes_consumer(w->nodes));
	return w;
fail:
	/* nothing is registered yet: free everything here */
	if (w->models)
		w->models->ops->destroy(w->models);
	w->models = NULL;
	w->engine = NULL; /* lock_setup_destroy() destroys it */
	wire_destroy(w);
	return NULL;
}

void wire_stop(struct wire *w)
{
	if (w && w->ar)
		archive_flush(w->ar);
}

void wire_destroy(struct wire *w)
{
	if (!w)
		return;
	if (w->tick)
		event_free(w->tick);
	if (w->h) {
		http_remove_provider(w->h, &w->prov);
		if (w->web)
			http_remove_provider(w->h, web_provider(w->web));
		if (w->nodes)
			http_remove_provider(w->h,
					     http_nodes_provider(w->nodes));
	}
	http_destroy(w->h);
	if (w->nodes)
		http_nodes_destroy(w->nodes);
	if (w->ar && archive_close(w->ar))
		pr_err("archive: closing: %m");
	/* the engine (if it was never registered) and the configuration */
	lock_setup_destroy(&w->ls);
	web_destroy(w->web);
	free(w);
}
