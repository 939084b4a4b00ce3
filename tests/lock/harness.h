/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * harness.h - what the lock tests share: event types built by hand (as an
 * agent's schema would describe them), nodes, events, and a sink that
 * keeps every verdict the engine makes.
 */
#ifndef NETRV_TESTS_LOCK_HARNESS_H
#define NETRV_TESTS_LOCK_HARNESS_H

#include <stdlib.h>
#include <string.h>

#include "lock.h"

#define TH_MAX_FIELDS 12

struct th_type {
	Netrv__EventType t;
	Netrv__Field f[TH_MAX_FIELDS];
	Netrv__Field *fp[TH_MAX_FIELDS];
};

/* @kinds: one letter per field, 'i' integer, 's' string, 'b' bytes */
static inline void th_type_init(struct th_type *tt, const char *sys,
				const char *name, const char *kinds,
				const char *const *fields)
{
	size_t n = strlen(kinds);

	memset(tt, 0, sizeof(*tt));
	netrv__event_type__init(&tt->t);
	tt->t.system = (char *)sys;
	tt->t.name = (char *)name;
	for (size_t i = 0; i < n; i++) {
		netrv__field__init(&tt->f[i]);
		tt->f[i].name = (char *)fields[i];
		tt->f[i].kind =
			kinds[i] == 'i' ? NETRV__FIELD_KIND__FIELD_INT :
			kinds[i] == 's' ? NETRV__FIELD_KIND__FIELD_STRING :
					  NETRV__FIELD_KIND__FIELD_BYTES;
		tt->f[i].size = 8;
		tt->f[i].is_signed = true;
		tt->fp[i] = &tt->f[i];
	}
	tt->t.n_fields = n;
	tt->t.fields = tt->fp;
}

/*
 * The tests' user-space lock service: "test:acq" (res, mode, holder) and
 * "test:rel" (res, holder) with their user rules, and "test:send"/"recv"
 * paired on "msg".
 */
struct th_test_service {
	struct th_type acq, rel, send, recv;
	struct lock_user_rule rules[2];
	struct lock_pair_rule pairs[1];
};

static inline void th_test_service_init(struct th_test_service *ts)
{
	static const char *const f_acq[] = { "res", "mode", "holder" };
	static const char *const f_rel[] = { "res", "holder" };
	static const char *const f_msg[] = { "msg" };

	th_type_init(&ts->acq, "test", "acq", "sii", f_acq);
	th_type_init(&ts->rel, "test", "rel", "si", f_rel);
	th_type_init(&ts->send, "test", "send", "i", f_msg);
	th_type_init(&ts->recv, "test", "recv", "i", f_msg);
	ts->rules[0] = (struct lock_user_rule){ .system = "test",
						.event = "acq",
						.action = LOCK_USER_ACQUIRE,
						.name_field = "res",
						.mode_field = "mode",
						.holder_field = "holder" };
	ts->rules[1] = (struct lock_user_rule){ .system = "test",
						.event = "rel",
						.action = LOCK_USER_RELEASE,
						.name_field = "res",
						.holder_field = "holder" };
	ts->pairs[0] = (struct lock_pair_rule){ .send_system = "test",
						.send_event = "send",
						.recv_system = "test",
						.recv_event = "recv",
						.n_keys = 1,
						.send_key = { "msg" },
						.recv_key = { "msg" } };
}

static inline void th_node_init(struct cnode *n, uint32_t index,
				const char *name, uint64_t eps)
{
	memset(n, 0, sizeof(*n));
	n->index = index;
	n->name = name;
	netrv__clock_status__init(&n->clock);
	n->clock.source = NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP;
	n->clock.synced = true;
	n->clock.epsilon_ns = eps;
}

static inline struct evpack_value th_int(int64_t v)
{
	struct evpack_value x = { .s = v };

	return x;
}

static inline struct evpack_value th_str(const char *s)
{
	struct evpack_value x = { .bytes = (const uint8_t *)s,
				  .len = strlen(s) };

	return x;
}

static inline struct evpack_value th_bytes(const void *p, size_t len)
{
	struct evpack_value x = { .bytes = p, .len = len };

	return x;
}

static inline void th_send(struct consumer *c, const struct cnode *n,
			   const struct th_type *tt, uint64_t tai, uint64_t eps,
			   const struct evpack_value *vals)
{
	static uint64_t seq;
	struct cevent ev = {
		.node = n,
		.seq = ++seq,
		.tai_ns = tai,
		.trace_ns = tai,
		.eps_ns = eps,
		.type = &tt->t,
		.vals = vals,
	};

	c->ops->event(c, &ev);
}

/* A sink keeping verdicts (the first hold's and second hold's keys). */
struct th_verdict {
	enum verdict_class cls;
	unsigned int n_holds;
	uint32_t node[2];
	uint64_t holder[2], grant[2];
	bool open[2];
	char *json;
};

struct th_sink {
	struct verdict_sink sink;
	struct th_verdict *v;
	size_t n, cap;
};

static inline void th_sink_emit(struct verdict_sink *s, const struct verdict *v,
				const char *json, size_t len)
{
	struct th_sink *t = (struct th_sink *)s;
	struct th_verdict *x;

	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->v = realloc(t->v, t->cap * sizeof(*t->v));
		if (!t->v)
			abort();
	}
	x = &t->v[t->n++];
	memset(x, 0, sizeof(*x));
	x->cls = v->cls;
	x->n_holds = v->n_holds;
	for (unsigned int i = 0; i < v->n_holds; i++) {
		x->node[i] = v->holds[i].node->index;
		x->holder[i] = v->holds[i].holder;
		x->grant[i] = v->holds[i].grant_tai;
		x->open[i] = v->holds[i].release_open;
	}
	x->json = strndup(json, len);
}

static inline void th_sink_clear(struct th_sink *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].json);
	t->n = 0;
}

static inline void th_sink_destroy(struct verdict_sink *s)
{
	struct th_sink *t = (struct th_sink *)s;

	th_sink_clear(t);
	free(t->v);
	free(t);
}

static inline struct th_sink *th_sink_new(void)
{
	struct th_sink *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	t->sink.emit = th_sink_emit;
	t->sink.destroy = th_sink_destroy;
	return t;
}

static inline size_t th_count(const struct th_sink *t, enum verdict_class c)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->v[i].cls == c;
	return n;
}

#endif
