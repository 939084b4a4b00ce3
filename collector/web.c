// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * web.c - the lock engine's verdicts and lock table in the dashboard's
 * JSON shapes, and its news as server-sent events (see web.h).
 *
 * The page's shapes are derived here from struct verdict, the one record
 * every verdict class shares; the engine's own JSON (the verdict log's
 * line) rides along under "lock", so nothing it knew is lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "json.h"
#include "web.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct web_verdict {
	uint64_t id;
	char *summary, *full;
};

struct web {
	struct verdict_sink sink;
	struct http_provider provider;
	struct http *h;
	struct lock_engine *e;
	struct lock_view *view;
	struct web_verdict *ring;
	unsigned int cap, head, len;
	struct evbuffer *tmp;
	uint64_t res_window, res_skipped; /* SSE resource events: rate */
	unsigned int res_budget;
};

#define WEB_RESOURCE_BURST 100

static const char *const kind_names[LOCK_EV_MAX] = { "request", "grant",
						     "downgrade", "release",
						     "fail" };

static const char *const source_names[] = { "none", "ptp", "roundtrip" };

static char *take(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	if (!s) {
		evbuffer_drain(b, n);
		return NULL;
	}
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static const char *page_class(enum verdict_class c)
{
	return verdict_class_name(c);
}

static void node_str(struct json *j, const struct cnode *n)
{
	json_str(j, n ? n->name : "?");
}

/* The nodes a verdict is about, each once: holds, message, gap, clocks. */
static unsigned int verdict_nodes(const struct verdict *v,
				  const struct cnode **out)
{
	const struct cnode *c[8];
	unsigned int n = 0, k = 0;

	for (unsigned int i = 0; i < v->n_holds; i++)
		c[n++] = v->holds[i].node;
	if (v->has_msg) {
		c[n++] = v->send.node;
		c[n++] = v->recv.node;
	}
	if (v->gap_node)
		c[n++] = v->gap_node;
	for (unsigned int i = 0; i < v->n_clocks; i++)
		c[n++] = v->clocks[i].node;
	for (unsigned int i = 0; i < n; i++) {
		unsigned int x;

		if (!c[i])
			continue;
		for (x = 0; x < k && out[x] != c[i]; x++)
			;
		if (x == k)
			out[k++] = c[i];
	}
	return k;
}

static void summary(struct json *j, const struct verdict *v)
{
	const struct cnode *nodes[8];
	unsigned int n = verdict_nodes(v, nodes);

	json_kv_u64(j, "id", v->id);
	json_kv_str(j, "class", page_class(v->cls));
	if (v->domain)
		json_kv_strn(j, "resource", v->name, v->name_len);
	else
		json_kv_str(j, "resource", "");
	json_kv_str(j, "model", v->model ? v->model : "lock_safety");
	json_kv_u64(j, "tai_ns", v->tai_ns);
	json_key(j, "nodes");
	json_array_begin(j);
	for (unsigned int i = 0; i < n; i++)
		node_str(j, nodes[i]);
	json_array_end(j);
}

static void holds(struct json *j, const struct verdict *v)
{
	json_key(j, "holds");
	json_array_begin(j);
	for (unsigned int i = 0; i < v->n_holds; i++) {
		const struct verdict_hold *h = &v->holds[i];

		json_object_begin(j);
		json_key(j, "node");
		node_str(j, h->node);
		json_kv_str(j, "mode", h->mode_name ? h->mode_name : "?");
		json_kv_u64(j, "grant_ns", h->grant_tai);
		if (h->release_open)
			json_kv_null(j, "release_ns");
		else
			json_kv_u64(j, "release_ns", h->release_tai);
		json_kv_u64(j, "eps_ns", h->grant_eps);
		json_kv_bool(j, "conflict", v->cls != VERDICT_INCOMPLETE);
		json_kv_bool(j, "uncertain", h->uncertain);
		json_object_end(j);
	}
	json_array_end(j);
}

static void events(struct json *j, const struct verdict *v)
{
	char text[96], name[48];

	json_key(j, "events");
	json_array_begin(j);
	for (unsigned int i = 0; i < v->n_hist; i++) {
		const struct lock_hist *h = &v->hist[i];
		const char *kind =
			h->kind < LOCK_EV_MAX ? kind_names[h->kind] : "?";
		const char *mode =
			h->mode >= 0 && v->mode_names &&
					(unsigned int)h->mode < v->n_modes ?
				v->mode_names[h->mode] :
				"";

		snprintf(name, sizeof(name), "%s:%s",
			 v->domain ? v->domain : "lock", kind);
		snprintf(text, sizeof(text), "%s%s%s holder 0x%" PRIx64, kind,
			 *mode ? " " : "", mode, h->holder);
		json_object_begin(j);
		json_key(j, "node");
		node_str(j, h->node);
		json_kv_u64(j, "tai_ns", h->tai);
		json_kv_u64(j, "eps_ns", h->eps);
		json_kv_str(j, "name", name);
		json_kv_str(j, "text", text);
		json_object_end(j);
	}
	if (v->has_msg) {
		const struct verdict_msg *m[2] = { &v->send, &v->recv };

		for (int i = 0; i < 2; i++) {
			json_object_begin(j);
			json_key(j, "node");
			node_str(j, m[i]->node);
			json_kv_u64(j, "tai_ns", m[i]->tai);
			json_kv_u64(j, "eps_ns", m[i]->eps);
			json_kv_str(j, "name",
				    i ? "message:recv" : "message:send");
			json_kv_str(j, "text", i ? "receive" : "send");
			json_object_end(j);
		}
	}
	json_array_end(j);
}

static void clocks(struct json *j, const struct verdict *v)
{
	json_key(j, "clocks");
	json_array_begin(j);
	for (unsigned int i = 0; i < v->n_clocks; i++) {
		const struct verdict_clock *c = &v->clocks[i];

		json_object_begin(j);
		json_key(j, "node");
		node_str(j, c->node);
		json_kv_str(j, "source",
			    (unsigned int)c->source < 3 ?
				    source_names[c->source] :
				    "?");
		json_kv_bool(j, "synced", c->synced);
		json_kv_i64(j, "offset_ns", c->master_offset_ns);
		json_kv_u64(j, "eps_ns", c->eps_ns);
		json_object_end(j);
	}
	json_array_end(j);
}

/* One end of a happens-before fact: grant or release of hold A or B. */
static void hb_end(struct json *j, const struct verdict *v, int hold,
		   bool release)
{
	const struct verdict_hold *h = &v->holds[hold];

	json_object_begin(j);
	json_key(j, "node");
	node_str(j, h->node);
	json_kv_u64(j, "tai_ns", release ? h->release_tai : h->grant_tai);
	json_object_end(j);
}

/* Happens-before facts among the two holds' events, as arrows; a
 * clock-bound verdict's message as an arrow from send to receive. */
static void causal(struct json *j, const struct verdict *v)
{
	/* bit i: from (hold, release?) to (hold, release?) */
	static const struct {
		int fh, fr, th, tr;
	} facts[8] = {
		{ 0, 0, 1, 0 }, { 0, 0, 1, 1 }, { 0, 1, 1, 0 }, { 0, 1, 1, 1 },
		{ 1, 0, 0, 0 }, { 1, 0, 0, 1 }, { 1, 1, 0, 0 }, { 1, 1, 0, 1 },
	};

	json_key(j, "causal");
	json_array_begin(j);
	for (int i = 0; i < 8 && v->n_holds == 2; i++) {
		if (!(v->hb & (1u << i)))
			continue;
		if ((facts[i].fr && v->holds[facts[i].fh].release_open) ||
		    (facts[i].tr && v->holds[facts[i].th].release_open))
			continue;
		json_object_begin(j);
		json_key(j, "from");
		hb_end(j, v, facts[i].fh, facts[i].fr);
		json_key(j, "to");
		hb_end(j, v, facts[i].th, facts[i].tr);
		json_object_end(j);
	}
	if (v->has_msg) {
		json_object_begin(j);
		json_key(j, "from");
		json_object_begin(j);
		json_key(j, "node");
		node_str(j, v->send.node);
		json_kv_u64(j, "tai_ns", v->send.tai);
		json_object_end(j);
		json_key(j, "to");
		json_object_begin(j);
		json_key(j, "node");
		node_str(j, v->recv.node);
		json_kv_u64(j, "tai_ns", v->recv.tai);
		json_object_end(j);
		json_object_end(j);
	}
	json_array_end(j);
}

static void web_emit(struct verdict_sink *s, const struct verdict *v,
		     const char *json, size_t json_len)
{
	struct web *w = container_of(s, struct web, sink);
	struct web_verdict *slot;
	char *sum, *full;
	struct json j;

	json_init(&j, w->tmp);
	json_object_begin(&j);
	summary(&j, v);
	json_object_end(&j);
	sum = take(w->tmp);
	json_init(&j, w->tmp);
	json_object_begin(&j);
	summary(&j, v);
	json_kv_str(&j, "reason", v->reason ? v->reason : "");
	holds(&j, v);
	events(&j, v);
	clocks(&j, v);
	causal(&j, v);
	json_key(&j, "lock");
	json_raw(&j, json, json_len);
	json_object_end(&j);
	full = take(w->tmp);
	if (!sum || !full || j.err) {
		free(sum);
		free(full);
		return;
	}
	if (w->h)
		http_publish(w->h, "verdict", sum);
	if (w->len == w->cap) {
		slot = &w->ring[w->head];
		free(slot->summary);
		free(slot->full);
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	slot = &w->ring[(w->head + w->len) % w->cap];
	*slot = (struct web_verdict){ .id = v->id,
				      .summary = sum,
				      .full = full };
	w->len++;
}

static void web_sink_destroy(struct verdict_sink *s)
{
	/* the engine lets go of the sink; web_destroy() frees it */
	(void)s;
}

static void resource_json(struct json *j, const struct lock_view_res *r)
{
	json_object_begin(j);
	json_kv_strn(j, "resource", r->name, r->name_len);
	json_kv_str(j, "domain", r->domain);
	if (!strcmp(r->domain, "dlm"))
		json_kv_u64(j, "lockspace", r->lockspace);
	json_kv_bool(j, "incomplete", r->incomplete);
	json_kv_u64(j, "last_tai_ns", r->last_tai);
	json_key(j, "holders");
	json_array_begin(j);
	for (unsigned int i = 0; i < r->n_holders; i++) {
		const struct lock_view_holder *h = &r->holders[i];

		json_object_begin(j);
		json_kv_str(j, "node", h->node);
		json_kv_str(j, "mode", h->mode);
		json_kv_u64(j, "since_tai_ns", h->since_tai);
		json_kv_u64(j, "eps_ns", h->eps);
		json_kv_bool(j, "uncertain", h->uncertain);
		json_object_end(j);
	}
	json_array_end(j);
	json_object_end(j);
}

/*
 * Nobody listens: no walk and no JSON per lock event.  Someone listens:
 * at most WEB_RESOURCE_BURST resource events per 100 ms, so a busy lock
 * table cannot flood (and drop) the subscribers; the page also polls
 * /api/resources, which is always complete.
 */
static bool want_change(void *arg)
{
	struct web *w = arg;
	struct http_stats st;
	struct timespec ts;
	uint64_t now;

	if (!w->h)
		return false;
	http_get_stats(w->h, &st);
	if (!st.sse_clients)
		return false;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 10 + (uint64_t)ts.tv_nsec / 100000000;
	if (now != w->res_window) {
		w->res_window = now;
		w->res_budget = WEB_RESOURCE_BURST;
	}
	if (!w->res_budget) {
		w->res_skipped++;
		return false;
	}
	w->res_budget--;
	return true;
}

static void on_change(void *arg, const struct lock_view_res *r)
{
	struct web *w = arg;
	struct json j;
	char *s;

	json_init(&j, w->tmp);
	resource_json(&j, r);
	s = take(w->tmp);
	if (s && !j.err)
		http_publish(w->h, "resource", s);
	free(s);
}

struct res_walk {
	struct json *j;
	const struct http_query *q;
	unsigned int n;
};

static void walk_res(void *arg, const struct lock_view_res *r)
{
	struct res_walk *rw = arg;

	if (rw->n >= rw->q->limit)
		return;
	if (rw->q->filter &&
	    !memmem(r->name, r->name_len, rw->q->filter, rw->q->filter_len))
		return;
	resource_json(rw->j, r);
	rw->n++;
}

static int web_resources(struct http_provider *p, const struct http_query *q,
			 struct evbuffer *out)
{
	struct web *w = container_of(p, struct web, provider);
	struct json j;
	struct res_walk rw = { .j = &j, .q = q };

	json_init(&j, out);
	json_array_begin(&j);
	lock_view_foreach_resource(w->view, walk_res, &rw);
	json_array_end(&j);
	return j.err ? -1 : 0;
}

static int web_verdicts(struct http_provider *p, const struct http_query *q,
			struct evbuffer *out)
{
	struct web *w = container_of(p, struct web, provider);
	unsigned int n = 0;
	struct json j;

	json_init(&j, out);
	json_array_begin(&j);
	for (unsigned int i = w->len; i > 0 && n < q->limit; i--) {
		const struct web_verdict *wv =
			&w->ring[(w->head + i - 1) % w->cap];

		if (wv->id <= q->since)
			break;
		json_raw(&j, wv->summary, strlen(wv->summary));
		n++;
	}
	json_array_end(&j);
	return j.err ? -1 : 0;
}

static int web_verdict(struct http_provider *p, uint64_t id,
		       struct evbuffer *out)
{
	struct web *w = container_of(p, struct web, provider);

	for (unsigned int i = 0; i < w->len; i++) {
		const struct web_verdict *wv = &w->ring[(w->head + i) % w->cap];

		if (wv->id == id)
			return evbuffer_add(out, wv->full, strlen(wv->full));
	}
	errno = ENOENT;
	return -1;
}

static void count_incomplete(void *arg, const struct lock_view_res *r)
{
	*(uint64_t *)arg += r->incomplete;
}

static void web_summary(struct http_provider *p, struct http_summary *s)
{
	struct web *w = container_of(p, struct web, provider);
	struct lock_stats st;

	lock_engine_stats(w->e, &st);
	s->verdicts[HTTP_VERDICT_DEFINITE] += st.verdicts[VERDICT_DEFINITE];
	s->verdicts[HTTP_VERDICT_POSSIBLE] += st.verdicts[VERDICT_POSSIBLE];
	s->verdicts[HTTP_VERDICT_CLOCK_BOUND] +=
		st.verdicts[VERDICT_CLOCK_BOUND];
	s->verdicts[HTTP_VERDICT_PROTOCOL] += st.verdicts[VERDICT_PROTOCOL];
	lock_view_foreach_resource(w->view, count_incomplete, &s->incomplete);
}

static void web_metrics(struct http_provider *p, struct http_metrics *m)
{
	struct web *w = container_of(p, struct web, provider);
	struct lock_stats st;

	lock_engine_stats(w->e, &st);
	http_metrics_family(m, "netrv_lock_events_total", "counter",
			    "Merged events the lock-safety engine saw");
	http_metrics_sample(m, (double)st.events, NULL);
	http_metrics_family(
		m, "netrv_lock_incomplete_verdicts_total", "counter",
		"Verdicts of class incomplete (events lost or a node unreachable)");
	http_metrics_sample(m, (double)st.verdicts[VERDICT_INCOMPLETE], NULL);
	http_metrics_family(
		m, "netrv_lock_pairs_checked_total", "counter",
		"Incompatible hold pairs on different nodes ruled on");
	http_metrics_sample(m, (double)st.pairs_checked, NULL);
	http_metrics_family(
		m, "netrv_lock_pairs_safe_total", "counter",
		"Pairs proven safe, by causality or by clock bounds");
	http_metrics_sample(m, (double)st.safe_causal, "by", "causal", NULL);
	http_metrics_sample(m, (double)st.safe_clock, "by", "clock", NULL);
	http_metrics_family(m, "netrv_lock_resources", "gauge",
			    "Resources in the lock table now");
	http_metrics_sample(m, (double)st.resources, NULL);
	http_metrics_family(m, "netrv_lock_holds", "gauge",
			    "Holds in the lock table now");
	http_metrics_sample(m, (double)st.holds, NULL);
	http_metrics_family(
		m, "netrv_lock_messages_matched_total", "counter",
		"Send/receive pairs matched (happens-before edges)");
	http_metrics_sample(m, (double)st.messages_matched, NULL);
}

static const struct http_provider_ops web_ops = {
	.resources = web_resources,
	.verdicts = web_verdicts,
	.verdict = web_verdict,
	.summary = web_summary,
	.metrics = web_metrics,
};

struct web *web_create(struct http *h, struct lock_engine *e,
		       struct lock_view *view, unsigned int recent)
{
	struct web *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cap = recent ? recent : 1;
	w->ring = calloc(w->cap, sizeof(*w->ring));
	w->tmp = evbuffer_new();
	if (!w->ring || !w->tmp) {
		web_destroy(w);
		errno = ENOMEM;
		return NULL;
	}
	w->h = h;
	w->e = e;
	w->view = view;
	w->sink.emit = web_emit;
	w->sink.destroy = web_sink_destroy;
	w->provider.ops = &web_ops;
	w->provider.name = "lock";
	lock_view_on_change(view, want_change, on_change, w);
	return w;
}

struct verdict_sink *web_sink(struct web *w)
{
	return &w->sink;
}

struct http_provider *web_provider(struct web *w)
{
	return &w->provider;
}

void web_destroy(struct web *w)
{
	if (!w)
		return;
	for (unsigned int i = 0; i < w->len; i++) {
		free(w->ring[(w->head + i) % w->cap].summary);
		free(w->ring[(w->head + i) % w->cap].full);
	}
	free(w->ring);
	if (w->tmp)
		evbuffer_free(w->tmp);
	free(w);
}
