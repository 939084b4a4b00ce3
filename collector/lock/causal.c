// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * causal.c - happens-before from send/receive pairs, and causal delivery.
 *
 * Every node has a vector clock: its own entry counts its delivered events
 * (the event's "lseq"), the others say how far each node's history is known
 * to precede it.  A send stores a snapshot; the matching receive merges it.
 * Then "x happens before y" is exactly vc(y)[node(x)] >= lseq(x).
 *
 * The merge releases events in TAI order, and with real clocks a receive
 * can carry an earlier TAI than its send (eps on both sides): then it is
 * released first.  Delivering it without its send would lose the edge, so
 * the receiving node is held back: its events wait in a per-node queue
 * until the send is delivered.  If the send has not come once the merge
 * has passed the receive's TAI + its eps + the largest eps, an honest send
 * can no longer come: the receive is delivered without an edge (fewer
 * facts, so never a wrong "safe"), and a send arriving later is a
 * clock-bound violation.  A matched pair whose clock windows contradict
 * (recv + eps_r < send - eps_s) is a clock-bound violation too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"

struct lock_pend {
	struct cevent ev;
	size_t off; /* of the values in lnode.pend_data */
};

int lock_causal_init(struct lock_engine *e)
{
	e->mtab_cap = 1024;
	e->mtab = calloc(e->mtab_cap, sizeof(*e->mtab));
	return e->mtab ? 0 : -1;
}

void lock_causal_destroy(struct lock_engine *e)
{
	struct lock_msg *m, *mn;

	for (m = e->mold; m; m = mn) {
		mn = m->lnext;
		free(m->vc);
		free(m);
	}
	for (m = e->msg_free; m; m = mn) {
		mn = m->lnext;
		free(m->vc);
		free(m);
	}
	free(e->mtab);
}

int lock_vc_grow(struct lock_engine *e, uint32_t need)
{
	uint32_t cap = e->vc_cap ? e->vc_cap : 8;

	while (cap < need)
		cap *= 2;
	if (cap == e->vc_cap)
		return 0;
	for (size_t i = 0; i < e->n_nodes; i++) {
		struct lnode *n = e->nodes[i];
		uint64_t *vc;

		if (!n)
			continue;
		vc = realloc(n->vc, cap * sizeof(*vc));
		if (!vc)
			return -1;
		memset(vc + e->vc_cap, 0, (cap - e->vc_cap) * sizeof(*vc));
		n->vc = vc;
	}
	e->vc_cap = cap;
	return 0;
}

static uint64_t key_field(const struct cevent *ev, int f)
{
	const struct evpack_value *v;

	if (f < 0)
		return 0;
	v = &ev->vals[f];
	if (v->bytes)
		return lock_hash_bytes(LOCK_HASH_SEED, v->bytes, v->len);
	return v->u;
}

static void make_key(uint64_t key[LOCK_PAIR_KEYS + 1], const struct cevent *ev,
		     const struct lock_tinfo *ti, unsigned int r)
{
	key[0] = ti->r[r].rule;
	for (int i = 0; i < LOCK_PAIR_KEYS; i++)
		key[i + 1] = key_field(ev, ti->r[r].f[i]);
}

static uint64_t key_hash(const uint64_t key[LOCK_PAIR_KEYS + 1])
{
	return lock_hash_bytes(LOCK_HASH_SEED, key,
			       (LOCK_PAIR_KEYS + 1) * sizeof(uint64_t));
}

static struct lock_msg *msg_find(struct lock_engine *e,
				 const uint64_t key[LOCK_PAIR_KEYS + 1],
				 uint64_t h, bool is_recv)
{
	struct lock_msg *m = e->mtab[h & (e->mtab_cap - 1)];

	for (; m; m = m->hnext)
		if (m->hash == h && m->is_recv == is_recv &&
		    !memcmp(m->key, key, sizeof(m->key)))
			return m;
	return NULL;
}

static void msg_del(struct lock_engine *e, struct lock_msg *m)
{
	struct lock_msg **pp = &e->mtab[m->hash & (e->mtab_cap - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == m) {
			*pp = m->hnext;
			break;
		}
	if (m->lprev)
		m->lprev->lnext = m->lnext;
	else
		e->mold = m->lnext;
	if (m->lnext)
		m->lnext->lprev = m->lprev;
	else
		e->mnew = m->lprev;
	m->lnext = e->msg_free;
	e->msg_free = m;
	e->n_msgs--;
}

static struct lock_msg *msg_add(struct lock_engine *e,
				const uint64_t key[LOCK_PAIR_KEYS + 1],
				uint64_t h, bool is_recv, struct lctx *c)
{
	struct lock_msg *m;

	if (e->n_msgs >= e->conf.max_pending && e->mold) {
		e->st.pending_dropped++;
		msg_del(e, e->mold);
	}
	m = e->msg_free;
	if (m) {
		e->msg_free = m->lnext;
	} else {
		m = calloc(1, sizeof(*m));
		if (!m)
			return NULL;
	}
	memcpy(m->key, key, sizeof(m->key));
	m->hash = h;
	m->is_recv = is_recv;
	m->node = c->n->cn;
	m->tai = c->tai;
	m->eps = c->eps;
	m->lseq = c->lseq;
	m->born_tai = c->tai;
	m->vc_len = 0;
	if (!is_recv) {
		if (m->vc_alloc < e->vc_cap) {
			uint64_t *vc = realloc(m->vc, e->vc_cap * sizeof(*vc));

			if (!vc) {
				m->lnext = e->msg_free;
				e->msg_free = m;
				return NULL;
			}
			m->vc = vc;
			m->vc_alloc = e->vc_cap;
		}
		memcpy(m->vc, c->n->vc, e->vc_cap * sizeof(*m->vc));
		m->vc_len = e->vc_cap;
	}
	m->hnext = e->mtab[h & (e->mtab_cap - 1)];
	e->mtab[h & (e->mtab_cap - 1)] = m;
	m->lnext = NULL;
	m->lprev = e->mnew;
	if (e->mnew)
		e->mnew->lnext = m;
	else
		e->mold = m;
	e->mnew = m;
	e->n_msgs++;
	return m;
}

/* dst = max(dst, src): the hot loop of a receive, kept vectorisable */
static void vc_merge(uint64_t *restrict dst, const uint64_t *restrict src,
		     uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		dst[i] = src[i] > dst[i] ? src[i] : dst[i];
}

static void clock_bound(struct lock_engine *e, const struct lock_msg *s,
			const struct cnode *rn, uint64_t rtai, uint64_t reps,
			uint64_t rlseq)
{
	struct verdict v = {
		.cls = VERDICT_CLOCK_BOUND,
		.tai_ns = rtai > s->tai ? rtai : s->tai,
		.reason =
			"a message was received before it was sent, beyond both nodes' eps: their clock bounds are wrong",
		.has_msg = true,
		.send = { s->node, s->tai, s->eps, s->lseq },
		.recv = { rn, rtai, reps, rlseq },
	};

	lock_verdict_clocks(&v, s->node, rn);
	lock_emit(e, &v);
}

void lock_causal_send(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r)
{
	uint64_t key[LOCK_PAIR_KEYS + 1];
	uint64_t h;
	struct lock_msg *m;

	make_key(key, ev, ti, r);
	h = key_hash(key);
	m = msg_find(e, key, h, true);
	if (m) {
		/* its receive was delivered already, without this edge */
		struct lock_msg s = { .node = c->n->cn,
				      .tai = c->tai,
				      .eps = c->eps,
				      .lseq = c->lseq };

		if (m->tai + m->eps < c->tai - c->eps)
			clock_bound(e, &s, m->node, m->tai, m->eps, m->lseq);
		else
			e->st.messages_late++;
		msg_del(e, m);
		return;
	}
	/* a retransmission keeps the first send: the weaker claim */
	if (msg_find(e, key, h, false))
		return;
	if (!msg_add(e, key, h, false, c)) {
		pr_err("out of memory for a message: causal edge lost");
		return;
	}
	if (e->n_blocked) {
		for (size_t i = 0; i < e->n_nodes; i++) {
			struct lnode *n = e->nodes[i];

			if (n && n->blocked && !n->ready &&
			    !memcmp(n->block_key, key, sizeof(key))) {
				n->ready = true;
				e->n_ready++;
			}
		}
	}
}

bool lock_causal_recv_ready(struct lock_engine *e, struct lnode *n,
			    const struct cevent *ev,
			    const struct lock_tinfo *ti, unsigned int r)
{
	uint64_t key[LOCK_PAIR_KEYS + 1];

	make_key(key, ev, ti, r);
	if (msg_find(e, key, key_hash(key), false))
		return true;
	memcpy(n->block_key, key, sizeof(key));
	return false;
}

void lock_causal_recv(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r)
{
	uint64_t key[LOCK_PAIR_KEYS + 1];
	uint64_t h;
	struct lock_msg *m;
	uint32_t len;

	make_key(key, ev, ti, r);
	h = key_hash(key);
	m = msg_find(e, key, h, false);
	if (!m) {
		/* given up waiting: remember it for a late send */
		e->st.recv_orphans++;
		msg_add(e, key, h, true, c);
		return;
	}
	len = m->vc_len < e->vc_cap ? m->vc_len : e->vc_cap;
	vc_merge(c->n->vc, m->vc, len);
	e->st.messages_matched++;
	if (c->tai + c->eps < m->tai - m->eps)
		clock_bound(e, m, c->n->cn, c->tai, c->eps, c->lseq);
	msg_del(e, m);
}

static int pend_push(struct lock_engine *e, struct lnode *n,
		     const struct cevent *ev)
{
	size_t nf = ev->type ? ev->type->n_fields : 0;
	size_t need = nf * sizeof(struct evpack_value);
	struct evpack_value *vals;
	size_t off;

	for (size_t i = 0; i < nf; i++)
		if (ev->vals[i].bytes)
			need += ev->vals[i].len;
	if (n->pend_head + n->pend_len == n->pend_cap) {
		if (n->pend_head) {
			memmove(n->pend, n->pend + n->pend_head,
				n->pend_len * sizeof(*n->pend));
			n->pend_head = 0;
		} else {
			size_t cap = n->pend_cap ? n->pend_cap * 2 : 64;
			struct lock_pend *p =
				realloc(n->pend, cap * sizeof(*p));

			if (!p)
				return -1;
			n->pend = p;
			n->pend_cap = cap;
		}
	}
	/* keep values aligned */
	n->pend_data.len = (n->pend_data.len + 7) & ~(size_t)7;
	if (bytebuf_reserve(&n->pend_data, need + 8) < 0)
		return -1;
	off = n->pend_data.len;
	vals = (struct evpack_value *)(n->pend_data.data + off);
	if (nf)
		memcpy(vals, ev->vals, nf * sizeof(*vals));
	n->pend_data.len += nf * sizeof(*vals);
	for (size_t i = 0; i < nf; i++) {
		if (!ev->vals[i].bytes)
			continue;
		memcpy(n->pend_data.data + n->pend_data.len, ev->vals[i].bytes,
		       ev->vals[i].len);
		/* an offset for now; made a pointer again on replay */
		vals[i].bytes = (const uint8_t *)(uintptr_t)(n->pend_data.len -
							     off + 1);
		n->pend_data.len += ev->vals[i].len;
	}
	n->pend[n->pend_head + n->pend_len] =
		(struct lock_pend){ .ev = *ev, .off = off };
	n->pend[n->pend_head + n->pend_len].ev.vals = NULL;
	n->pend_len++;
	return 0;
}

/* The held-back event at the head of @n's queue, values made whole. */
static struct cevent pend_head(struct lock_engine *e, struct lnode *n)
{
	struct lock_pend *p = &n->pend[n->pend_head];
	const uint8_t *base = n->pend_data.data + p->off;
	const struct evpack_value *vals = (const void *)base;
	size_t nf = p->ev.type ? p->ev.type->n_fields : 0;
	struct cevent ev = p->ev;

	for (size_t i = 0; i < nf; i++) {
		e->scratch[i] = vals[i];
		if (vals[i].bytes)
			e->scratch[i].bytes =
				base + (uintptr_t)vals[i].bytes - 1;
	}
	ev.vals = e->scratch;
	return ev;
}

static void pend_pop(struct lnode *n)
{
	n->pend_head++;
	if (!--n->pend_len) {
		n->pend_head = 0;
		n->pend_data.len = 0;
	}
}

/* Deliver @n's held-back events until one must wait again. */
static void replay(struct lock_engine *e, struct lnode *n, bool give_up)
{
	if (n->ready) {
		n->ready = false;
		e->n_ready--;
	}
	while (n->pend_len) {
		struct cevent ev = pend_head(e, n);

		if (!ev.type) {
			/* a loss or liveness change, in its place */
			lock_node_news(e, n, ev.index, ev.tai_ns, ev.trace_ns,
				       ev.seq);
			pend_pop(n);
			continue;
		}
		if (!(lock_deliver_one(e, n, &ev, give_up)))
			return;
		give_up = false;
		pend_pop(n);
	}
	n->blocked = false;
	e->n_blocked--;
}

static void drain(struct lock_engine *e)
{
	bool again = e->n_ready > 0;

	while (again) {
		again = false;
		for (size_t i = 0; i < e->n_nodes; i++) {
			struct lnode *n = e->nodes[i];

			if (n && n->ready) {
				replay(e, n, false);
				again = true;
			}
		}
	}
}

bool lock_causal_event(struct lock_engine *e, struct lnode *n,
		       const struct cevent *ev, const struct lock_tinfo *ti)
{
	if (!n->blocked) {
		if (lock_deliver_one(e, n, ev, false)) {
			drain(e);
			return false;
		}
		n->blocked = true;
		e->n_blocked++;
	}
	if (ev->type->n_fields > e->scratch_cap) {
		size_t cap = ev->type->n_fields * 2;
		struct evpack_value *s = realloc(e->scratch, cap * sizeof(*s));

		if (!s)
			goto oom;
		e->scratch = s;
		e->scratch_cap = cap;
	}
	if (pend_push(e, n, ev) < 0)
		goto oom;
	return true;
oom:
	pr_err("out of memory holding back an event of %s: delivered without its causes",
	       n->cn->name);
	lock_deliver_one(e, n, ev, true);
	return true;
}

bool lock_causal_news(struct lock_engine *e, struct lnode *n, unsigned int what,
		      uint64_t from, uint64_t to, uint64_t count)
{
	struct cevent mark = { .node = n->cn,
			       .index = what,
			       .tai_ns = from,
			       .trace_ns = to,
			       .seq = count };

	/*
	 * What a node lost comes after what it did before: while its events
	 * are held back, so is the news about it.
	 */
	if (!n->blocked || pend_push(e, n, &mark) < 0)
		return false;
	return true;
}

uint64_t lock_causal_horizon(struct lock_engine *e, uint64_t w)
{
	if (!e->n_blocked)
		return w;
	for (size_t i = 0; i < e->n_nodes; i++) {
		struct lnode *n = e->nodes[i];

		if (n && n->blocked && n->pend_len &&
		    n->pend[n->pend_head].ev.tai_ns < w)
			w = n->pend[n->pend_head].ev.tai_ns;
	}
	return w;
}

void lock_causal_watermark(struct lock_engine *e, uint64_t w)
{
	struct lock_msg *m;

	/* receives whose honest send would have come by now */
	for (size_t i = 0; e->n_blocked && i < e->n_nodes; i++) {
		struct lnode *n = e->nodes[i];

		/* the next held-back receive may be as overdue */
		while (n && n->blocked && n->pend_len &&
		       n->pend[n->pend_head].ev.tai_ns +
				       n->pend[n->pend_head].ev.eps_ns +
				       e->eps_max <
			       w) {
			replay(e, n, true);
			drain(e);
		}
	}
	while ((m = e->mold) && m->born_tai + e->conf.msg_timeout_ns < w)
		msg_del(e, m);
}

int lock_causal_restore_msg(struct lock_engine *e,
			    const uint64_t key[LOCK_PAIR_KEYS + 1],
			    bool is_recv, const struct cnode *node,
			    uint64_t tai, uint64_t eps, uint64_t lseq,
			    uint64_t born_tai, const uint64_t *vc)
{
	struct lnode n = { .cn = node, .vc = (uint64_t *)vc };
	struct lctx c = { .n = &n, .tai = tai, .eps = eps, .lseq = lseq };
	struct lock_msg *m;

	m = msg_add(e, key, key_hash(key), is_recv, &c);
	if (!m)
		return -1;
	m->born_tai = born_tai;
	return 0;
}

void lock_causal_held(const struct lnode *n, uint64_t *count, uint64_t *from,
		      uint64_t *to)
{
	*count = 0;
	*from = UINT64_MAX;
	*to = 0;
	for (size_t i = 0; i < n->pend_len; i++) {
		const struct cevent *ev = &n->pend[n->pend_head + i].ev;

		if (!ev->type)
			continue; /* news: it says itself what is unknown */
		(*count)++;
		if (ev->tai_ns < *from)
			*from = ev->tai_ns;
		if (ev->tai_ns > *to)
			*to = ev->tai_ns;
	}
}
