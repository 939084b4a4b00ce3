// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nodes.c - per-node statistics from the merged stream: a consumer of the
 * merge (events, losses, node states, the watermark) and a provider of
 * GET /api/nodes, node metrics and the "verified up to" of the summary.
 *
 * The event path does no allocation and no system call beyond a coarse
 * clock read: a node's slot is allocated when the node is first seen, the
 * rate is kept in per-second buckets of the collector's monotonic clock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "clocks.h"
#include "http_private.h"
#include "json.h"

#define RATE_BUCKETS 8
#define RATE_WINDOW 5 /* seconds averaged, ending with the last full one */

struct node_stat {
	char *name; /* copy of cnode->name */
	bool known;
	enum cnode_state state;
	uint64_t state_tai;
	Netrv__ClockSource source;
	bool synced;
	int64_t master_offset_ns;
	int64_t path_delay_ns;
	uint64_t eps_ns;
	uint32_t port_state;
	uint64_t events;
	uint64_t lost;
	uint64_t loss_reports;
	uint64_t last_event_tai;
	uint64_t last_mono_ns; /* collector monotonic at the last event */
	uint64_t first_sec;
	uint64_t watermark_tai; /* 0: ingest never told us */
	uint64_t queue;
	bool has_queue;
	struct {
		uint64_t sec;
		uint64_t n;
	} rate[RATE_BUCKETS];
};

struct http_nodes {
	struct consumer consumer;
	struct http_provider provider;
	struct http *h;
	struct node_stat *nodes; /* indexed by cnode->index */
	size_t n_nodes;
	uint64_t watermark; /* the merge's, 0 before the first */
};

static uint64_t mono_coarse_ns(void)
{
	return clocks_now(CLOCK_MONOTONIC_COARSE);
}

static const char *source_name(Netrv__ClockSource s)
{
	switch (s) {
	case NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP:
		return "ptp";
	case NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP:
		return "roundtrip";
	default:
		return "none";
	}
}

/* What the dashboard shows as sync state. */
static const char *sync_state(const struct node_stat *s)
{
	if (s->source == NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP)
		return "weak";
	if (s->source == NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP && s->synced)
		return "synced";
	return "unsynced";
}

static const char *port_state_name(uint32_t ps)
{
	static const char *const names[] = {
		"",	    "INITIALIZING", "FAULTY",
		"DISABLED", "LISTENING",    "PRE_MASTER",
		"MASTER",   "PASSIVE",	    "UNCALIBRATED",
		"SLAVE",
	};

	return ps < sizeof(names) / sizeof(names[0]) ? names[ps] : "";
}

static double node_rate(const struct node_stat *s, uint64_t now_sec)
{
	uint64_t sum = 0, span;
	int i;

	for (i = 0; i < RATE_BUCKETS; i++)
		if (s->rate[i].sec < now_sec &&
		    s->rate[i].sec + RATE_WINDOW >= now_sec)
			sum += s->rate[i].n;
	span = now_sec > s->first_sec ? now_sec - s->first_sec : 1;
	if (span > RATE_WINDOW)
		span = RATE_WINDOW;
	return (double)sum / span;
}

static void node_json(struct json *j, const struct node_stat *s,
		      uint64_t now_tai, uint64_t now_mono)
{
	json_object_begin(j);
	json_kv_str(j, "name", s->name);
	json_kv_str(j, "state", cnode_state_name(s->state));
	json_kv_bool(j, "connected", s->state == CNODE_UP);
	if (s->last_mono_ns)
		json_kv_u64(j, "last_seen_tai_ns",
			    now_tai - (now_mono - s->last_mono_ns));
	else
		json_kv_null(j, "last_seen_tai_ns");
	if (s->last_event_tai)
		json_kv_u64(j, "last_event_tai_ns", s->last_event_tai);
	else
		json_kv_null(j, "last_event_tai_ns");
	json_kv_str(j, "sync_source", source_name(s->source));
	json_kv_str(j, "sync_state", sync_state(s));
	json_kv_bool(j, "synced", s->synced);
	json_kv_str(j, "port_state", port_state_name(s->port_state));
	json_kv_i64(j, "offset_ns", s->master_offset_ns);
	json_kv_i64(j, "path_delay_ns", s->path_delay_ns);
	json_kv_u64(j, "eps_ns", s->eps_ns);
	if (s->watermark_tai) {
		json_kv_u64(j, "watermark_tai_ns", s->watermark_tai);
		json_kv_i64(j, "watermark_lag_ns",
			    (int64_t)(now_tai - s->watermark_tai));
	} else {
		json_kv_null(j, "watermark_tai_ns");
		json_kv_null(j, "watermark_lag_ns");
	}
	if (s->has_queue)
		json_kv_u64(j, "queue", s->queue);
	else
		json_kv_null(j, "queue");
	json_kv_u64(j, "events", s->events);
	json_kv_double(j, "events_per_s",
		       node_rate(s, now_mono / NSEC_PER_SEC));
	json_kv_u64(j, "events_lost", s->lost);
	json_kv_u64(j, "loss_reports", s->loss_reports);
	json_object_end(j);
}

/* Tell /events subscribers about @s (connect, disconnect, sync change). */
static void node_publish(struct http_nodes *ns, const struct node_stat *s)
{
	struct evbuffer *b;
	struct json j;

	if (!ns->h)
		return;
	b = evbuffer_new();
	if (!b)
		return;
	json_init(&j, b);
	node_json(&j, s, clocks_now(CLOCK_TAI), mono_coarse_ns());
	if (!j.err && !evbuffer_add(b, "", 1))
		http_publish(ns->h, "node", (char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
}

/* The slot of @node, made on first sight; NULL if memory ran out. */
static struct node_stat *node_get(struct http_nodes *ns,
				  const struct cnode *node, bool *fresh)
{
	struct node_stat *s;

	*fresh = false;
	if (node->index >= ns->n_nodes) {
		size_t n = node->index + 8;
		struct node_stat *p = realloc(ns->nodes, n * sizeof(*p));

		if (!p)
			return NULL;
		memset(p + ns->n_nodes, 0, (n - ns->n_nodes) * sizeof(*p));
		ns->nodes = p;
		ns->n_nodes = n;
	}
	s = &ns->nodes[node->index];
	if (!s->known) {
		s->name = strdup(node->name ? node->name : "");
		if (!s->name)
			return NULL;
		s->known = true;
		s->state = CNODE_UP;
		s->first_sec = mono_coarse_ns() / NSEC_PER_SEC;
		*fresh = true;
	}
	return s;
}

/* Copy the clock status; true if what the dashboard shows changed. */
static bool node_clock(struct node_stat *s, const Netrv__ClockStatus *c)
{
	bool changed = s->source != c->source || s->synced != c->synced;

	s->source = c->source;
	s->synced = c->synced;
	s->master_offset_ns = c->master_offset_ns;
	s->path_delay_ns = c->path_delay_ns;
	s->eps_ns = c->epsilon_ns;
	s->port_state = c->port_state;
	return changed;
}

static void nodes_event(struct consumer *c, const struct cevent *ev)
{
	struct http_nodes *ns = container_of(c, struct http_nodes, consumer);
	bool fresh, changed;
	struct node_stat *s = node_get(ns, ev->node, &fresh);
	uint64_t now, sec;
	int b;

	if (!s)
		return;
	changed = node_clock(s, &ev->node->clock);
	s->events++;
	if (ev->tai_ns > s->last_event_tai)
		s->last_event_tai = ev->tai_ns;
	now = mono_coarse_ns();
	s->last_mono_ns = now;
	sec = now / NSEC_PER_SEC;
	b = sec % RATE_BUCKETS;
	if (s->rate[b].sec != sec) {
		s->rate[b].sec = sec;
		s->rate[b].n = 0;
	}
	s->rate[b].n++;
	if (fresh || changed)
		node_publish(ns, s);
}

static void nodes_loss(struct consumer *c, const struct cnode *node,
		       uint64_t from_tai, uint64_t to_tai, uint64_t count)
{
	struct http_nodes *ns = container_of(c, struct http_nodes, consumer);
	bool fresh;
	struct node_stat *s = node_get(ns, node, &fresh);

	if (!s)
		return;
	s->lost += count;
	s->loss_reports++;
	if (fresh)
		node_publish(ns, s);
}

static void nodes_state(struct consumer *c, const struct cnode *node,
			enum cnode_state state, uint64_t tai_ns)
{
	struct http_nodes *ns = container_of(c, struct http_nodes, consumer);
	bool fresh;
	struct node_stat *s = node_get(ns, node, &fresh);
	bool changed;

	if (!s)
		return;
	changed = node_clock(s, &node->clock) || s->state != state;
	s->state = state;
	s->state_tai = tai_ns;
	if (fresh || changed)
		node_publish(ns, s);
}

static void nodes_watermark(struct consumer *c, uint64_t tai_ns)
{
	struct http_nodes *ns = container_of(c, struct http_nodes, consumer);

	if (tai_ns > ns->watermark)
		ns->watermark = tai_ns;
}

static void nodes_consumer_destroy(struct consumer *c)
{
	/* Owned by http_nodes_destroy(): the server may still ask it. */
}

static const struct consumer_ops nodes_consumer_ops = {
	.event = nodes_event,
	.loss = nodes_loss,
	.node_state = nodes_state,
	.watermark = nodes_watermark,
	.destroy = nodes_consumer_destroy,
};

static int nodes_list(struct http_provider *p, struct evbuffer *out)
{
	struct http_nodes *ns = container_of(p, struct http_nodes, provider);
	uint64_t now_tai = clocks_now(CLOCK_TAI), now_mono = mono_coarse_ns();
	struct json j;
	size_t i;

	json_init(&j, out);
	json_array_begin(&j);
	for (i = 0; i < ns->n_nodes; i++)
		if (ns->nodes[i].known)
			node_json(&j, &ns->nodes[i], now_tai, now_mono);
	json_array_end(&j);
	if (j.err) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

static void nodes_summary(struct http_provider *p, struct http_summary *sum)
{
	struct http_nodes *ns = container_of(p, struct http_nodes, provider);
	size_t i;

	for (i = 0; i < ns->n_nodes; i++) {
		if (!ns->nodes[i].known)
			continue;
		sum->nodes++;
		sum->nodes_up += ns->nodes[i].state == CNODE_UP;
	}
	if (ns->watermark > sum->verified_tai_ns)
		sum->verified_tai_ns = ns->watermark;
}

static void nodes_metrics(struct http_provider *p, struct http_metrics *m)
{
	struct http_nodes *ns = container_of(p, struct http_nodes, provider);
	uint64_t now_tai = clocks_now(CLOCK_TAI);
	const struct node_stat *s;
	size_t i;

#define each_node                                             \
	for (i = 0, s = ns->nodes; i < ns->n_nodes; i++, s++) \
		if (s->known)

	http_metrics_family(
		m, "netrv_node_up", "gauge",
		"1 if the node is connected and sending watermarks");
	each_node http_metrics_sample(m, s->state == CNODE_UP, "node", s->name,
				      NULL);
	http_metrics_family(m, "netrv_node_events_received_total", "counter",
			    "Events of the node released by the merge");
	each_node http_metrics_sample(m, s->events, "node", s->name, NULL);
	http_metrics_family(m, "netrv_node_events_lost_total", "counter",
			    "Events the node reported lost");
	each_node http_metrics_sample(m, s->lost, "node", s->name, NULL);
	http_metrics_family(
		m, "netrv_node_clock_synced", "gauge",
		"1 if the node's time source says it is synchronised");
	each_node http_metrics_sample(m, s->synced, "node", s->name, "source",
				      source_name(s->source), NULL);
	http_metrics_family(m, "netrv_node_epsilon_seconds", "gauge",
			    "Bound on the node's TAI error (epsilon)");
	each_node http_metrics_sample(m, s->eps_ns / 1e9, "node", s->name,
				      NULL);
	http_metrics_family(m, "netrv_node_clock_offset_seconds", "gauge",
			    "Last offset from the PTP master");
	each_node http_metrics_sample(m, s->master_offset_ns / 1e9, "node",
				      s->name, NULL);
	http_metrics_family(m, "netrv_node_last_event_tai_seconds", "gauge",
			    "TAI time of the newest merged event of the node");
	each_node if (s->last_event_tai) http_metrics_sample(
		m, s->last_event_tai / 1e9, "node", s->name, NULL);
	http_metrics_family(m, "netrv_node_watermark_lag_seconds", "gauge",
			    "Collector TAI now minus the node's watermark");
	each_node if (s->watermark_tai) http_metrics_sample(
		m, (int64_t)(now_tai - s->watermark_tai) / 1e9, "node", s->name,
		NULL);
	http_metrics_family(m, "netrv_node_merge_queue_events", "gauge",
			    "Events of the node waiting in the merge");
	each_node if (s->has_queue)
		http_metrics_sample(m, s->queue, "node", s->name, NULL);
#undef each_node
}

static const struct http_provider_ops nodes_provider_ops = {
	.nodes = nodes_list,
	.summary = nodes_summary,
	.metrics = nodes_metrics,
};

struct http_nodes *http_nodes_create(struct http *h)
{
	struct http_nodes *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	ns->h = h;
	ns->consumer.ops = &nodes_consumer_ops;
	ns->consumer.name = "http-nodes";
	ns->provider.ops = &nodes_provider_ops;
	ns->provider.name = "http-nodes";
	return ns;
}

void http_nodes_destroy(struct http_nodes *ns)
{
	size_t i;

	if (!ns)
		return;
	for (i = 0; i < ns->n_nodes; i++)
		free(ns->nodes[i].name);
	free(ns->nodes);
	free(ns);
}

struct consumer *http_nodes_consumer(struct http_nodes *ns)
{
	return &ns->consumer;
}

struct http_provider *http_nodes_provider(struct http_nodes *ns)
{
	return &ns->provider;
}

void http_nodes_watermark(struct http_nodes *ns, const struct cnode *node,
			  uint64_t tai_ns)
{
	bool fresh;
	struct node_stat *s = node_get(ns, node, &fresh);

	if (s && tai_ns > s->watermark_tai)
		s->watermark_tai = tai_ns;
	if (s && fresh)
		node_publish(ns, s);
}

void http_nodes_queue(struct http_nodes *ns, const struct cnode *node,
		      uint64_t depth)
{
	bool fresh;
	struct node_stat *s = node_get(ns, node, &fresh);

	if (!s)
		return;
	s->queue = depth;
	s->has_queue = true;
	if (fresh)
		node_publish(ns, s);
}
