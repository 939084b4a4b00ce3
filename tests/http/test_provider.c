// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_provider.c - see test_provider.h.  A TEST stand-in for the lock
 * engine: linear searches and fixed tables, fine for the handful of
 * resources a test uses, wrong for a collector.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "feed.h"
#include "http_private.h"
#include "json.h"
#include "test_provider.h"

#define TP_MAX_RES 64
#define TP_HOLDS 8
#define TP_EVENTS 16
#define TP_MAX_NODES FEED_MAX_NODES

static const char *const mode_names[] = { "NL", "CR", "CW", "PR", "PW", "EX" };

/* DLM compatibility (collector design, section 5). */
static const bool compat[6][6] = {
	{ 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 1, 0 }, { 1, 1, 1, 0, 0, 0 },
	{ 1, 1, 0, 1, 0, 0 }, { 1, 1, 0, 0, 0, 0 }, { 1, 0, 0, 0, 0, 0 },
};

struct tp_hold {
	bool used, open, conflict;
	uint32_t node;
	int mode;
	uint64_t grant, grant_eps, release, release_eps;
};

struct tp_event {
	uint32_t node;
	enum feed_type type;
	uint64_t tai, eps, msg;
	int mode, op;
};

struct tp_resource {
	uint8_t *name;
	size_t len;
	struct tp_hold holds[TP_HOLDS];
	struct tp_event ev[TP_EVENTS]; /* ring, oldest at ev_head */
	unsigned int ev_head, n_ev;
	uint64_t last_tai;
};

struct tp_verdict {
	char *summary;
	char *full;
};

struct test_provider {
	struct consumer consumer;
	struct http_provider provider;
	struct http *h;
	const struct cnode *nodes[TP_MAX_NODES];
	struct tp_resource res[TP_MAX_RES];
	size_t n_res;
	struct tp_verdict *verdicts; /* id = index + 1 */
	size_t n_verdicts, cap;
	uint64_t counts[HTTP_VERDICT_MAX];
};

static const char *node_name(const struct test_provider *tp, uint32_t i)
{
	return i < TP_MAX_NODES && tp->nodes[i] ? tp->nodes[i]->name : "?";
}

static struct tp_resource *tp_resource(struct test_provider *tp,
				       const uint8_t *name, size_t len)
{
	struct tp_resource *r;
	size_t i;

	for (i = 0; i < tp->n_res; i++)
		if (tp->res[i].len == len &&
		    !memcmp(tp->res[i].name, name, len))
			return &tp->res[i];
	if (tp->n_res == TP_MAX_RES)
		return NULL;
	r = &tp->res[tp->n_res];
	r->name = malloc(len ? len : 1);
	if (!r->name)
		return NULL;
	memcpy(r->name, name, len);
	r->len = len;
	tp->n_res++;
	return r;
}

static const struct tp_event *tp_ev(const struct tp_resource *r, unsigned int i)
{
	return &r->ev[(r->ev_head + i) % TP_EVENTS];
}

static void tp_remember(struct tp_resource *r, const struct tp_event *e)
{
	if (r->n_ev < TP_EVENTS) {
		r->ev[(r->ev_head + r->n_ev++) % TP_EVENTS] = *e;
	} else {
		r->ev[r->ev_head] = *e;
		r->ev_head = (r->ev_head + 1) % TP_EVENTS;
	}
	r->last_tai = e->tai;
}

/* A message from @from sent after @after reached @to by @before? */
static bool tp_happens_before(const struct tp_resource *r, uint32_t from,
			      uint64_t after, uint32_t to, uint64_t before)
{
	unsigned int i, k;

	for (i = 0; i < r->n_ev; i++) {
		const struct tp_event *s = tp_ev(r, i);

		if (s->type != FEED_SEND || s->node != from || s->tai < after)
			continue;
		for (k = 0; k < r->n_ev; k++) {
			const struct tp_event *v = tp_ev(r, k);

			if (v->type == FEED_RECV && v->node == to &&
			    v->msg == s->msg && v->tai <= before)
				return true;
		}
	}
	return false;
}

static void hold_json(struct json *j, const struct test_provider *tp,
		      const struct tp_hold *h, bool verdict)
{
	json_object_begin(j);
	json_kv_str(j, "node", node_name(tp, h->node));
	json_kv_str(j, "mode", mode_names[h->mode]);
	if (verdict) {
		json_kv_u64(j, "grant_ns", h->grant);
		if (h->open)
			json_kv_null(j, "release_ns");
		else
			json_kv_u64(j, "release_ns", h->release);
		json_kv_u64(j, "eps_ns", h->grant_eps);
		json_kv_bool(j, "conflict", h->conflict);
	} else {
		json_kv_u64(j, "since_tai_ns", h->grant);
		json_kv_u64(j, "eps_ns", h->grant_eps);
	}
	json_object_end(j);
}

static void resource_json(struct json *j, const struct test_provider *tp,
			  const struct tp_resource *r)
{
	int i;

	json_object_begin(j);
	json_kv_strn(j, "resource", r->name, r->len);
	json_key(j, "holders");
	json_array_begin(j);
	for (i = 0; i < TP_HOLDS; i++)
		if (r->holds[i].used && r->holds[i].open)
			hold_json(j, tp, &r->holds[i], false);
	json_array_end(j);
	json_kv_u64(j, "last_tai_ns", r->last_tai);
	json_object_end(j);
}

static char *tp_string(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	if (!s)
		return NULL;
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static void tp_publish(struct test_provider *tp, const char *name,
		       struct evbuffer *b)
{
	char *s;

	if (!tp->h)
		return;
	s = tp_string(b);
	if (s)
		http_publish(tp->h, name, s);
	free(s);
}

static void verdict_summary(struct json *j, uint64_t id,
			    enum http_verdict_class cls,
			    const struct tp_resource *r, uint64_t tai,
			    const char *a, const char *b)
{
	json_kv_u64(j, "id", id);
	json_kv_str(j, "class", http_verdict_class_name(cls));
	json_kv_strn(j, "resource", r->name, r->len);
	json_kv_str(j, "model", "lock_safety");
	json_kv_u64(j, "tai_ns", tai);
	json_key(j, "nodes");
	json_array_begin(j);
	json_str(j, a);
	json_str(j, b);
	json_array_end(j);
}

static void tp_verdict(struct test_provider *tp, struct tp_resource *r,
		       const struct tp_hold *old, const struct tp_hold *new,
		       enum http_verdict_class cls)
{
	static const char *const type_names[] = { "test:lock", "test:send",
						  "test:recv" };
	struct evbuffer *b = evbuffer_new();
	bool in_clocks[TP_MAX_NODES] = { false };
	uint64_t id = tp->n_verdicts + 1;
	struct tp_verdict v = { NULL, NULL };
	struct json j;
	unsigned int i, k;
	char text[64];

	if (!b)
		return;
	if (tp->n_verdicts == tp->cap) {
		size_t cap = tp->cap ? 2 * tp->cap : 16;
		struct tp_verdict *p = realloc(tp->verdicts, cap * sizeof(*p));

		if (!p)
			goto out;
		tp->verdicts = p;
		tp->cap = cap;
	}
	json_init(&j, b);
	json_object_begin(&j);
	verdict_summary(&j, id, cls, r, new->grant, node_name(tp, old->node),
			node_name(tp, new->node));
	json_object_end(&j);
	v.summary = tp_string(b);

	json_init(&j, b);
	json_object_begin(&j);
	verdict_summary(&j, id, cls, r, new->grant, node_name(tp, old->node),
			node_name(tp, new->node));
	json_key(&j, "holds");
	json_array_begin(&j);
	for (i = 0; i < TP_HOLDS; i++)
		if (r->holds[i].used)
			hold_json(&j, tp, &r->holds[i], true);
	json_array_end(&j);
	json_key(&j, "events");
	json_array_begin(&j);
	for (i = 0; i < r->n_ev; i++) {
		const struct tp_event *e = tp_ev(r, i);

		if (e->type == FEED_LOCK)
			snprintf(text, sizeof(text), "%s %s",
				 e->op == FEED_GRANT ? "grant" : "release",
				 mode_names[e->mode]);
		else
			snprintf(text, sizeof(text), "%s msg %llu",
				 e->type == FEED_SEND ? "send" : "recv",
				 (unsigned long long)e->msg);
		json_object_begin(&j);
		json_kv_str(&j, "node", node_name(tp, e->node));
		json_kv_u64(&j, "tai_ns", e->tai);
		json_kv_u64(&j, "eps_ns", e->eps);
		json_kv_str(&j, "name", type_names[e->type]);
		json_kv_str(&j, "text", text);
		json_object_end(&j);
		if (e->node < TP_MAX_NODES)
			in_clocks[e->node] = true;
	}
	json_array_end(&j);
	in_clocks[old->node] = in_clocks[new->node] = true;
	json_key(&j, "clocks");
	json_array_begin(&j);
	for (i = 0; i < TP_MAX_NODES; i++) {
		const Netrv__ClockStatus *c;

		if (!in_clocks[i] || !tp->nodes[i])
			continue;
		c = &tp->nodes[i]->clock;
		json_object_begin(&j);
		json_kv_str(&j, "node", tp->nodes[i]->name);
		json_kv_str(
			&j, "source",
			c->source == NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP ?
				"ptp" :
			c->source == NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP ?
				"roundtrip" :
				"none");
		json_kv_bool(&j, "synced", c->synced);
		json_kv_i64(&j, "offset_ns", c->master_offset_ns);
		json_kv_u64(&j, "eps_ns", c->epsilon_ns);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_key(&j, "causal");
	json_array_begin(&j);
	for (i = 0; i < r->n_ev; i++) {
		const struct tp_event *s = tp_ev(r, i);

		if (s->type != FEED_SEND)
			continue;
		for (k = 0; k < r->n_ev; k++) {
			const struct tp_event *d = tp_ev(r, k);

			if (d->type != FEED_RECV || d->msg != s->msg)
				continue;
			json_object_begin(&j);
			json_key(&j, "from");
			json_object_begin(&j);
			json_kv_str(&j, "node", node_name(tp, s->node));
			json_kv_u64(&j, "tai_ns", s->tai);
			json_object_end(&j);
			json_key(&j, "to");
			json_object_begin(&j);
			json_kv_str(&j, "node", node_name(tp, d->node));
			json_kv_u64(&j, "tai_ns", d->tai);
			json_object_end(&j);
			json_object_end(&j);
		}
	}
	json_array_end(&j);
	json_object_end(&j);
	v.full = tp_string(b);
	if (j.err || !v.summary || !v.full)
		goto out;
	tp->verdicts[tp->n_verdicts++] = v;
	tp->counts[cls]++;
	if (tp->h)
		http_publish(tp->h, "verdict", v.summary);
	v.summary = v.full = NULL;
out:
	free(v.summary);
	free(v.full);
	evbuffer_free(b);
}

static void tp_grant(struct test_provider *tp, struct tp_resource *r,
		     const struct cevent *ev, int mode)
{
	struct tp_hold *slot = NULL, *h;
	uint32_t me = ev->node->index;
	bool free_slot;
	int i;

	/* A free slot, else the one released longest ago. */
	for (i = 0; i < TP_HOLDS && !slot; i++)
		if (!r->holds[i].used)
			slot = &r->holds[i];
	free_slot = slot != NULL;
	for (i = 0; i < TP_HOLDS && !free_slot; i++) {
		h = &r->holds[i];
		if (!h->open && (!slot || h->release < slot->release))
			slot = h;
	}
	if (!slot)
		return; /* TP_HOLDS open holds: a test does not do that */
	*slot = (struct tp_hold){ .used = true,
				  .open = true,
				  .node = me,
				  .mode = mode,
				  .grant = ev->tai_ns,
				  .grant_eps = ev->eps_ns };
	for (i = 0; i < TP_HOLDS; i++) {
		h = &r->holds[i];
		if (h == slot || !h->used || h->node == me ||
		    compat[h->mode][mode])
			continue;
		if (h->open) {
			h->conflict = slot->conflict = true;
			tp_verdict(tp, r, h, slot, HTTP_VERDICT_DEFINITE);
		} else if (ev->tai_ns - ev->eps_ns <
				   h->release + h->release_eps &&
			   !tp_happens_before(r, h->node, h->release, me,
					      ev->tai_ns)) {
			h->conflict = slot->conflict = true;
			tp_verdict(tp, r, h, slot, HTTP_VERDICT_POSSIBLE);
		}
		h->conflict = slot->conflict = false;
	}
}

static void tp_release(struct tp_resource *r, const struct cevent *ev)
{
	struct tp_hold *h, *last = NULL;
	int i;

	for (i = 0; i < TP_HOLDS; i++) {
		h = &r->holds[i];
		if (h->used && h->open && h->node == ev->node->index &&
		    (!last || h->grant > last->grant))
			last = h;
	}
	if (!last)
		return;
	last->open = false;
	last->release = ev->tai_ns;
	last->release_eps = ev->eps_ns;
}

static void tp_event(struct consumer *c, const struct cevent *ev)
{
	struct test_provider *tp =
		container_of(c, struct test_provider, consumer);
	int ri = evpack_field_index(ev->type, "resource");
	struct tp_event e = { 0 };
	struct tp_resource *r;
	struct evbuffer *b;
	struct json j;

	if (ri < 0 || strcmp(ev->type->system, "test"))
		return;
	if (ev->node->index < TP_MAX_NODES)
		tp->nodes[ev->node->index] = ev->node;
	r = tp_resource(tp, ev->vals[ri].bytes, ev->vals[ri].len);
	if (!r)
		return;
	e.node = ev->node->index;
	e.tai = ev->tai_ns;
	e.eps = ev->eps_ns;
	if (!strcmp(ev->type->name, "lock")) {
		e.type = FEED_LOCK;
		e.mode = ev->vals[evpack_field_index(ev->type, "mode")].s;
		e.op = ev->vals[evpack_field_index(ev->type, "op")].s;
		if (e.mode < 0 || e.mode > 5)
			return;
		tp_remember(r, &e);
		if (e.op == FEED_GRANT)
			tp_grant(tp, r, ev, e.mode);
		else
			tp_release(r, ev);
		b = evbuffer_new();
		if (!b)
			return;
		json_init(&j, b);
		resource_json(&j, tp, r);
		if (!j.err)
			tp_publish(tp, "resource", b);
		evbuffer_free(b);
	} else {
		e.type =
			!strcmp(ev->type->name, "send") ? FEED_SEND : FEED_RECV;
		e.msg = ev->vals[evpack_field_index(ev->type, "msg")].u;
		tp_remember(r, &e);
	}
}

static void tp_consumer_destroy(struct consumer *c)
{
}

static const struct consumer_ops tp_consumer_ops = {
	.event = tp_event,
	.destroy = tp_consumer_destroy,
};

static int tp_resources(struct http_provider *p, const struct http_query *q,
			struct evbuffer *out)
{
	struct test_provider *tp =
		container_of(p, struct test_provider, provider);
	unsigned int n = 0;
	struct json j;
	size_t i;

	json_init(&j, out);
	json_array_begin(&j);
	for (i = 0; i < tp->n_res && n < q->limit; i++) {
		const struct tp_resource *r = &tp->res[i];

		if (q->filter &&
		    !memmem(r->name, r->len, q->filter, q->filter_len))
			continue;
		resource_json(&j, tp, r);
		n++;
	}
	json_array_end(&j);
	return j.err ? -1 : 0;
}

static int tp_verdicts(struct http_provider *p, const struct http_query *q,
		       struct evbuffer *out)
{
	struct test_provider *tp =
		container_of(p, struct test_provider, provider);
	unsigned int n = 0;
	struct json j;
	size_t i;

	json_init(&j, out);
	json_array_begin(&j);
	for (i = tp->n_verdicts; i > q->since && n < q->limit; i--, n++)
		json_raw(&j, tp->verdicts[i - 1].summary,
			 strlen(tp->verdicts[i - 1].summary));
	json_array_end(&j);
	return j.err ? -1 : 0;
}

static int tp_verdict_full(struct http_provider *p, uint64_t id,
			   struct evbuffer *out)
{
	struct test_provider *tp =
		container_of(p, struct test_provider, provider);

	if (!id || id > tp->n_verdicts) {
		errno = ENOENT;
		return -1;
	}
	return evbuffer_add(out, tp->verdicts[id - 1].full,
			    strlen(tp->verdicts[id - 1].full));
}

static void tp_summary(struct http_provider *p, struct http_summary *s)
{
	struct test_provider *tp =
		container_of(p, struct test_provider, provider);
	int c;

	for (c = 0; c < HTTP_VERDICT_MAX; c++)
		s->verdicts[c] += tp->counts[c];
}

static void tp_metrics(struct http_provider *p, struct http_metrics *m)
{
	struct test_provider *tp =
		container_of(p, struct test_provider, provider);
	size_t i, held = 0;
	int k;

	for (i = 0; i < tp->n_res; i++)
		for (k = 0; k < TP_HOLDS; k++)
			held += tp->res[i].holds[k].used &&
				tp->res[i].holds[k].open;
	http_metrics_family(m, "netrv_test_provider_resources", "gauge",
			    "Resources the TEST provider has seen");
	http_metrics_sample(m, tp->n_res, NULL);
	http_metrics_family(m, "netrv_test_provider_holds", "gauge",
			    "Holds open in the TEST provider's lock table");
	http_metrics_sample(m, held, NULL);
}

static const struct http_provider_ops tp_provider_ops = {
	.resources = tp_resources,
	.verdicts = tp_verdicts,
	.verdict = tp_verdict_full,
	.summary = tp_summary,
	.metrics = tp_metrics,
};

struct test_provider *test_provider_create(struct http *h)
{
	struct test_provider *tp = calloc(1, sizeof(*tp));

	if (!tp)
		return NULL;
	tp->h = h;
	tp->consumer.ops = &tp_consumer_ops;
	tp->consumer.name = "test-provider";
	tp->provider.ops = &tp_provider_ops;
	tp->provider.name = "test-provider";
	return tp;
}

void test_provider_destroy(struct test_provider *tp)
{
	size_t i;

	if (!tp)
		return;
	for (i = 0; i < tp->n_res; i++)
		free(tp->res[i].name);
	for (i = 0; i < tp->n_verdicts; i++) {
		free(tp->verdicts[i].summary);
		free(tp->verdicts[i].full);
	}
	free(tp->verdicts);
	free(tp);
}

struct consumer *test_provider_consumer(struct test_provider *tp)
{
	return &tp->consumer;
}

struct http_provider *test_provider_provider(struct test_provider *tp)
{
	return &tp->provider;
}

uint64_t test_provider_verdicts(const struct test_provider *tp)
{
	return tp->n_verdicts;
}
