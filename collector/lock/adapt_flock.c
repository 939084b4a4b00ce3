// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * adapt_flock.c - flock(2) locks from filelock:flock_lock_inode, their
 * releases dated by syscalls:sys_enter_flock.
 *
 * flock_lock_inode fires at the end of the kernel function, with the
 * outcome: type F_RDLCK (0, shared), F_WRLCK (1, exclusive) or F_UNLCK
 * (2), ret 0 when done (a conversion that fails or waits, -EAGAIN or
 * FILE_LOCK_DEFERRED, has dropped the old lock already).  The resource is the inode (s_dev, i_ino); the
 * holder is the open file (the "owner" field, which for flock is the
 * struct file), else the pid.  A flock conversion is not atomic in Linux
 * (the old lock goes first), so it is a release and a new grant.
 *
 * A grant event comes after the lock was taken: fine, the holder relies on
 * it only once flock(2) returns.  A release event comes after the lock was
 * dropped, so another task may take it and be traced first.  The holder
 * stops relying on the lock when it asks to drop it: with
 * syscalls:sys_enter_flock and sys_exit_flock traced, the adapter keeps,
 * per (node, task), the flock(2) call the task is in, and dates a release
 * (F_UNLCK, or the old mode of a conversion) coming from that task at the
 * call's entry.  Both events come from one node, whose events are in
 * exact local order.  A release outside flock(2) (close(2), exit: the
 * kernel drops the lock in locks_remove_file()) has no such entry: it is
 * dated at its event, known only to lie after the grant (lctx.early).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"

#define FL_ACCESS 8
#define FILE_LOCK_DEFERRED 1
#define FLOCK_CALLS_MAX 65536 /* tasks inside flock(2) remembered */
#define FLOCK_CALLS_NO_EXIT 1024 /* ... per node before its first exit */

enum { F_TYPE, F_RET, F_DEV, F_INO, F_OWNER, F_PID, F_FLAGS };
enum { S_PID };

const char lock_flock_domain[] = "flock";

/* A task inside flock(2): its entry. */
struct flock_call {
	struct flock_call *next;
	uint32_t node, pid;
	uint64_t lseq, tai, eps, trace;
	uint64_t dom;
};

struct flock_state {
	struct flock_call **tab;
	size_t cap; /* power of two */
	size_t n;
	struct flock_call *free;
	uint64_t dropped;
};

int lock_flock_init(struct lock_engine *e)
{
	struct flock_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->cap = 256;
	s->tab = calloc(s->cap, sizeof(*s->tab));
	if (!s->tab) {
		free(s);
		return -1;
	}
	e->flock = s;
	return 0;
}

void lock_flock_destroy(struct lock_engine *e)
{
	struct flock_state *s = e->flock;
	struct flock_call *c, *cn;

	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		for (c = s->tab[i]; c; c = cn) {
			cn = c->next;
			free(c);
		}
	for (c = s->free; c; c = cn) {
		cn = c->next;
		free(c);
	}
	free(s->tab);
	free(s);
	e->flock = NULL;
}

static struct flock_call **slot(struct flock_state *s, uint32_t node,
				uint32_t pid)
{
	uint64_t h = ((uint64_t)node << 32 | pid) * 0x9e3779b97f4a7c15ULL;
	struct flock_call **pp = &s->tab[(h >> 32) & (s->cap - 1)];

	while (*pp && ((*pp)->node != node || (*pp)->pid != pid))
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct flock_state *s)
{
	size_t cap = s->cap * 2;
	struct flock_call **t = calloc(cap, sizeof(*t)), **old = s->tab;
	size_t ocap = s->cap;

	if (!t)
		return; /* longer chains, still correct */
	s->tab = t;
	s->cap = cap;
	for (size_t i = 0; i < ocap; i++) {
		struct flock_call *c = old[i], *cn;

		for (; c; c = cn) {
			cn = c->next;
			c->next = NULL;
			*slot(s, c->node, c->pid) = c;
		}
	}
	free(old);
}

static void call_del(struct flock_state *s, struct lnode *n,
		     struct flock_call **pp)
{
	struct flock_call *c = *pp;

	*pp = c->next;
	c->next = s->free;
	s->free = c;
	s->n--;
	n->flock_inflight--;
}

void lock_flock_syscall(struct lock_engine *e, struct lctx *c,
			const struct cevent *ev, const struct lock_tinfo *ti,
			unsigned int r)
{
	const int16_t *f = ti->r[r].f;
	struct flock_state *s = e->flock;
	struct flock_call **pp, *call;
	uint32_t node = c->n->cn->index, pid;

	if (f[S_PID] < 0)
		return;
	pid = (uint32_t)ev->vals[f[S_PID]].u;
	pp = slot(s, node, pid);
	if (ti->r[r].role == ROLE_FLOCK_EXIT) {
		c->n->flock_exits = true;
		if (*pp)
			call_del(s, c->n, pp);
		return;
	}
	/* an entry: a task is in one system call at a time */
	call = *pp;
	/* a node tracing no exits: its entries would never be used or freed */
	if (!call && !c->n->flock_exits &&
	    c->n->flock_inflight >= FLOCK_CALLS_NO_EXIT)
		return;
	if (!call) {
		if (s->n >= FLOCK_CALLS_MAX) {
			if (!s->dropped++)
				pr_warning(
					"more than %d tasks inside flock(2): releases of the others are dated by their flock_lock_inode event",
					FLOCK_CALLS_MAX);
			return;
		}
		call = s->free;
		if (call) {
			s->free = call->next;
		} else {
			call = malloc(sizeof(*call));
			if (!call) {
				pr_err("out of memory for a flock(2) call: its release is dated later");
				return;
			}
		}
		call->node = node;
		call->pid = pid;
		call->next = NULL;
		*pp = call;
		s->n++;
		c->n->flock_inflight++;
		if (s->n * 2 > s->cap)
			grow(s);
	}
	call->lseq = c->lseq;
	call->tai = c->tai;
	call->eps = c->eps;
	call->trace = c->trace;
	call->dom = c->dom;
}

void lock_flock_node_gap(struct lock_engine *e, struct lnode *n)
{
	struct flock_state *s = e->flock;

	/* an exit may be among the lost events: forget the node's calls */
	for (size_t i = 0; s && n->flock_inflight && i < s->cap; i++) {
		struct flock_call **pp = &s->tab[i];

		while (*pp)
			if ((*pp)->node == n->cn->index)
				call_del(s, n, pp);
			else
				pp = &(*pp)->next;
	}
}

/*
 * The time @h's holder stopped relying on it, as a context for
 * lockt_release(): the entry of the flock(2) call of the task that
 * released it, if known, else the release event itself, which may come
 * after the real release (early: back to the grant).
 */
static struct lctx release_ctx(struct lock_engine *e, const struct lctx *c,
			       const struct lock_hold *h, uint32_t pid,
			       bool have_pid)
{
	struct flock_state *s = e->flock;
	struct flock_call *call = NULL;
	struct lctx rc = *c;

	if (have_pid && c->n->flock_exits && c->n->flock_inflight)
		call = *slot(s, c->n->cn->index, pid);
	if (call && call->lseq > h->g_lseq && call->dom == c->dom) {
		rc.lseq = call->lseq;
		rc.tai = call->tai;
		rc.eps = call->eps;
		rc.trace = call->trace;
		/* the vector clock now may know more than at the entry */
		rc.no_hb = call->lseq + 1 != c->lseq;
		return rc;
	}
	rc.early = c->trace > h->g_trace ? c->trace - h->g_trace : 0;
	return rc;
}

void lock_flock_event(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r)
{
	const int16_t *f = ti->r[r].f;
	uint64_t dev, holder;
	struct lock_res *res;
	struct lock_hold *h;
	struct lctx rc;
	char key[64];
	int type, len;
	int64_t ret;
	uint32_t pid = f[F_PID] >= 0 ? (uint32_t)ev->vals[f[F_PID]].u : 0;

	if (f[F_TYPE] < 0 || f[F_RET] < 0 || f[F_DEV] < 0 || f[F_INO] < 0)
		return;
	ret = ev->vals[f[F_RET]].s;
	/*
	 * 0 done; a conversion that must wait (FILE_LOCK_DEFERRED) or
	 * fails (-EAGAIN) has dropped the old lock all the same.
	 */
	if (ret != 0 && ret != FILE_LOCK_DEFERRED && ret != -EAGAIN)
		return;
	if (f[F_FLAGS] >= 0 && (ev->vals[f[F_FLAGS]].u & FL_ACCESS))
		return;
	type = (int)ev->vals[f[F_TYPE]].u;
	if (type < 0 || type > 2 || (ret != 0 && type == 2))
		return;
	dev = ev->vals[f[F_DEV]].u;
	/* as /proc/locks shows it: major:minor:inode */
	len = snprintf(key, sizeof(key), "%02x:%02x:%llu",
		       (unsigned int)(dev >> 20), (unsigned int)(dev & 0xfffff),
		       (unsigned long long)ev->vals[f[F_INO]].u);
	holder = f[F_OWNER] >= 0 ? ev->vals[f[F_OWNER]].u :
		 f[F_PID] >= 0	 ? pid :
				   0;
	res = lockt_res_get(e, lock_flock_domain, &lock_matrix_shex, 0, key,
			    (size_t)len);
	if (!res)
		return;
	h = lockt_find(res, c->n, holder);
	if (ret != 0) {
		if (h && h->mode != type) {
			rc = release_ctx(e, c, h, pid, f[F_PID] >= 0);
			lockt_release(e, h, &rc);
		}
	} else if (type == 2) {
		if (h) {
			rc = release_ctx(e, c, h, pid, f[F_PID] >= 0);
			lockt_release(e, h, &rc);
		} else {
			lockt_unknown_release(e, res, c, holder);
		}
	} else if (!h || h->mode != type) {
		enum lock_ev_kind kind = LOCK_EV_GRANT;

		if (h) {
			if (type == 0)
				kind = LOCK_EV_DOWNGRADE;
			rc = release_ctx(e, c, h, pid, f[F_PID] >= 0);
			lockt_release(e, h, &rc);
		}
		lockt_grant(e, res, c, holder, type, kind);
	}
	lockt_res_put(e, res);
}

/* --- snapshot (persist.c) --- */

static int call_order(const void *a, const void *b)
{
	const struct flock_call *x = *(const struct flock_call *const *)a;
	const struct flock_call *y = *(const struct flock_call *const *)b;

	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

int lock_flock_save(const struct lock_engine *e, FILE *f)
{
	const struct flock_state *s = e->flock;
	const struct flock_call **all = malloc((s->n + 1) * sizeof(*all));
	size_t n = 0;

	if (!all)
		return -1;
	fprintf(f, "fdropped %llu\n", (unsigned long long)s->dropped);
	for (size_t i = 0; i < s->cap; i++)
		for (const struct flock_call *c = s->tab[i]; c; c = c->next)
			all[n++] = c;
	/* in a canonical order (node index order is snapshot order) */
	qsort(all, n, sizeof(*all), call_order);
	for (size_t i = 0; i < n; i++) {
		const struct flock_call *c = all[i];

		fprintf(f, "fcall %u %u %llu %llu %llu %llu %llu\n",
			e->nodes[c->node]->snap, c->pid,
			(unsigned long long)c->lseq, (unsigned long long)c->tai,
			(unsigned long long)c->eps,
			(unsigned long long)c->trace,
			(unsigned long long)c->dom);
	}
	free(all);
	return 0;
}

void lock_flock_set_dropped(struct lock_engine *e, uint64_t dropped)
{
	((struct flock_state *)e->flock)->dropped = dropped;
}

int lock_flock_restore(struct lock_engine *e, struct lnode *n, uint32_t pid,
		       uint64_t lseq, uint64_t tai, uint64_t eps,
		       uint64_t trace, uint64_t dom)
{
	struct flock_state *s = e->flock;
	struct flock_call **pp = slot(s, n->cn->index, pid), *call;

	if (*pp || s->n >= FLOCK_CALLS_MAX) {
		errno = EINVAL; /* twice, or more than can be */
		return -1;
	}
	call = malloc(sizeof(*call));
	if (!call)
		return -1;
	*call = (struct flock_call){ .node = n->cn->index,
				     .pid = pid,
				     .lseq = lseq,
				     .tai = tai,
				     .eps = eps,
				     .trace = trace,
				     .dom = dom };
	*pp = call;
	s->n++;
	if (s->n * 2 > s->cap)
		grow(s);
	return 0;
}
