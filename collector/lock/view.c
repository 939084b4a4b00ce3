// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * view.c - the live state the dashboard serves: the lock table as it is
 * now, the recent verdicts by id, counters by class.  Answers are JSON
 * written into the caller's buffer (snprintf-style lengths), so the HTTP
 * part owns its memory and this part owns none of its requests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "lock_private.h"
#include "lock_reactor.h"

struct view_entry {
	uint64_t id;
	char *json;
	size_t len;
};

struct lock_view {
	struct verdict_sink sink;
	struct lock_engine *e;
	lock_view_res_fn change_fn;
	bool (*change_want)(void *arg);
	void *change_arg;
	struct lock_view_res scratch; /* filled for each callback */
	struct view_entry *ring;
	unsigned int cap, head, len;
};

static void view_emit(struct verdict_sink *s, const struct verdict *v,
		      const char *json, size_t len)
{
	struct lock_view *w = container_of(s, struct lock_view, sink);
	struct view_entry *slot;
	char *copy = malloc(len + 1);

	if (!copy)
		return;
	memcpy(copy, json, len + 1);
	if (w->len == w->cap) {
		slot = &w->ring[w->head];
		free(slot->json);
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	slot = &w->ring[(w->head + w->len) % w->cap];
	*slot = (struct view_entry){ .id = v->id, .json = copy, .len = len };
	w->len++;
}

static void view_destroy(struct verdict_sink *s)
{
	struct lock_view *w = container_of(s, struct lock_view, sink);

	if (w->e->res_changed_arg == w)
		w->e->res_changed = NULL;

	for (unsigned int i = 0; i < w->len; i++)
		free(w->ring[(w->head + i) % w->cap].json);
	free(w->ring);
	free(w);
}

struct lock_view *lock_view_create(struct lock_engine *e, unsigned int recent)
{
	struct lock_view *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cap = recent ? recent : 1;
	w->ring = calloc(w->cap, sizeof(*w->ring));
	if (!w->ring) {
		free(w);
		return NULL;
	}
	w->e = e;
	w->sink.emit = view_emit;
	w->sink.destroy = view_destroy;
	return w;
}

struct verdict_sink *lock_view_sink(struct lock_view *v)
{
	return &v->sink;
}

static void resource(struct jbuf *o, const struct lock_res *r, bool *first)
{
	bool any = false, fh = true;

	for (const struct lock_hold *h = r->holds; h; h = h->next)
		any |= h->open;
	if (!any)
		return;
	if (!*first)
		jbuf_put(o, ",", 1);
	*first = false;
	jbuf_put(o, "{\"domain\":", 10);
	jbuf_str(o, r->domain, strlen(r->domain));
	if (!strcmp(r->domain, "dlm"))
		jbuf_printf(o, ",\"lockspace\":%u", r->ls);
	jbuf_put(o, ",\"name\":", 8);
	jbuf_str(o, r->key, r->key_len);
	jbuf_put(o, ",\"name_hex\":\"", 13);
	for (unsigned int i = 0; i < r->key_len; i++)
		jbuf_printf(o, "%02x", r->key[i]);
	jbuf_printf(o, "\",\"incomplete\":%s,\"holders\":[",
		    r->incomplete ? "true" : "false");
	for (const struct lock_hold *h = r->holds; h; h = h->next) {
		const char *mode = lock_mode_name(r->m, h->mode);

		if (!h->open)
			continue;
		if (!fh)
			jbuf_put(o, ",", 1);
		fh = false;
		jbuf_put(o, "{\"node\":", 8);
		jbuf_str(o, h->n->cn->name, strlen(h->n->cn->name));
		jbuf_printf(o, ",\"holder\":\"0x%" PRIx64 "\",\"mode\":\"%s\"",
			    h->holder, mode);
		jbuf_printf(o,
			    ",\"since_tai_ns\":%" PRIu64 ",\"eps_ns\":%" PRIu64
			    ",\"uncertain\":%s}",
			    h->g_tai, h->g_eps,
			    h->uncertain ? "true" : "false");
	}
	jbuf_put(o, "]}", 2);
}

size_t lock_view_resources(const struct lock_view *v, char *buf, size_t len)
{
	const struct lock_engine *e = v->e;
	struct jbuf o = jbuf_init(buf, len);
	bool first = true;

	jbuf_printf(&o, "{\"watermark_tai_ns\":%" PRIu64 ",\"resources\":[",
		    e->watermark);
	for (size_t i = 0; i < e->rtab_cap; i++)
		for (const struct lock_res *r = e->rtab[i]; r; r = r->hnext)
			resource(&o, r, &first);
	jbuf_put(&o, "]}", 2);
	return jbuf_finish(&o);
}

static void counters(struct jbuf *o, const struct lock_engine *e)
{
	const struct lock_stats *st = &e->st;

	jbuf_put(o, "{", 1);
	for (int c = VERDICT_POSSIBLE; c < VERDICT_MAX; c++)
		jbuf_printf(o, "\"%s\":%" PRIu64 ",", verdict_class_name(c),
			    st->verdicts[c]);
	jbuf_printf(o,
		    "\"safe\":%" PRIu64 ",\"safe_causal\":%" PRIu64
		    ",\"safe_clock\":%" PRIu64 ",",
		    st->safe_causal + st->safe_clock, st->safe_causal,
		    st->safe_clock);
	jbuf_printf(o,
		    "\"events\":%" PRIu64 ",\"lock_events\":%" PRIu64
		    ",\"pairs_checked\":%" PRIu64 ",",
		    st->events, st->lock_events, st->pairs_checked);
	jbuf_printf(o,
		    "\"messages_matched\":%" PRIu64
		    ",\"messages_late\":%" PRIu64 ",\"recv_orphans\":%" PRIu64
		    ",",
		    st->messages_matched, st->messages_late, st->recv_orphans);
	jbuf_printf(o,
		    "\"resources\":%" PRIu64 ",\"holds\":%" PRIu64
		    ",\"unknown_lkb\":%" PRIu64 "}",
		    st->resources, st->holds, st->unknown_lkb);
}

size_t lock_view_counters(const struct lock_view *v, char *buf, size_t len)
{
	struct jbuf o = jbuf_init(buf, len);

	counters(&o, v->e);
	return jbuf_finish(&o);
}

size_t lock_view_verdicts(const struct lock_view *v, uint64_t after,
			  unsigned int limit, char *buf, size_t len)
{
	struct jbuf o = jbuf_init(buf, len);
	unsigned int n = 0;
	uint64_t last = after;

	jbuf_put(&o, "{\"verdicts\":[", 13);
	for (unsigned int i = 0; i < v->len && n < limit; i++) {
		const struct view_entry *ve = &v->ring[(v->head + i) % v->cap];

		if (ve->id <= after)
			continue;
		if (n++)
			jbuf_put(&o, ",", 1);
		jbuf_put(&o, ve->json, ve->len);
		last = ve->id;
	}
	jbuf_printf(&o, "],\"next_after\":%" PRIu64 ",\"counters\":", last);
	counters(&o, v->e);
	jbuf_put(&o, "}", 1);
	return jbuf_finish(&o);
}

size_t lock_view_verdict(const struct lock_view *v, uint64_t id, char *buf,
			 size_t len)
{
	struct jbuf o = jbuf_init(buf, len);

	for (unsigned int i = 0; i < v->len; i++) {
		const struct view_entry *ve = &v->ring[(v->head + i) % v->cap];

		if (ve->id == id) {
			jbuf_put(&o, ve->json, ve->len);
			return jbuf_finish(&o);
		}
	}
	errno = ENOENT;
	return (size_t)-1;
}

/* Fill @out from @r: its open holds (at most LOCK_VIEW_MAX_HOLDERS). */
static void res_info(const struct lock_res *r, uint64_t tai,
		     struct lock_view_res *out)
{
	out->domain = r->domain;
	out->lockspace = r->ls;
	out->name = r->key;
	out->name_len = r->key_len;
	out->incomplete = r->incomplete;
	out->last_tai = tai;
	out->n_holders = 0;
	for (const struct lock_hold *h = r->holds; h; h = h->next) {
		struct lock_view_holder *o;

		if (!h->open)
			continue;
		if (h->g_tai > out->last_tai)
			out->last_tai = h->g_tai;
		if (out->n_holders == LOCK_VIEW_MAX_HOLDERS)
			continue;
		o = &out->holders[out->n_holders++];
		*o = (struct lock_view_holder){
			.node = h->n->cn->name,
			.holder = h->holder,
			.mode = lock_mode_name(r->m, h->mode),
			.since_tai = h->g_tai,
			.eps = h->g_eps,
			.uncertain = h->uncertain,
		};
	}
}

void lock_view_foreach_resource(const struct lock_view *v, lock_view_res_fn fn,
				void *arg)
{
	const struct lock_engine *e = v->e;
	struct lock_view_res *ri = &((struct lock_view *)v)->scratch;

	for (size_t i = 0; i < e->rtab_cap; i++)
		for (const struct lock_res *r = e->rtab[i]; r; r = r->hnext) {
			res_info(r, 0, ri);
			if (ri->n_holders)
				fn(arg, ri);
		}
}

static void view_changed(void *arg, const struct lock_res *r, uint64_t tai)
{
	struct lock_view *w = arg;

	if (w->change_want && !w->change_want(w->change_arg))
		return; /* nobody listens: no walk of the holds per event */
	res_info(r, tai, &w->scratch);
	w->change_fn(w->change_arg, &w->scratch);
}

void lock_view_on_change(struct lock_view *v, bool (*want)(void *arg),
			 lock_view_res_fn fn, void *arg)
{
	v->change_want = want;
	v->change_fn = fn;
	v->change_arg = arg;
	v->e->res_changed = fn ? view_changed : NULL;
	v->e->res_changed_arg = fn ? v : NULL;
}
