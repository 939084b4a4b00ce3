// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * table.c - the lock table: resources, their holds, and the conflict pairs
 * waiting for a decision.
 *
 * A hold is one holder's reliance on one mode of one resource over
 * [grant, release].  When a grant is delivered, it is checked against every
 * hold of the resource still remembered: an incompatible hold on the same
 * node that is still open is a definite violation (local order is exact);
 * one on another node either is already provably before it (release ->
 * grant happens-before, or clock windows apart) or becomes a pair.  Each
 * delivered grant/release of a paired hold adds the happens-before facts
 * its node's vector clock proves; when both holds are closed, decide.c
 * rules on the pair.
 *
 * Memory: a closed hold is kept only until no later grant can be
 * undecidable against it: once everything older than its release + eps +
 * the largest eps has been delivered.  A resource is freed with its last
 * hold.
 *
 * Speed: a resource keeps its open holds and its kept closed holds in two
 * lists and counts its holds by mode.  A grant whose mode is compatible
 * with every mode held costs nothing more; otherwise it walks the open
 * holds and the closed ones newest first, and stops at the first closed
 * hold whose end_max (the latest release + eps of it and every older one)
 * is clock-separated from the grant.  So a hot resource costs a grant the
 * holders that can still conflict, not every hold kept for eps_floor.  Resources, holds and pairs come from free lists: after warm-up no
 * event allocates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"

int lock_table_init(struct lock_engine *e)
{
	e->rtab_cap = 1024;
	e->rtab = calloc(e->rtab_cap, sizeof(*e->rtab));
	if (!e->rtab)
		return -1;
	return 0;
}

static void rings_free(struct lock_hring *g)
{
	struct lock_hring *gn;

	for (; g; g = gn) {
		gn = g->next;
		free(g);
	}
}

static void hold_free_all(struct lock_engine *e)
{
	for (size_t i = 0; i < e->rtab_cap; i++) {
		struct lock_res *r = e->rtab[i], *rn;

		for (; r; r = rn) {
			struct lock_hold *h, *hn;

			rn = r->hnext;
			for (h = r->holds; h; h = hn) {
				hn = h->next;
				free(h);
			}
			for (h = r->closed; h; h = hn) {
				hn = h->next;
				free(h);
			}
			rings_free(r->rings);
			free(r);
		}
	}
}

void lock_table_destroy(struct lock_engine *e)
{
	struct lock_res *r;
	struct lock_hold *h;
	struct lock_pair *p;

	while ((p = e->open_pairs)) {
		e->open_pairs = p->all_next;
		free(p);
	}
	if (e->rtab)
		hold_free_all(e);
	while ((r = e->res_free)) {
		e->res_free = r->hnext;
		free(r);
	}
	rings_free(e->hring_free);
	while ((h = e->hold_free)) {
		e->hold_free = h->next;
		free(h);
	}
	while ((p = e->pair_free)) {
		e->pair_free = p->all_next;
		free(p);
	}
	free(e->rtab);
	free(e->hist_tmp);
}

static int rtab_grow(struct lock_engine *e)
{
	size_t cap = e->rtab_cap * 2;
	struct lock_res **t = calloc(cap, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < e->rtab_cap; i++) {
		struct lock_res *r = e->rtab[i], *rn;

		for (; r; r = rn) {
			rn = r->hnext;
			r->hnext = t[r->hash & (cap - 1)];
			t[r->hash & (cap - 1)] = r;
		}
	}
	free(e->rtab);
	e->rtab = t;
	e->rtab_cap = cap;
	return 0;
}

struct lock_res *lockt_res_get(struct lock_engine *e, const char *domain,
			       const struct lock_matrix *m, uint32_t ls,
			       const void *key, size_t key_len)
{
	uint64_t h = LOCK_HASH_SEED;
	struct lock_res *r;

	if (key_len > LOCK_KEY_MAX)
		key_len = LOCK_KEY_MAX; /* documented: longer names collide */
	h = lock_hash_bytes(h, &ls, sizeof(ls));
	h = lock_hash_bytes(h, domain, strlen(domain));
	h = lock_hash_bytes(h, key, key_len);
	for (r = e->rtab[h & (e->rtab_cap - 1)]; r; r = r->hnext)
		if (r->hash == h && r->domain == domain && r->ls == ls &&
		    r->key_len == key_len && !memcmp(r->key, key, key_len))
			return r;
	if (e->st.resources >= e->rtab_cap && rtab_grow(e) < 0)
		return NULL;
	r = e->res_free;
	if (r) {
		e->res_free = r->hnext;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
	}
	r->hash = h;
	r->m = m;
	r->domain = domain;
	r->ls = ls;
	r->refs = 0;
	r->incomplete = false;
	r->modes = 0;
	memset(r->n_mode, 0, sizeof(r->n_mode));
	r->holds = NULL;
	r->closed = NULL;
	r->rings = NULL;
	r->key_len = (uint16_t)key_len;
	memcpy(r->key, key, key_len);
	r->hnext = e->rtab[h & (e->rtab_cap - 1)];
	e->rtab[h & (e->rtab_cap - 1)] = r;
	e->st.resources++;
	return r;
}

void lockt_res_put(struct lock_engine *e, struct lock_res *r)
{
	struct lock_res **pp;

	if (r->refs > 0 || r->holds || r->closed)
		return;
	for (pp = &e->rtab[r->hash & (e->rtab_cap - 1)]; *pp;
	     pp = &(*pp)->hnext)
		if (*pp == r) {
			*pp = r->hnext;
			break;
		}
	while (r->rings) {
		struct lock_hring *g = r->rings;

		r->rings = g->next;
		g->next = e->hring_free;
		e->hring_free = g;
	}
	r->hnext = e->res_free;
	e->res_free = r;
	e->st.resources--;
}

struct lock_hold *lockt_find(struct lock_res *r, struct lnode *n,
			     uint64_t holder)
{
	for (struct lock_hold *h = r->holds; h; h = h->next)
		if (h->open && h->n == n && h->holder == holder)
			return h;
	return NULL;
}

/* A ring of @cap entries, first from the free list. */
static struct lock_hring *ring_get(struct lock_engine *e, unsigned int cap)
{
	struct lock_hring *g = e->hring_free;

	if (g && g->cap >= cap) {
		e->hring_free = g->next;
	} else {
		g = malloc(sizeof(*g) + cap * sizeof(g->ev[0]));
		if (!g)
			return NULL;
		g->cap = cap;
	}
	g->head = g->len = 0;
	return g;
}

/* Double a full ring's room (up to K), keeping its order. */
static struct lock_hring *ring_grow(struct lock_engine *e, struct lock_hring *g,
				    unsigned int k)
{
	unsigned int cap = g->cap * 2 < k ? g->cap * 2 : k;
	struct lock_hring *n = malloc(sizeof(*n) + cap * sizeof(n->ev[0]));

	if (!n)
		return g; /* keep the smaller ring: a shorter history */
	for (unsigned int i = 0; i < g->len; i++)
		n->ev[i] = g->ev[(g->head + i) % g->cap];
	n->n = g->n;
	n->cap = cap;
	n->head = 0;
	n->len = g->len;
	free(g);
	return n;
}

/*
 * Each node's last K events of @r.  Rings start small and grow to K, so a
 * resource touched a few times costs a few entries; at most
 * LOCK_HIST_NODES nodes are remembered (the least recent goes).
 */
static void hist_add(struct lock_engine *e, struct lock_res *r, struct lctx *c,
		     uint64_t holder, int mode, enum lock_ev_kind kind)
{
	unsigned int k = e->conf.history, i, n_rings = 0;
	struct lock_hring *g, **pp;

	if (!k)
		return;
	for (pp = &r->rings; *pp && (*pp)->n != c->n; pp = &(*pp)->next)
		n_rings++;
	g = *pp;
	if (g) {
		*pp = g->next;
	} else if (n_rings >= LOCK_HIST_NODES) {
		for (pp = &r->rings; (*pp)->next; pp = &(*pp)->next)
			;
		g = *pp;
		*pp = NULL;
		g->head = g->len = 0;
	} else if (!(g = ring_get(e, k < 4 ? k : 4))) {
		return; /* the history is shorter, nothing else */
	}
	g->n = c->n;
	if (g->len == g->cap && g->cap < k)
		g = ring_grow(e, g, k);
	g->next = r->rings;
	r->rings = g;
	if (g->len < g->cap) {
		i = (g->head + g->len) % g->cap;
		g->len++;
	} else {
		i = g->head;
		g->head = (g->head + 1) % g->cap;
	}
	g->ev[i] = (struct lock_hist){ .node = c->n->cn,
				       .seq = ++e->hist_seq,
				       .tai = c->tai,
				       .eps = c->eps,
				       .holder = holder,
				       .kind = (uint8_t)kind,
				       .mode = (int8_t)mode };
}

void lockt_note(struct lock_engine *e, struct lock_res *r, struct lctx *c,
		uint64_t holder, int mode, enum lock_ev_kind kind)
{
	hist_add(e, r, c, holder, mode, kind);
}

void lockt_fill_res(struct verdict *v, const struct lock_res *r)
{
	v->domain = r->domain;
	v->lockspace = r->ls;
	v->name = r->key;
	v->name_len = r->key_len;
	v->mode_names = r->m->mode_names;
	v->n_modes = r->m->n_modes;
}

static void fill_hold(struct verdict_hold *vh, const struct lock_hold *h)
{
	*vh = (struct verdict_hold){
		.id = h->id,
		.node = h->n->cn,
		.holder = h->holder,
		.mode = h->mode,
		.mode_name = lock_mode_name(h->res->m, h->mode),
		.grant_tai = h->g_tai,
		.grant_eps = h->g_eps,
		.grant_lseq = h->g_lseq,
		.release_tai = h->r_tai,
		.release_eps = h->r_eps,
		.release_lseq = h->r_lseq,
		.release_open = h->open,
		.uncertain = h->uncertain,
		.grant_trace = h->g_trace,
		.release_trace = h->r_trace,
		.release_early = h->r_early,
		.clock_domain = h->g_dom,
	};
}

static int by_seq(const void *a, const void *b)
{
	const struct lock_hist *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Each node's last K events of @r, merged in delivery order. */
static void fill_hist(struct lock_engine *e, struct verdict *v,
		      const struct lock_res *r)
{
	size_t n = 0;

	for (const struct lock_hring *g = r->rings; g; g = g->next)
		n += g->len;
	if (n > e->hist_tmp_cap) {
		struct lock_hist *t = realloc(e->hist_tmp, n * sizeof(*t));

		if (t) {
			e->hist_tmp = t;
			e->hist_tmp_cap = n;
		}
	}
	n = 0;
	for (const struct lock_hring *g = r->rings; g; g = g->next)
		for (unsigned int i = 0; i < g->len && n < e->hist_tmp_cap; i++)
			e->hist_tmp[n++] = g->ev[(g->head + i) % g->cap];
	qsort(e->hist_tmp, n, sizeof(*e->hist_tmp), by_seq);
	v->hist = e->hist_tmp;
	v->n_hist = (unsigned int)n;
}

static void emit_conflict(struct lock_engine *e, enum verdict_class cls,
			  const struct lock_hold *a, const struct lock_hold *b,
			  unsigned int hb, const char *reason, uint64_t tai)
{
	struct verdict v = { .cls = cls, .tai_ns = tai, .reason = reason };

	lockt_fill_res(&v, a->res);
	fill_hold(&v.holds[0], a);
	fill_hold(&v.holds[1], b);
	v.n_holds = 2;
	v.hb = hb;
	fill_hist(e, &v, a->res);
	lock_verdict_clocks(&v, a->n->cn, b->n == a->n ? NULL : b->n->cn);
	lock_emit(e, &v);
}

static void list_add(struct lock_hold **head, struct lock_hold *h)
{
	h->prev = NULL;
	h->next = *head;
	if (*head)
		(*head)->prev = h;
	*head = h;
}

static void list_del(struct lock_hold **head, struct lock_hold *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		*head = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

static uint64_t hold_end(const struct lock_hold *h)
{
	return h->uncertain ? UINT64_MAX : h->r_tai + h->r_eps;
}

#define LOCK_DOM_MIXED UINT64_MAX

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Set @h's end_* from its own release and @older's (NULL: none). */
static void end_fold(struct lock_hold *h, const struct lock_hold *older)
{
	uint64_t end = hold_end(h);
	/* only domains of several nodes are ruled on by trace times */
	bool dom = h->g_dom && h->r_dom == h->g_dom && !h->uncertain &&
		   h->n->dom_shared;

	h->end_max = end;
	h->end_trace = dom ? h->r_trace : 0;
	h->end_dom = dom ? h->g_dom : 0;
	if (!older)
		return;
	h->end_max = max64(h->end_max, older->end_max);
	h->end_trace = max64(h->end_trace, older->end_trace);
	if (!h->end_dom)
		h->end_dom = older->end_dom;
	else if (older->end_dom && older->end_dom != h->end_dom)
		h->end_dom = LOCK_DOM_MIXED;
}

/*
 * @o and every closed hold older than it can conflict with no grant like
 * @h: each ended before @h's grant by the TAI windows and, if it is of
 * @h's clock domain, by the trace times (which rule then: a node's TAI
 * mapping may lie).  Holds of several domains: no cut-off.
 */
static bool all_before(const struct lock_hold *o, const struct lock_hold *h)
{
	if (h->g_tai < h->g_eps || o->end_max > h->g_tai - h->g_eps)
		return false;
	if (!h->g_dom || !o->end_dom)
		return true;
	if (o->end_dom == h->g_dom)
		return o->end_trace <= h->g_trace;
	return o->end_dom != LOCK_DOM_MIXED;
}

/* Recompute the end_* over @r's closed holds, oldest first. */
static void closed_reindex(struct lock_res *r)
{
	struct lock_hold *h = r->closed;

	if (!h)
		return;
	while (h->next)
		h = h->next;
	for (; h; h = h->prev)
		end_fold(h, h->next);
}

static void mode_count(struct lock_res *r, int mode, int d)
{
	r->n_mode[mode] += d;
	if (r->n_mode[mode])
		r->modes |= (uint16_t)(1u << mode);
	else
		r->modes &= (uint16_t) ~(1u << mode);
}

static void hold_free(struct lock_engine *e, struct lock_hold *h)
{
	struct lock_res *r = h->res;

	list_del(h->open ? &r->holds : &r->closed, h);
	mode_count(r, h->mode, -1);
	h->next = e->hold_free;
	e->hold_free = h;
	e->st.holds--;
	r->refs--;
	lockt_res_put(e, r);
}

static void pair_unlink(struct lock_engine *e, struct lock_pair *p)
{
	for (int s = 0; s < 2; s++) {
		struct lock_hold *h = p->h[s];
		struct lock_pair **pp = &h->pairs;

		while (*pp) {
			struct lock_pair *q = *pp;
			int qs = q->h[0] == h ? 0 : 1;

			if (q == p) {
				*pp = q->next[qs];
				break;
			}
			pp = &q->next[qs];
		}
		h->n_pairs--;
	}
	if (p->all_prev)
		p->all_prev->all_next = p->all_next;
	else
		e->open_pairs = p->all_next;
	if (p->all_next)
		p->all_next->all_prev = p->all_prev;
	p->all_next = e->pair_free;
	e->pair_free = p;
	for (int s = 0; s < 2; s++) {
		struct lock_hold *h = p->h[s];

		if (!h->open && h->expired && !h->n_pairs)
			hold_free(e, h);
	}
}

static struct decide_ev window(uint64_t tai, uint64_t eps, uint64_t base)
{
	int64_t t = (int64_t)(tai - base);

	return (struct decide_ev){ .lo = t - (int64_t)eps,
				   .hi = t + (int64_t)eps };
}

/* Both ends of @h stamped by one clock (its node did not reboot). */
static bool hold_one_clock(const struct lock_hold *h)
{
	return h->open || h->r_dom == h->g_dom;
}

/*
 * @a and @b were stamped by one clock: the same node, or nodes of one
 * clock domain (one kernel, one trace clock).  Their trace times then
 * compare exactly, whatever the nodes' TAI mappings claim.
 */
static bool same_clock(const struct lock_hold *a, const struct lock_hold *b)
{
	if (!hold_one_clock(a) || !hold_one_clock(b) || a->g_dom != b->g_dom)
		return false;
	return a->n == b->n || a->g_dom != 0;
}

/*
 * A flock release not seen yet may be dated back: to a flock(2) call in
 * progress, or, by close(2) or exit (no entry), to any time after its
 * grant.  Only its grant bounds it, so a flock pair is never definite
 * while a hold is open; it is ruled on at the release.
 */
static bool release_may_date_back(const struct lock_hold *h)
{
	return h->res->domain == lock_flock_domain;
}

/*
 * A lower bound of the trace time of @h's release, not seen yet, from
 * @open_lo (TAI, the merge's horizon - the largest eps): its stamp is at
 * least the horizon, and its node's trace-to-TAI offset moves by less
 * than the largest eps (else its eps lies), so its trace time is at least
 * @open_lo - the offset now.  (The same bound as by the TAI windows, so
 * the verdict comes at the same watermark, live and in a replay.)
 */
static uint64_t open_trace_lo(const struct lock_hold *h, uint64_t open_lo)
{
	const struct lnode *n = h->n;
	int64_t off = (int64_t)(n->last_tai - n->last_trace);
	int64_t lo = (int64_t)open_lo - off;

	if (release_may_date_back(h) || n->last_dom != h->g_dom ||
	    lo <= (int64_t)h->g_trace)
		return h->g_trace;
	return (uint64_t)lo;
}

/* The same in TAI, from the merge's horizon lower bound @open_lo. */
static uint64_t open_tai_lo(const struct lock_hold *h, uint64_t open_lo)
{
	if (release_may_date_back(h))
		return h->g_tai > h->g_eps ? h->g_tai - h->g_eps : 0;
	return open_lo;
}

static struct decide_ev release_window(const struct lock_hold *h, uint64_t t,
				       uint64_t eps, uint64_t base)
{
	struct decide_ev w = window(t, eps, base);

	w.lo -= (int64_t)h->r_early;
	return w;
}

/*
 * Rule on @p; @open_lo: lower bound (TAI) for a release not yet seen.
 * Holds on one clock are ruled on by their trace times alone, exactly:
 * windows of width 0 (a release dated late: back to its r_early); the
 * happens-before facts add nothing to exact times then (and the vector
 * clock of a node orders its events by delivery, not by the time a
 * release was dated at).
 */
static enum verdict_class pair_decide(struct lock_engine *e,
				      struct lock_pair *p, bool final,
				      uint64_t open_lo, const char **why)
{
	const struct lock_hold *a = p->h[0], *b = p->h[1];
	bool exact = same_clock(a, b);
	uint64_t base = exact ? a->g_trace : a->g_tai;
	unsigned int hb = exact ? 0 : p->hb;
	struct decide_ev ev[4];
	bool causal, inconsistent;
	enum verdict_class cls;

	if (exact) {
		ev[0] = window(a->g_trace, 0, base);
		ev[1] = release_window(a, a->r_trace, 0, base);
		ev[2] = window(b->g_trace, 0, base);
		ev[3] = release_window(b, b->r_trace, 0, base);
		if (a->open)
			ev[1] = (struct decide_ev){
				.lo = (int64_t)(open_trace_lo(a, open_lo) -
						base),
				.open = true
			};
		if (b->open)
			ev[3] = (struct decide_ev){
				.lo = (int64_t)(open_trace_lo(b, open_lo) -
						base),
				.open = true
			};
	} else {
		ev[0] = window(a->g_tai, a->g_eps, base);
		ev[1] = release_window(a, a->r_tai, a->r_eps, base);
		ev[2] = window(b->g_tai, b->g_eps, base);
		ev[3] = release_window(b, b->r_tai, b->r_eps, base);
		if (a->open)
			ev[1] = (struct decide_ev){
				.lo = (int64_t)(open_tai_lo(a, open_lo) - base),
				.open = true
			};
		if (b->open)
			ev[3] = (struct decide_ev){
				.lo = (int64_t)(open_tai_lo(b, open_lo) - base),
				.open = true
			};
	}
	cls = lock_decide(ev, hb, &causal, &inconsistent);
	if (!final)
		return cls;
	e->st.pairs_checked++;
	*why = NULL;
	if (cls == VERDICT_SAFE) {
		if (causal)
			e->st.safe_causal++;
		else
			e->st.safe_clock++;
		return cls;
	}
	if (inconsistent)
		*why = "clock windows contradict the causal order: some eps is understated";
	else if (cls == VERDICT_DEFINITE && exact)
		*why = "the holds overlap in the trace times of their shared clock";
	else if (cls == VERDICT_DEFINITE)
		*why = "the holds overlap under every admissible clock reading";
	else if (exact)
		*why = "a release was traced only after the lock was dropped (no flock(2) entry): its order against the grant is unknown";
	else
		*why = "the order of release and grant is not decidable within the clock bounds";
	if (a->uncertain || b->uncertain) {
		*why = "a holder's node lost events meanwhile: the overlap may be an artefact";
		cls = VERDICT_INCOMPLETE;
	}
	return cls;
}

static void pair_final(struct lock_engine *e, struct lock_pair *p, uint64_t tai)
{
	const char *why;
	enum verdict_class cls = pair_decide(e, p, true, 0, &why);

	if (cls != VERDICT_SAFE)
		emit_conflict(e, cls, p->h[0], p->h[1], p->hb, why, tai);
	pair_unlink(e, p);
}

static void pair_new(struct lock_engine *e, struct lock_hold *a,
		     struct lock_hold *b, unsigned int hb)
{
	struct lock_pair *p = e->pair_free;

	if (p) {
		e->pair_free = p->all_next;
	} else {
		p = malloc(sizeof(*p));
		if (!p) {
			pr_err("out of memory for a conflict pair: %m");
			return;
		}
	}
	p->h[0] = a;
	p->h[1] = b;
	p->hb = hb;
	p->next[0] = a->pairs;
	a->pairs = p;
	a->n_pairs++;
	p->next[1] = b->pairs;
	b->pairs = p;
	b->n_pairs++;
	p->all_prev = NULL;
	p->all_next = e->open_pairs;
	if (e->open_pairs)
		e->open_pairs->all_prev = p;
	e->open_pairs = p;
}

/* Vector clock component of @n's current clock for node @of. */
static uint64_t vc_of(struct lock_engine *e, struct lnode *n, struct lnode *of)
{
	uint32_t i = of->cn->index;

	return i < e->vc_cap ? n->vc[i] : 0;
}

/* Check the new hold @h against one older hold @o of its resource. */
static void check_one(struct lock_engine *e, struct lock_hold *h,
		      struct lock_hold *o, struct lctx *c)
{
	unsigned int hb = 0;
	uint64_t v;

	e->st.holds_examined++;
	if (o->n == h->n && o->holder == h->holder)
		return;
	if (lock_compatible(h->res->m, o->mode, h->mode))
		return;
	if (o->n == h->n) {
		/*
		 * One node: local order is exact.  But a task inside flock(2)
		 * may have dropped @o already (its release event comes after
		 * the kernel dropped the lock, and is dated back to the call):
		 * then rule when @o's release is known, by the trace times.
		 */
		if (o->open && h->n->flock_inflight &&
		    h->res->domain == lock_flock_domain && same_clock(o, h)) {
			pair_new(e, o, h, 0);
			return;
		}
		if (o->open)
			emit_conflict(
				e,
				o->uncertain ? VERDICT_INCOMPLETE :
					       VERDICT_DEFINITE,
				o, h, 0,
				"two holders on one node overlap in local order",
				c->tai);
		return;
	}
	v = vc_of(e, c->n, o->n);
	if (v >= o->g_lseq)
		hb |= VERDICT_HB_GA_GB;
	if (!o->open && v >= o->r_lseq) {
		e->st.pairs_checked++;
		e->st.safe_causal++;
		return;
	}
	if (same_clock(o, h)) {
		/* one clock: exact, touching intervals do not overlap */
		if (!o->open && o->r_trace <= h->g_trace) {
			e->st.pairs_checked++;
			e->st.safe_clock++;
			return;
		}
		pair_new(e, o, h, hb);
		return;
	}

	if (!o->open && !o->uncertain &&
	    o->r_tai + o->r_eps <= h->g_tai - h->g_eps &&
	    h->g_tai >= h->g_eps) {
		e->st.pairs_checked++;
		e->st.safe_clock++;
		return;
	}
	pair_new(e, o, h, hb);
}

static void check_grant(struct lock_engine *e, struct lock_hold *h,
			struct lctx *c)
{
	struct lock_res *r = h->res;
	struct lock_hold *o;

	/* no hold of an incompatible mode: nothing to check */
	if (!(r->modes & (uint16_t)~r->m->compat[h->mode]))
		return;
	for (o = r->holds; o; o = o->next)
		if (o != h)
			check_one(e, h, o, c);
	/*
	 * Closed holds newest first; where this one and every older one
	 * ended (+ eps) before the grant's window, all of them are safe by
	 * the clocks and are not looked at one by one.
	 */
	for (o = r->closed; o; o = o->next) {
		if (all_before(o, h))
			break;
		check_one(e, h, o, c);
	}
}

struct lock_hold *lockt_grant(struct lock_engine *e, struct lock_res *r,
			      struct lctx *c, uint64_t holder, int mode,
			      enum lock_ev_kind kind)
{
	struct lock_hold *h;

	hist_add(e, r, c, holder, mode, kind);
	/* a mode compatible with everything never conflicts: not a hold */
	if ((r->m->universal >> mode) & 1)
		return NULL;
	h = e->hold_free;
	if (h) {
		e->hold_free = h->next;
	} else {
		h = malloc(sizeof(*h));
		if (!h) {
			pr_err("out of memory for a hold: %m");
			return NULL;
		}
	}
	*h = (struct lock_hold){ .res = r,
				 .n = c->n,
				 .id = ++e->next_hold_id,
				 .holder = holder,
				 .mode = mode,
				 .open = true,
				 .uncertain = c->n->unreachable,
				 .g_tai = c->tai,
				 .g_eps = c->eps,
				 .g_lseq = c->lseq,
				 .g_trace = c->trace,
				 .g_dom = c->dom };
	list_add(&r->holds, h);
	mode_count(r, mode, 1);
	r->refs++;
	e->st.holds++;
	if (e->res_changed)
		e->res_changed(e->res_changed_arg, r, c->tai);
	check_grant(e, h, c);
	return h;
}

void lockt_release(struct lock_engine *e, struct lock_hold *h, struct lctx *c)
{
	struct lock_pair *p, *pn;

	hist_add(e, h->res, c, h->holder, h->mode, LOCK_EV_RELEASE);
	list_del(&h->res->holds, h);
	h->open = false;
	h->r_tai = c->tai;
	h->r_eps = c->eps;
	h->r_lseq = c->lseq;
	h->r_trace = c->trace;
	h->r_dom = c->dom;
	h->r_early = c->early;
	end_fold(h, h->res->closed);
	list_add(&h->res->closed, h);
	if (e->res_changed)
		e->res_changed(e->res_changed_arg, h->res, c->tai);
	for (p = h->pairs; p; p = pn) {
		int s = p->h[0] == h ? 0 : 1;
		struct lock_hold *o = p->h[!s];
		uint64_t v = vc_of(e, c->n, o->n);

		pn = p->next[s];
		if (c->no_hb || o->n == h->n) {
			/* no facts: see struct lctx; one node: exact times */
		} else if (s == 0) {
			/* h is A: facts gB -> rA, rB -> rA */
			if (v >= o->g_lseq)
				p->hb |= VERDICT_HB_GB_RA;
			if (!o->open && v >= o->r_lseq)
				p->hb |= VERDICT_HB_RB_RA;
		} else {
			if (v >= o->g_lseq)
				p->hb |= VERDICT_HB_GA_RB;
			if (!o->open && v >= o->r_lseq)
				p->hb |= VERDICT_HB_RA_RB;
		}
		if (!o->open)
			pair_final(e, p, c->tai);
	}
	h->fifo_next = NULL;
	if (e->fifo_tail)
		e->fifo_tail->fifo_next = h;
	else
		e->fifo_head = h;
	e->fifo_tail = h;
}

void lockt_unknown_release(struct lock_engine *e, struct lock_res *r,
			   struct lctx *c, uint64_t holder)
{
	struct verdict v = {
		.cls = VERDICT_INCOMPLETE,
		.tai_ns = c->tai,
		.reason =
			"a lock was released whose grant was lost: conflicts while it was held are unknown",
		.gap_node = c->n->cn,
	};

	hist_add(e, r, c, holder, -1, LOCK_EV_RELEASE);
	/* without a gap on that node it was held before tracing began */
	if (!c->n->gaps || r->incomplete)
		return;
	r->incomplete = true;
	lockt_fill_res(&v, r);
	fill_hist(e, &v, r);
	lock_verdict_clocks(&v, c->n->cn, NULL);
	lock_emit(e, &v);
}

void lockt_reindex_all(struct lock_engine *e)
{
	for (size_t i = 0; i < e->rtab_cap; i++)
		for (struct lock_res *r = e->rtab[i]; r; r = r->hnext)
			closed_reindex(r);
}

void lockt_watermark(struct lock_engine *e, uint64_t horizon)
{
	struct lock_hold *h;
	struct lock_pair *p, *pn;

	while ((h = e->fifo_head) &&
	       h->r_tai + h->r_eps + e->eps_max < horizon) {
		e->fifo_head = h->fifo_next;
		if (!e->fifo_head)
			e->fifo_tail = NULL;
		h->expired = true;
		if (!h->n_pairs)
			hold_free(e, h);
	}
	/*
	 * A release not delivered yet has TAI >= horizon, so its true time is
	 * >= horizon - eps_max: enough to call some open pairs definite now
	 * rather than when the lock is finally released.
	 */
	if (horizon <= e->eps_max)
		return;
	for (p = e->open_pairs; p; p = pn) {
		const char *why;

		pn = p->all_next;
		if (!p->h[0]->open && !p->h[1]->open)
			continue;
		if (pair_decide(e, p, false, horizon - e->eps_max, &why) !=
		    VERDICT_DEFINITE)
			continue;
		e->st.pairs_checked++;
		if (p->h[0]->uncertain || p->h[1]->uncertain)
			emit_conflict(
				e, VERDICT_INCOMPLETE, p->h[0], p->h[1], p->hb,
				"overlapping holds, but a holder's node lost events: its release may be among them",
				horizon);
		else
			emit_conflict(
				e, VERDICT_DEFINITE, p->h[0], p->h[1], p->hb,
				"the holds overlap under every admissible clock reading (still held)",
				horizon);
		pair_unlink(e, p);
	}
}

void lockt_node_down(struct lock_engine *e, struct lnode *n)
{
	for (size_t i = 0; i < e->rtab_cap; i++)
		for (struct lock_res *r = e->rtab[i]; r; r = r->hnext)
			for (struct lock_hold *h = r->holds; h; h = h->next)
				if (h->n == n)
					h->uncertain = true;
}

void lockt_node_gap(struct lock_engine *e, struct lnode *n, uint64_t from,
		    uint64_t to, uint64_t count, bool held_now)
{
	struct verdict v = { .cls = VERDICT_INCOMPLETE,
			     .tai_ns = to,
			     .gap_node = n->cn,
			     .gap_from = from,
			     .gap_to = to,
			     .gap_count = count };

	v.reason =
		held_now ?
			"node unreachable: what it holds or does is unknown" :
			"node lost events: what it did then is unknown";
	n->gaps++;
	lock_verdict_clocks(&v, n->cn, NULL);
	lock_emit(e, &v);
	for (size_t i = 0; i < e->rtab_cap; i++) {
		for (struct lock_res *r = e->rtab[i]; r; r = r->hnext) {
			bool hit = false, hit_closed = false;

			for (struct lock_hold *h = r->holds; h; h = h->next) {
				if (h->n != n)
					continue;
				h->uncertain = true;
				hit = true;
			}
			for (struct lock_hold *h = r->closed; h; h = h->next) {
				if (h->n != n || h->r_tai + h->r_eps < from ||
				    h->g_tai > to + h->g_eps)
					continue;
				h->uncertain = true;
				hit = hit_closed = true;
			}
			if (hit_closed)
				closed_reindex(r);
			if (!hit || r->incomplete)
				continue;
			r->incomplete = true;
			v = (struct verdict){
				.cls = VERDICT_INCOMPLETE,
				.tai_ns = to,
				.reason =
					"a holder's node lost events: this resource's state is unknown",
				.gap_node = n->cn,
				.gap_from = from,
				.gap_to = to,
				.gap_count = count,
			};
			lockt_fill_res(&v, r);
			fill_hist(e, &v, r);
			lock_verdict_clocks(&v, n->cn, NULL);
			lock_emit(e, &v);
		}
	}
}

void lockt_pair_restore(struct lock_engine *e, struct lock_hold *a,
			struct lock_hold *b, unsigned int hb)
{
	pair_new(e, a, b, hb);
}
