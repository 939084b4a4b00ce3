// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * adapt_dlm.c - the Linux DLM's tracepoints as abstract lock events.
 *
 * One record per (node, lockspace, lkb_id) follows a lock through
 * dlm_lock_start (request or convert, with the mode asked for), dlm_ast
 * (sb_status 0 grants the mode that lkb asked for: 6.1's dlm_ast carries no
 * mode), dlm_unlock_start (reliance ends now, unless it is a cancel) and
 * the final dlm_ast with -DLM_EUNLOCK.  A convert to a weaker mode stops
 * relying on the stronger one at its request; a convert up keeps the old
 * mode until the new one is granted.  -EAGAIN (NOQUEUE), -DLM_ECANCEL and
 * other failures grant nothing.  With ALTPR/ALTCW, an ast flagged ALTMODE
 * grants the alternate mode.  A convert up with CONVDEADLK lets the DLM
 * demote the granted mode to NL while it waits (to break a conversion
 * deadlock; the holder learns it only from the completion ast), so
 * reliance on the granted mode ends at that request.  The resource is
 * (ls_id, res_name bytes), so lockspaces are kept apart.
 *
 * Linux 6.12 records dlm_ast of a lock taken from user space with
 * sb_status and sb_flags swapped: sb_flags holds the status' low byte
 * (0xfe -DLM_EUNLOCK, 0xff -DLM_ECANCEL, 0xf5 -EAGAIN, 0xdd -EDEADLK),
 * sb_status the flags.  Real flags are at most 0x07, so such records are
 * recognised and read back (ast_status()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"

#define DLM_LKF_CANCEL 0x00000002
#define DLM_LKF_CONVERT 0x00000004
#define DLM_LKF_CONVDEADLK 0x00000040
#define DLM_EUNLOCK 0x10002
#define DLM_ECANCEL 0x10001
#define DLM_LKF_ALTPR 0x00008000
#define DLM_LKF_ALTCW 0x00010000
#define DLM_SBF_ALTMODE 0x04
#define DLM_SBF_VALID 0x07 /* DEMOTED | VALNOTVALID | ALTMODE */

/* field slots, as engine.c resolves them */
enum { F_LS, F_LKB, F_MODE, F_FLAGS, F_NAME, F_ERROR };
enum { FA_LS, FA_LKB, FA_STATUS, FA_NAME, FA_SBFLAGS };

struct dlm_lkb {
	struct dlm_lkb *hnext;
	struct lnode *n;
	uint32_t ls, lkb;
	struct lock_res *res;
	struct lock_hold *hold; /* open hold, NULL if none or NL */
	int gr, rq; /* granted, requested mode; -1 none */
	int alt; /* mode granted instead when the ast says ALTMODE */
};

struct dlm_state {
	struct dlm_lkb **tab;
	size_t cap, len;
	struct dlm_lkb *free;
};

const char lock_dlm_domain[] = "dlm";

int lock_dlm_init(struct lock_engine *e)
{
	struct dlm_state *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	d->cap = 1024;
	d->tab = calloc(d->cap, sizeof(*d->tab));
	if (!d->tab) {
		free(d);
		return -1;
	}
	e->dlm = d;
	return 0;
}

void lock_dlm_destroy(struct lock_engine *e)
{
	struct dlm_state *d = e->dlm;
	struct dlm_lkb *l, *ln;

	if (!d)
		return;
	for (size_t i = 0; i < d->cap; i++)
		for (l = d->tab[i]; l; l = ln) {
			ln = l->hnext;
			free(l);
		}
	for (l = d->free; l; l = ln) {
		ln = l->hnext;
		free(l);
	}
	free(d->tab);
	free(d);
	e->dlm = NULL;
}

static size_t lkb_slot(const struct dlm_state *d, const struct lnode *n,
		       uint32_t ls, uint32_t lkb)
{
	uint64_t h =
		((uint64_t)n->cn->index << 40) ^ ((uint64_t)ls << 20) ^ lkb;

	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 20) & (d->cap - 1);
}

static struct dlm_lkb *lkb_find(struct dlm_state *d, struct lnode *n,
				uint32_t ls, uint32_t lkb)
{
	for (struct dlm_lkb *l = d->tab[lkb_slot(d, n, ls, lkb)]; l;
	     l = l->hnext)
		if (l->n == n && l->ls == ls && l->lkb == lkb)
			return l;
	return NULL;
}

static int lkb_grow(struct dlm_state *d)
{
	size_t cap = d->cap * 2, old = d->cap;
	struct dlm_lkb **t = calloc(cap, sizeof(*t)), **ot = d->tab;

	if (!t)
		return -1;
	d->tab = t;
	d->cap = cap;
	for (size_t i = 0; i < old; i++) {
		struct dlm_lkb *l = ot[i], *ln;

		for (; l; l = ln) {
			size_t s = lkb_slot(d, l->n, l->ls, l->lkb);

			ln = l->hnext;
			l->hnext = t[s];
			t[s] = l;
		}
	}
	free(ot);
	return 0;
}

static struct dlm_lkb *lkb_new(struct lock_engine *e, struct lnode *n,
			       uint32_t ls, uint32_t lkb, struct lock_res *r)
{
	struct dlm_state *d = e->dlm;
	struct dlm_lkb *l;
	size_t s;

	if (d->len >= d->cap && lkb_grow(d) < 0)
		return NULL;
	l = d->free;
	if (l) {
		d->free = l->hnext;
	} else {
		l = malloc(sizeof(*l));
		if (!l)
			return NULL;
	}
	*l = (struct dlm_lkb){
		.n = n, .ls = ls, .lkb = lkb, .res = r, .gr = -1, .rq = -1
	};
	r->refs++;
	s = lkb_slot(d, n, ls, lkb);
	l->hnext = d->tab[s];
	d->tab[s] = l;
	d->len++;
	return l;
}

static void lkb_free(struct lock_engine *e, struct dlm_lkb *l)
{
	struct dlm_state *d = e->dlm;
	struct dlm_lkb **pp = &d->tab[lkb_slot(d, l->n, l->ls, l->lkb)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == l) {
			*pp = l->hnext;
			break;
		}
	l->res->refs--;
	lockt_res_put(e, l->res);
	l->hnext = d->free;
	d->free = l;
	d->len--;
}

static uint64_t holder_of(const struct dlm_lkb *l)
{
	return ((uint64_t)l->ls << 32) | l->lkb;
}

static void drop_hold(struct lock_engine *e, struct dlm_lkb *l, struct lctx *c)
{
	if (l->hold) {
		lockt_release(e, l->hold, c);
		l->hold = NULL;
	}
}

static void grant(struct lock_engine *e, struct dlm_lkb *l, struct lctx *c,
		  int mode, enum lock_ev_kind kind)
{
	drop_hold(e, l, c);
	l->gr = mode;
	l->hold = lockt_grant(e, l->res, c, holder_of(l), mode, kind);
}

static int64_t ival(const struct cevent *ev, int f, int64_t def)
{
	return f >= 0 ? ev->vals[f].s : def;
}

static bool valid_mode(int64_t m)
{
	return m >= 0 && m < 6;
}

static void lock_start(struct lock_engine *e, struct lctx *c,
		       const struct cevent *ev, const int16_t *f)
{
	uint32_t ls = (uint32_t)ival(ev, f[F_LS], 0);
	uint32_t id = (uint32_t)ival(ev, f[F_LKB], 0);
	int64_t mode = ival(ev, f[F_MODE], -1);
	uint32_t flags = (uint32_t)ival(ev, f[F_FLAGS], 0);
	struct dlm_lkb *l = lkb_find(e->dlm, c->n, ls, id);
	struct lock_res *r;

	if (!valid_mode(mode) || f[F_NAME] < 0)
		return;
	if (l && !(flags & DLM_LKF_CONVERT)) {
		/* a new request on a reused lkb id: the old one is gone */
		drop_hold(e, l, c);
		lkb_free(e, l);
		l = NULL;
	}
	if (!l) {
		r = lockt_res_get(e, lock_dlm_domain, &lock_matrix_dlm, ls,
				  ev->vals[f[F_NAME]].bytes,
				  ev->vals[f[F_NAME]].len);
		if (!r || !(l = lkb_new(e, c->n, ls, id, r))) {
			if (r)
				lockt_res_put(e, r);
			pr_err("out of memory for a DLM lock: %m");
			return;
		}
	}
	if ((flags & DLM_LKF_CONVERT) && l->gr >= 0 &&
	    lock_weaker_or_equal(&lock_matrix_dlm, (int)mode, l->gr)) {
		/* down-convert: rely on the weaker mode from now on */
		if ((int)mode != l->gr)
			grant(e, l, c, (int)mode, LOCK_EV_DOWNGRADE);
		l->rq = -1;
		return;
	}
	if ((flags & DLM_LKF_CONVERT) && (flags & DLM_LKF_CONVDEADLK) &&
	    l->gr > 0) {
		/* the DLM may demote it to NL at any time until the grant */
		grant(e, l, c, 0, LOCK_EV_DOWNGRADE);
	}
	l->rq = (int)mode;
	l->alt = (flags & DLM_LKF_ALTPR) ? 3 : (flags & DLM_LKF_ALTCW) ? 2 : -1;
	lockt_note(e, l->res, c, holder_of(l), (int)mode, LOCK_EV_REQUEST);
}

/* A lock released that was never seen granted: lost events hid it. */
static void unknown_release(struct lock_engine *e, struct lctx *c,
			    const struct cevent *ev, uint32_t ls, int fname)
{
	struct lock_res *r;

	if (fname < 0 || !c->n->gaps)
		return;
	r = lockt_res_get(e, lock_dlm_domain, &lock_matrix_dlm, ls,
			  ev->vals[fname].bytes, ev->vals[fname].len);
	if (!r)
		return;
	lockt_unknown_release(e, r, c, 0);
	lockt_res_put(e, r);
}

static void fail(struct lock_engine *e, struct dlm_lkb *l, struct lctx *c)
{
	lockt_note(e, l->res, c, holder_of(l), l->rq, LOCK_EV_FAIL);
	l->rq = -1;
	if (l->gr < 0 && !l->hold)
		lkb_free(e, l);
}

/*
 * The ast's status and flags, read back when 6.12 swapped them (see the
 * top of this file): flags beyond DLM_SBF_VALID are a status' low byte,
 * a positive status is flags.
 */
static int64_t ast_status(const struct cevent *ev, const int16_t *f,
			  int64_t *sbflags)
{
	int64_t status = ival(ev, f[FA_STATUS], 0);
	int64_t flags = ival(ev, f[FA_SBFLAGS], 0);

	*sbflags = flags;
	if (status > 0 && status <= DLM_SBF_VALID && f[FA_SBFLAGS] >= 0 &&
	    !(flags & ~DLM_SBF_VALID)) {
		*sbflags = status; /* a grant whose flags were set */
		return 0;
	}
	if (status != 0 || !(flags & 0xff & ~DLM_SBF_VALID))
		return status;
	*sbflags = 0;
	switch (flags & 0xff) {
	case 0xfe:
		return -DLM_EUNLOCK;
	case 0xff:
		return -DLM_ECANCEL;
	default:
		return (int8_t)(flags & 0xff); /* -EAGAIN, -EDEADLK, ... */
	}
}

static void ast(struct lock_engine *e, struct lctx *c, const struct cevent *ev,
		const int16_t *f)
{
	uint32_t ls = (uint32_t)ival(ev, f[FA_LS], 0);
	uint32_t id = (uint32_t)ival(ev, f[FA_LKB], 0);
	int64_t sbflags;
	int64_t status = ast_status(ev, f, &sbflags);
	struct dlm_lkb *l = lkb_find(e->dlm, c->n, ls, id);

	if (!l) {
		e->st.unknown_lkb++;
		if (status == -DLM_EUNLOCK)
			unknown_release(e, c, ev, ls, f[FA_NAME]);
		return;
	}
	if (status == 0) {
		if (l->rq >= 0) {
			int mode = l->rq;

			if (l->alt >= 0 && (sbflags & DLM_SBF_ALTMODE))
				mode = l->alt;
			grant(e, l, c, mode, LOCK_EV_GRANT);
			l->rq = -1;
		}
		return;
	}
	if (status == -DLM_EUNLOCK) {
		if (l->hold)
			drop_hold(e, l, c);
		else
			lockt_note(e, l->res, c, holder_of(l), l->gr,
				   LOCK_EV_RELEASE);
		lkb_free(e, l);
		return;
	}
	/* -EAGAIN (NOQUEUE), -DLM_ECANCEL, -EDEADLK: nothing granted */
	fail(e, l, c);
}

void lock_dlm_event(struct lock_engine *e, struct lctx *c,
		    const struct cevent *ev, const struct lock_tinfo *ti,
		    unsigned int r)
{
	const int16_t *f = ti->r[r].f;
	struct dlm_lkb *l;

	switch (ti->r[r].role) {
	case ROLE_DLM_LOCK_START:
		lock_start(e, c, ev, f);
		break;
	case ROLE_DLM_LOCK_END:
		l = lkb_find(e->dlm, c->n, (uint32_t)ival(ev, f[F_LS], 0),
			     (uint32_t)ival(ev, f[F_LKB], 0));
		/* fields: ls lkb mode flags res_name error */
		if (l && ival(ev, f[F_ERROR], 0) != 0 && l->rq >= 0)
			fail(e, l, c);
		break;
	case ROLE_DLM_AST:
		ast(e, c, ev, f);
		break;
	case ROLE_DLM_UNLOCK_START:
		l = lkb_find(e->dlm, c->n, (uint32_t)ival(ev, f[F_LS], 0),
			     (uint32_t)ival(ev, f[F_LKB], 0));
		if (!l) {
			e->st.unknown_lkb++;
			if (!(ival(ev, f[F_FLAGS], 0) & DLM_LKF_CANCEL))
				unknown_release(e, c, ev,
						(uint32_t)ival(ev, f[F_LS], 0),
						f[F_NAME]);
			break;
		}
		if (ival(ev, f[F_FLAGS], 0) & DLM_LKF_CANCEL)
			break; /* a cancel: the granted mode stays */
		drop_hold(e, l, c);
		l->gr = -1;
		break;
	default:
		break;
	}
}

/* --- snapshot (persist.c) --- */

static int lkb_order(const void *a, const void *b)
{
	const struct dlm_lkb *x = *(const struct dlm_lkb *const *)a;
	const struct dlm_lkb *y = *(const struct dlm_lkb *const *)b;

	if (x->n->snap != y->n->snap)
		return x->n->snap < y->n->snap ? -1 : 1;
	if (x->ls != y->ls)
		return x->ls < y->ls ? -1 : 1;
	return x->lkb < y->lkb ? -1 : x->lkb > y->lkb;
}

int lock_dlm_save(const struct lock_engine *e, FILE *f)
{
	const struct dlm_state *d = e->dlm;
	const struct dlm_lkb **all = malloc((d->len + 1) * sizeof(*all));
	size_t n = 0;

	if (!all)
		return -1;
	for (size_t i = 0; i < d->cap; i++)
		for (const struct dlm_lkb *l = d->tab[i]; l; l = l->hnext)
			all[n++] = l;
	/* in a canonical order: the same state writes the same bytes */
	qsort(all, n, sizeof(*all), lkb_order);
	for (size_t i = 0; i < n; i++) {
		const struct dlm_lkb *l = all[i];

		fprintf(f, "lkb %u %u %u %u %llu %d %d %d\n", l->n->snap, l->ls,
			l->lkb, l->res->snap,
			(unsigned long long)(l->hold ? l->hold->id : 0), l->gr,
			l->rq, l->alt);
	}
	free(all);
	return 0;
}

int lock_dlm_restore(struct lock_engine *e, struct lnode *n, uint32_t ls,
		     uint32_t lkb, struct lock_res *r, struct lock_hold *hold,
		     int gr, int rq, int alt)
{
	struct dlm_lkb *l;

	if (lkb_find(e->dlm, n, ls, lkb) || gr < -1 || rq < -1 || alt < -1 ||
	    gr >= (int)lock_matrix_dlm.n_modes ||
	    rq >= (int)lock_matrix_dlm.n_modes ||
	    alt >= (int)lock_matrix_dlm.n_modes ||
	    r->domain != lock_dlm_domain) {
		errno = EINVAL;
		return -1;
	}
	l = lkb_new(e, n, ls, lkb, r);
	if (!l)
		return -1;
	l->hold = hold;
	l->gr = gr;
	l->rq = rq;
	l->alt = alt;
	return 0;
}
