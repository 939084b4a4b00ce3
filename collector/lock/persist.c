// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * persist.c - the lock engine's state across collector restarts.
 *
 * The merge does not deliver again what a checkpoint says was delivered,
 * so a lock granted before a restart and still held would be unknown to a
 * fresh engine.  At each checkpoint the engine therefore writes everything
 * that decides later verdicts (nodes with their vector clocks, resources
 * with their open and kept holds, conflict pairs, history rings, unmatched
 * messages, the DLM and flock adapters' state) to DIR/.lock-state.GEN
 * and gives GEN as its token; resume() loads the snapshot the checkpoint
 * names.  Nothing is done per event.  The format is text, one record per
 * line, with a checksum at the end (README.md, "Restarts").
 *
 * The pipeline calls checkpoint() right after a merge round, so the
 * snapshot is the engine exactly after the last event the checkpoint's
 * positions include.  Events the engine held back then (a receive waiting
 * for its send) were delivered by the merge but not yet by the engine:
 * they are not in the snapshot, and resume reports them as a loss of
 * their node (incomplete, never silently safe).
 *
 * A snapshot writes the whole table on the merge's thread (~0.1 s for
 * 10,000 resources), so it is paced by its own cost: a checkpoint sooner
 * than SNAP_DUTY times the last save's duration after it is deferred
 * (EAGAIN; the pipeline takes the next one), which keeps saving under
 * 1/SNAP_DUTY of the time.  A small table is saved at every checkpoint.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_SUBSYS "lock"
#include "clocks.h"
#include "log.h"
#include "lock_private.h"

#define SNAP_MAGIC "netrv-lock-state"
#define SNAP_VERSION 1
#define SNAP_PREFIX ".lock-state."
#define SNAP_MAX_NODES (1u << 20)
#define SNAP_MAX_RTAB (1ull << 32)
#define SNAP_DUTY 20 /* at most 1/20 of the time goes to saving */

struct lock_persist {
	char *dir;
	const struct cnode *(*node)(void *arg, const char *name);
	void *arg;
	uint64_t gen; /* last generation written (0: none yet) */
	bool scanned; /* gen starts above every file left in dir */
	uint64_t saved_ns, save_ns; /* when the last save ended, its length */
};

typedef unsigned long long ull;

/* --- writing --- */

/*
 * Holds and history entries are most of a snapshot: their lines are made
 * by hand (printf's format parsing would cost more than the rest).
 */
#define HOLD_FIELDS 21

/* V in decimal at @p; returns the end */
static char *put_digits(char *p, uint64_t v)
{
	char d[20];
	int n = 0;

	do {
		d[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = d[--n];
	return p;
}

/* " V" */
static char *put_u(char *p, uint64_t v)
{
	*p++ = ' ';
	return put_digits(p, v);
}

/* " V" or " -V" */
static char *put_s(char *p, int64_t v)
{
	*p++ = ' ';
	if (v >= 0)
		return put_digits(p, (uint64_t)v);
	*p++ = '-';
	return put_digits(p, -(uint64_t)v);
}

static void put_hold(FILE *f, const struct lock_hold *h)
{
	const uint64_t v[HOLD_FIELDS] = {
		h->id,	    h->n->snap, h->holder,    (uint64_t)h->mode,
		h->open,    h->expired, h->uncertain, h->g_tai,
		h->g_eps,   h->g_lseq,	h->r_tai,     h->r_eps,
		h->r_lseq,  h->g_trace, h->r_trace,   h->r_early,
		h->g_dom,   h->r_dom,	h->end_max,   h->end_trace,
		h->end_dom,
	};
	char buf[8 + HOLD_FIELDS * 21], *p = buf + 4;

	memcpy(buf, "hold", 4);
	for (int i = 0; i < HOLD_FIELDS; i++)
		p = put_u(p, v[i]);
	*p++ = '\n';
	fwrite(buf, 1, (size_t)(p - buf), f);
}

static void put_hist(FILE *f, const struct lock_hist *x)
{
	char buf[8 + 6 * 21], *p = buf + 1;

	buf[0] = 'h';
	p = put_u(p, x->seq);
	p = put_u(p, x->tai);
	p = put_u(p, x->eps);
	p = put_u(p, x->holder);
	p = put_u(p, x->kind);
	p = put_s(p, x->mode);
	*p++ = '\n';
	fwrite(buf, 1, (size_t)(p - buf), f);
}

static void put_res(FILE *f, struct lock_res *r)
{
	fprintf(f, "res %s %u ", r->domain, r->ls);
	if (!r->key_len)
		fputc('-', f);
	for (unsigned int i = 0; i < r->key_len; i++)
		fprintf(f, "%02x", r->key[i]);
	fprintf(f, " %d %u\n", r->incomplete, r->refs);
	for (const struct lock_hold *h = r->holds; h; h = h->next)
		put_hold(f, h);
	for (const struct lock_hold *h = r->closed; h; h = h->next)
		put_hold(f, h);
	for (const struct lock_hring *g = r->rings; g; g = g->next) {
		fprintf(f, "ring %u %u %u\n", g->n->snap, g->cap, g->len);
		for (unsigned int i = 0; i < g->len; i++) {
			const struct lock_hist *x =
				&g->ev[(g->head + i) % g->cap];

			put_hist(f, x);
		}
	}
}

static void put_vc(struct lock_engine *e, FILE *f, const uint64_t *vc,
		   uint32_t len)
{
	for (uint32_t i = 0; i < len && i < e->n_nodes; i++)
		if (vc[i] && e->nodes[i])
			fprintf(f, " %u:%llu", e->nodes[i]->snap, (ull)vc[i]);
}

static uint32_t snap_of(struct lock_engine *e, const struct cnode *cn)
{
	return cn->index < e->n_nodes && e->nodes[cn->index] ?
		       e->nodes[cn->index]->snap :
		       UINT32_MAX;
}

/* The snapshot into @f; -1 if out of memory. */
static int write_state(struct lock_engine *e, FILE *f)
{
	struct lock_res **chain = NULL;
	size_t chain_cap = 0;
	uint32_t k = 0;

	for (size_t i = 0; i < e->n_nodes; i++)
		if (e->nodes[i])
			e->nodes[i]->snap = k++;
	fprintf(f, "%s %d\n", SNAP_MAGIC, SNAP_VERSION);
	fprintf(f, "engine %llu %llu %llu %llu %llu %d %zu\n",
		(ull)e->next_verdict_id, (ull)e->next_hold_id, (ull)e->hist_seq,
		(ull)e->eps_max, (ull)e->watermark, e->eps_warned, e->rtab_cap);
	for (size_t i = 0; i < e->n_nodes; i++) {
		const struct lnode *n = e->nodes[i];
		uint64_t held, from, to;

		if (!n)
			continue;
		lock_causal_held(n, &held, &from, &to);
		fprintf(f,
			"node %u %s %llu %d %llu %llu %llu %llu %d %u %d %llu %llu %llu\n",
			n->snap, n->cn->name, (ull)n->lseq, n->unreachable,
			(ull)n->gaps, (ull)n->last_trace, (ull)n->last_tai,
			(ull)n->last_dom, n->dom_shared, n->flock_inflight,
			n->flock_exits, (ull)held, (ull)(held ? from : 0),
			(ull)to);
	}
	/* after every node: a clock names them all */
	for (size_t i = 0; i < e->n_nodes; i++) {
		const struct lnode *n = e->nodes[i];

		if (!n)
			continue;
		fprintf(f, "vc %u", n->snap);
		put_vc(e, f, n->vc, e->vc_cap);
		fputc('\n', f);
	}
	/*
	 * Each hash chain newest first; the loader inserts at the head, so
	 * write every chain oldest first: the chains come back in the same
	 * order (it is the order a node's loss reports resources in).
	 */
	k = 0;
	for (size_t b = 0; b < e->rtab_cap; b++) {
		size_t len = 0;

		for (struct lock_res *r = e->rtab[b]; r; r = r->hnext) {
			if (len == chain_cap) {
				size_t cap = chain_cap ? chain_cap * 2 : 16;
				struct lock_res **t =
					realloc(chain, cap * sizeof(*t));

				if (!t) {
					free(chain);
					return -1;
				}
				chain = t;
				chain_cap = cap;
			}
			chain[len++] = r;
		}
		while (len--) {
			chain[len]->snap = k++;
			put_res(f, chain[len]);
		}
	}
	free(chain);
	for (const struct lock_hold *h = e->fifo_head; h; h = h->fifo_next)
		fprintf(f, "fifo %llu\n", (ull)h->id);
	for (const struct lock_pair *p = e->open_pairs; p; p = p->all_next)
		fprintf(f, "pair %llu %llu %u\n", (ull)p->h[0]->id,
			(ull)p->h[1]->id, p->hb);
	for (const struct lock_msg *m = e->mold; m; m = m->lnext) {
		fprintf(f, "msg %d %u %llu %llu %llu %llu", m->is_recv,
			snap_of(e, m->node), (ull)m->tai, (ull)m->eps,
			(ull)m->lseq, (ull)m->born_tai);
		for (int i = 0; i <= LOCK_PAIR_KEYS; i++)
			fprintf(f, " %llu", (ull)m->key[i]);
		put_vc(e, f, m->vc, m->vc_len);
		fputc('\n', f);
	}
	if (lock_dlm_save(e, f) || lock_flock_save(e, f))
		return -1;
	return 0;
}

static int fsync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, ret;

	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t len = slash == path ? 1 : (size_t)(slash - path);

		if (len >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dir, path, len);
		dir[len] = 0;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int lock_engine_save(struct lock_engine *e, const char *path)
{
	char tmp[4096];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int fd = -1, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (!f)
		goto fail;
	if (write_state(e, f) < 0 || fflush(f)) {
		fclose(f);
		goto fail;
	}
	fprintf(f, "end %016llx\n",
		(ull)lock_hash_bytes(LOCK_HASH_SEED, buf, len));
	if (fclose(f))
		goto fail;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, buf, len) || fdatasync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) || fsync_dir(path))
		goto fail;
	free(buf);
	return 0;
fail:
	err = errno ? errno : EIO;
	pr_err("cannot write the lock state %s: %m; the checkpoint is not taken (check the disk and the directory's permissions)",
	       path);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(buf);
	errno = err;
	return -1;
}

/* --- reading --- */

struct pair_rec {
	struct lock_hold *a, *b;
	unsigned int hb;
};

struct node_rec {
	struct lnode *n;
	uint64_t held, held_from, held_to; /* events held back, TAI range */
};

struct res_rec {
	struct lock_res *r;
	unsigned int refs; /* as written: holds + adapter references */
};

struct loader {
	struct lock_engine *e;
	const struct cnode *(*node)(void *arg, const char *name);
	void *arg;
	char *err;
	size_t errlen;
	int lineno;
	bool have_engine;
	struct node_rec *nodes;
	size_t n_nodes, cap_nodes;
	struct res_rec *res;
	size_t n_res, cap_res;
	struct lock_hold **holds; /* by id once sorted */
	size_t n_holds, cap_holds;
	bool sorted;
	struct lock_res *cur;
	struct lock_hold *open_tail, *closed_tail;
	struct lock_hring *ring, *ring_tail;
	unsigned int ring_left, ring_skip;
	struct pair_rec *pairs;
	size_t n_pairs, cap_pairs;
	uint64_t *vc; /* e->vc_cap entries */
};

static int bad(struct loader *l, const char *what)
{
	snprintf(l->err, l->errlen, "line %d: %s", l->lineno, what);
	errno = EINVAL;
	return -1;
}

/* @arr with room for @n + 1 entries of @size (NULL: out of memory) */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;
	void *t;

	if (n < *cap)
		return arr;
	t = realloc(arr, c * size);
	if (t)
		*cap = c;
	return t;
}

static struct lnode *node_at(struct loader *l, unsigned int i)
{
	return i < l->n_nodes ? l->nodes[i].n : NULL;
}

/* " j:v j:v ..." into l->vc (e->vc_cap entries), by the nodes' index now */
static int parse_vc(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	uint64_t *vc = realloc(l->vc, e->vc_cap * sizeof(*vc));

	if (!vc)
		return -1;
	l->vc = vc;
	memset(l->vc, 0, e->vc_cap * sizeof(*l->vc));
	while (*s == ' ') {
		unsigned int j;
		ull v;
		int used;
		struct lnode *n;

		if (sscanf(s, " %u:%llu%n", &j, &v, &used) != 2)
			return bad(l, "bad vector clock entry");
		n = node_at(l, j);
		if (!n)
			return bad(l, "vector clock names an unknown node");
		l->vc[n->cn->index] = v;
		s += used;
	}
	return *s ? bad(l, "trailing characters") : 0;
}

static int ld_engine(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	ull vid, hid, hseq, epsmax, wm;
	int warned;
	size_t cap;
	struct lock_res **t;

	if (l->have_engine ||
	    sscanf(s, "%llu %llu %llu %llu %llu %d %zu", &vid, &hid, &hseq,
		   &epsmax, &wm, &warned, &cap) != 7 ||
	    cap < 1 || cap > SNAP_MAX_RTAB || (cap & (cap - 1)))
		return bad(l, "bad engine record");
	t = calloc(cap, sizeof(*t));
	if (!t)
		return -1;
	free(e->rtab);
	e->rtab = t;
	e->rtab_cap = cap;
	e->next_verdict_id = vid;
	e->next_hold_id = hid;
	e->hist_seq = hseq;
	if (epsmax > e->eps_max)
		e->eps_max = epsmax;
	e->watermark = wm;
	e->eps_warned = warned;
	l->have_engine = true;
	return 0;
}

static int ld_node(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	unsigned int idx, inflight;
	char name[128];
	ull lseq, gaps, ltrace, ltai, ldom, held, from, to;
	int unreach, shared, exits;
	const struct cnode *cn;
	struct node_rec *t;
	struct lnode *n;

	if (!l->have_engine || l->n_res || l->vc ||
	    sscanf(s,
		   "%u %127s %llu %d %llu %llu %llu %llu %d %u %d %llu %llu %llu",
		   &idx, name, &lseq, &unreach, &gaps, &ltrace, &ltai, &ldom,
		   &shared, &inflight, &exits, &held, &from, &to) != 14 ||
	    idx != l->n_nodes || l->n_nodes >= SNAP_MAX_NODES)
		return bad(l, "bad node record");
	cn = l->node(l->arg, name);
	if (!cn) {
		snprintf(
			l->err, l->errlen,
			"line %d: node %s is not in the collector's checkpoint",
			l->lineno, name);
		errno = EINVAL;
		return -1;
	}
	if (cn->index < e->n_nodes && e->nodes[cn->index])
		return bad(l, "a node twice");
	t = grow(l->nodes, &l->cap_nodes, l->n_nodes, sizeof(*t));
	if (!t)
		return -1;
	l->nodes = t;
	n = lock_node(e, cn);
	if (!n)
		return -1;
	n->lseq = lseq;
	n->unreachable = unreach;
	n->gaps = gaps;
	n->last_trace = ltrace;
	n->last_tai = ltai;
	n->last_dom = ldom;
	n->dom_shared = shared;
	n->flock_inflight = inflight;
	n->flock_exits = exits;
	l->nodes[l->n_nodes++] = (struct node_rec){
		.n = n, .held = held, .held_from = from, .held_to = to
	};
	return 0;
}

static int ld_vc(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	unsigned int idx;
	int used;
	struct lnode *n;

	if (l->n_res || sscanf(s, "%u%n", &idx, &used) != 1 ||
	    !(n = node_at(l, idx)))
		return bad(l, "bad vector clock record");
	/* every node is known by now: lock_node() sized the clocks */
	if (parse_vc(l, s + used))
		return -1;
	memcpy(n->vc, l->vc, e->vc_cap * sizeof(*n->vc));
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int ld_res(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	char domain[16], hex[2 * LOCK_KEY_MAX + 2];
	uint8_t key[LOCK_KEY_MAX];
	size_t key_len = 0;
	const struct lock_matrix *m;
	const char *dom;
	unsigned int ls, refs;
	int incomplete;
	struct lock_res *r;
	struct res_rec *t;

	if (!l->have_engine || sscanf(s, "%15s %u %513s %d %u", domain, &ls,
				      hex, &incomplete, &refs) != 5)
		return bad(l, "bad resource record");
	if (!strcmp(domain, lock_dlm_domain)) {
		dom = lock_dlm_domain;
		m = &lock_matrix_dlm;
	} else if (!strcmp(domain, lock_flock_domain)) {
		dom = lock_flock_domain;
		m = &lock_matrix_shex;
	} else if (!strcmp(domain, lock_user_domain)) {
		dom = lock_user_domain;
		m = &e->user_matrix;
	} else {
		return bad(l, "unknown resource domain");
	}
	if (strcmp(hex, "-")) {
		size_t len = strlen(hex);

		if (len % 2 || len / 2 > LOCK_KEY_MAX)
			return bad(l, "bad resource key");
		for (size_t i = 0; i < len; i += 2) {
			int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);

			if (hi < 0 || lo < 0)
				return bad(l, "bad resource key");
			key[key_len++] = (uint8_t)(hi << 4 | lo);
		}
	}
	t = grow(l->res, &l->cap_res, l->n_res, sizeof(*t));
	if (!t)
		return -1;
	l->res = t;
	r = lockt_res_get(e, dom, m, ls, key, key_len);
	if (!r)
		return -1;
	if (r->refs || r->holds || r->closed || r->rings)
		return bad(l, "a resource twice");
	r->incomplete = incomplete;
	l->res[l->n_res++] = (struct res_rec){ .r = r, .refs = refs };
	l->cur = r;
	l->open_tail = l->closed_tail = NULL;
	l->ring_tail = NULL;
	l->ring = NULL;
	return 0;
}

static void tail_add(struct lock_hold **head, struct lock_hold **tail,
		     struct lock_hold *h)
{
	h->next = NULL;
	h->prev = *tail;
	if (*tail)
		(*tail)->next = h;
	else
		*head = h;
	*tail = h;
}

/* decimal digits at *@s (at least one), no overflow; false if not */
static bool get_digits(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t x = 0;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		unsigned int d = (unsigned int)(*p++ - '0');

		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*v = x;
	*s = p;
	return true;
}

/* " V" */
static bool get_u(const char **s, uint64_t *v)
{
	const char *p = *s + 1;

	if (**s != ' ' || !get_digits(&p, v))
		return false;
	*s = p;
	return true;
}

/* " V" or " -V", within int */
static bool get_int(const char **s, int *v)
{
	const char *p = *s + 1;
	bool neg;
	uint64_t x;

	if (**s != ' ')
		return false;
	neg = *p == '-';
	if (neg)
		p++;
	if (!get_digits(&p, &x) || x > INT32_MAX)
		return false;
	*v = neg ? -(int)x : (int)x;
	*s = p;
	return true;
}

static int ld_hold(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	struct lock_res *r = l->cur;
	uint64_t f[HOLD_FIELDS];
	struct lock_hold *h, **t;
	uint64_t v[17];
	unsigned int node;
	int mode, open, expired, uncertain, i;

	for (i = 0; i < HOLD_FIELDS && get_u(&s, &f[i]); i++)
		;
	if (i < HOLD_FIELDS || *s || !r || l->sorted || f[1] > UINT32_MAX ||
	    f[3] >= LOCK_MAX_MODES || f[4] > 1 || f[5] > 1 || f[6] > 1)
		return bad(l, "bad hold record");
	/* id node holder mode open expired uncertain, then the times */
	node = (unsigned int)f[1];
	mode = (int)f[3];
	open = (int)f[4];
	expired = (int)f[5];
	uncertain = (int)f[6];
	v[0] = f[0];
	v[1] = f[2];
	for (i = 7; i < HOLD_FIELDS; i++)
		v[i - 5] = f[i];
	if (!node_at(l, node) || mode >= (int)r->m->n_modes || !v[0] ||
	    v[0] > e->next_hold_id || (open && expired) ||
	    (open && l->closed_tail))
		return bad(l, "bad hold record");
	t = grow(l->holds, &l->cap_holds, l->n_holds, sizeof(*t));
	if (!t)
		return -1;
	l->holds = t;
	h = malloc(sizeof(*h));
	if (!h)
		return -1;
	*h = (struct lock_hold){ .res = r,
				 .n = node_at(l, node),
				 .id = v[0],
				 .holder = v[1],
				 .mode = mode,
				 .open = open,
				 .expired = expired,
				 .uncertain = uncertain,
				 .g_tai = v[2],
				 .g_eps = v[3],
				 .g_lseq = v[4],
				 .r_tai = v[5],
				 .r_eps = v[6],
				 .r_lseq = v[7],
				 .g_trace = v[8],
				 .r_trace = v[9],
				 .r_early = v[10],
				 .g_dom = v[11],
				 .r_dom = v[12],
				 .end_max = v[13],
				 .end_trace = v[14],
				 .end_dom = v[15] };
	if (open)
		tail_add(&r->holds, &l->open_tail, h);
	else
		tail_add(&r->closed, &l->closed_tail, h);
	r->n_mode[mode]++;
	r->modes |= (uint16_t)(1u << mode);
	r->refs++;
	e->st.holds++;
	l->holds[l->n_holds++] = h;
	return 0;
}

static int ld_ring(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	unsigned int node, cap, len, k = e->conf.history;
	struct lock_hring *g;

	if (!l->cur || l->ring_left ||
	    sscanf(s, "%u %u %u", &node, &cap, &len) != 3 ||
	    !node_at(l, node) || !cap || len > cap || cap > 65536)
		return bad(l, "bad history record");
	l->ring_skip = 0;
	if (!k) {
		/* history off now: read past it */
		l->ring = NULL;
		l->ring_left = len;
		l->ring_skip = len;
		return 0;
	}
	if (cap > k) {
		/* a smaller K now: keep the newest K */
		l->ring_skip = len > k ? len - k : 0;
		len -= l->ring_skip;
		cap = k;
	}
	g = malloc(sizeof(*g) + cap * sizeof(g->ev[0]));
	if (!g)
		return -1;
	g->next = NULL;
	g->n = node_at(l, node);
	g->cap = cap;
	g->head = 0;
	g->len = 0;
	if (l->ring_tail)
		l->ring_tail->next = g;
	else
		l->cur->rings = g;
	l->ring_tail = g;
	l->ring = g;
	l->ring_left = len + l->ring_skip;
	return 0;
}

static int ld_hist(struct loader *l, const char *s)
{
	uint64_t seq, tai, eps, holder, kind;
	int mode;

	if (!l->ring_left || !get_u(&s, &seq) || !get_u(&s, &tai) ||
	    !get_u(&s, &eps) || !get_u(&s, &holder) || !get_u(&s, &kind) ||
	    !get_int(&s, &mode) || *s || kind >= LOCK_EV_MAX || mode < -1 ||
	    mode >= LOCK_MAX_MODES)
		return bad(l, "bad history entry");
	l->ring_left--;
	if (l->ring_skip) {
		l->ring_skip--;
		return 0;
	}
	l->ring->ev[l->ring->len++] = (struct lock_hist){
		.node = l->ring->n->cn,
		.seq = seq,
		.tai = tai,
		.eps = eps,
		.holder = holder,
		.kind = (uint8_t)kind,
		.mode = (int8_t)mode,
	};
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const struct lock_hold *x = *(struct lock_hold *const *)a;
	const struct lock_hold *y = *(struct lock_hold *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Every hold is read: sort them by id (-1: an id twice). */
static int holds_done(struct loader *l)
{
	if (l->sorted)
		return 0;
	if (l->n_holds)
		qsort(l->holds, l->n_holds, sizeof(*l->holds), by_id);
	l->sorted = true;
	l->cur = NULL;
	for (size_t i = 1; i < l->n_holds; i++)
		if (l->holds[i]->id == l->holds[i - 1]->id)
			return bad(l, "a hold id twice");
	return 0;
}

/* The hold with @id, once every hold is read. */
static struct lock_hold *hold_by_id(struct loader *l, uint64_t id)
{
	size_t lo = 0, hi = l->n_holds;

	if (holds_done(l))
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->holds[mid]->id == id)
			return l->holds[mid];
		if (l->holds[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int ld_fifo(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	struct lock_hold *h;
	ull id;

	if (sscanf(s, "%llu", &id) != 1 || !(h = hold_by_id(l, id)) ||
	    h->open || h->expired || h->fifo_next || h == e->fifo_tail)
		return bad(l, "bad fifo record");
	h->fifo_next = NULL;
	if (e->fifo_tail)
		e->fifo_tail->fifo_next = h;
	else
		e->fifo_head = h;
	e->fifo_tail = h;
	return 0;
}

static int ld_pair(struct loader *l, const char *s)
{
	struct lock_hold *a, *b;
	struct pair_rec *t;
	ull ia, ib;
	unsigned int hb;

	if (sscanf(s, "%llu %llu %u", &ia, &ib, &hb) != 3 ||
	    !(a = hold_by_id(l, ia)) || !(b = hold_by_id(l, ib)) || a == b ||
	    a->res != b->res)
		return bad(l, "bad pair record");
	t = grow(l->pairs, &l->cap_pairs, l->n_pairs, sizeof(*t));
	if (!t)
		return -1;
	l->pairs = t;
	l->pairs[l->n_pairs++] = (struct pair_rec){ a, b, hb };
	return 0;
}

static int ld_msg(struct loader *l, const char *s)
{
	struct lock_engine *e = l->e;
	uint64_t key[LOCK_PAIR_KEYS + 1];
	unsigned int node;
	int recv, used;
	ull tai, eps, lseq, born;
	struct lnode *n;

	if (sscanf(s, "%d %u %llu %llu %llu %llu%n", &recv, &node, &tai, &eps,
		   &lseq, &born, &used) != 6 ||
	    !(n = node_at(l, node)))
		return bad(l, "bad message record");
	s += used;
	for (int i = 0; i <= LOCK_PAIR_KEYS; i++) {
		ull k;

		if (sscanf(s, " %llu%n", &k, &used) != 1)
			return bad(l, "bad message key");
		key[i] = k;
		s += used;
	}
	if (parse_vc(l, s))
		return -1;
	if (lock_causal_restore_msg(e, key, recv, n->cn, tai, eps, lseq, born,
				    l->vc))
		return -1;
	return 0;
}

static int ld_lkb(struct loader *l, const char *s)
{
	unsigned int node, ls, lkb, res;
	ull hold;
	int gr, rq, alt;
	struct lock_hold *h = NULL;

	if (sscanf(s, "%u %u %u %u %llu %d %d %d", &node, &ls, &lkb, &res,
		   &hold, &gr, &rq, &alt) != 8 ||
	    !node_at(l, node) || res >= l->n_res ||
	    (hold && (!(h = hold_by_id(l, hold)) || !h->open ||
		      h->res != l->res[res].r)))
		return bad(l, "bad dlm lock record");
	if (lock_dlm_restore(l->e, node_at(l, node), ls, lkb, l->res[res].r, h,
			     gr, rq, alt))
		return errno == EINVAL ? bad(l, "bad dlm lock record") : -1;
	return 0;
}

static int ld_fcall(struct loader *l, const char *s)
{
	unsigned int node, pid;
	ull lseq, tai, eps, trace, dom;

	if (sscanf(s, "%u %u %llu %llu %llu %llu %llu", &node, &pid, &lseq,
		   &tai, &eps, &trace, &dom) != 7 ||
	    !node_at(l, node))
		return bad(l, "bad flock call record");
	if (lock_flock_restore(l->e, node_at(l, node), pid, lseq, tai, eps,
			       trace, dom))
		return errno == EINVAL ? bad(l, "bad flock call record") : -1;
	return 0;
}

static bool kw_is(const char *line, size_t kw, const char *name)
{
	return strlen(name) == kw && !memcmp(line, name, kw);
}

static int ld_line(struct loader *l, const char *line)
{
	/* the fields start with their space (sscanf skips it too) */
	const char *sp = strchr(line, ' ');
	size_t kw;
	ull v;

	if (!sp)
		return bad(l, "unknown record");
	kw = (size_t)(sp - line);
	if (kw_is(line, kw, "engine"))
		return ld_engine(l, sp);
	if (!l->have_engine)
		return bad(l, "no engine record first");
	if (kw_is(line, kw, "node"))
		return ld_node(l, sp);
	if (kw_is(line, kw, "vc"))
		return ld_vc(l, sp);
	if (kw_is(line, kw, "res"))
		return l->sorted ? bad(l, "resource after fifo or pair") :
				   ld_res(l, sp);
	if (kw_is(line, kw, "hold"))
		return ld_hold(l, sp);
	if (kw_is(line, kw, "ring"))
		return ld_ring(l, sp);
	if (kw_is(line, kw, "h"))
		return ld_hist(l, sp);
	if (l->ring_left)
		return bad(l, "history ring cut short");
	if (kw_is(line, kw, "fifo"))
		return ld_fifo(l, sp);
	if (kw_is(line, kw, "pair"))
		return ld_pair(l, sp);
	if (kw_is(line, kw, "msg"))
		return ld_msg(l, sp);
	if (kw_is(line, kw, "lkb"))
		return ld_lkb(l, sp);
	if (kw_is(line, kw, "fcall"))
		return ld_fcall(l, sp);
	if (kw_is(line, kw, "fdropped")) {
		if (sscanf(sp, "%llu", &v) != 1)
			return bad(l, "bad fdropped record");
		lock_flock_set_dropped(l->e, v);
		return 0;
	}
	return bad(l, "unknown record");
}

/* After the last record: references, pairs, counts. */
static int ld_finish(struct loader *l)
{
	struct lock_engine *e = l->e;

	if (l->ring_left)
		return bad(l, "history ring cut short");
	if (holds_done(l))
		return -1;
	for (size_t i = 0; i < l->n_res; i++)
		if (l->res[i].r->refs != l->res[i].refs)
			return bad(l, "a resource's references do not add up");
	/* open_pairs newest first: make them oldest first */
	for (size_t i = l->n_pairs; i--;)
		lockt_pair_restore(e, l->pairs[i].a, l->pairs[i].b,
				   l->pairs[i].hb);
	return 0;
}

static void loader_free(struct loader *l)
{
	free(l->nodes);
	free(l->res);
	free(l->holds);
	free(l->pairs);
	free(l->vc);
}

/* The whole file, NUL-terminated; NULL with errno. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 65536) {
			char *t = realloc(buf, cap + 65536 + 1);

			if (!t) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = t;
			cap += 65536;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return NULL;
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Check magic, version and checksum; the records start at *@body. */
static int check_file(char *buf, size_t len, char **body, char *err,
		      size_t errlen)
{
	char *end, *nl, first[32];
	ull sum;
	int version;

	if (sscanf(buf, SNAP_MAGIC " %d", &version) != 1) {
		snprintf(err, errlen, "not a lock state file");
		goto bad;
	}
	snprintf(first, sizeof(first), "%s %d\n", SNAP_MAGIC, SNAP_VERSION);
	if (version == SNAP_VERSION && strncmp(buf, first, strlen(first))) {
		snprintf(err, errlen, "not a lock state file");
		goto bad;
	}
	if (version != SNAP_VERSION) {
		snprintf(err, errlen,
			 "format version %d, this collector reads %d", version,
			 SNAP_VERSION);
		goto bad;
	}
	if (!len || buf[len - 1] != '\n') {
		snprintf(err, errlen, "cut short (no final newline)");
		goto bad;
	}
	buf[len - 1] = 0;
	end = strrchr(buf, '\n');
	if (!end || sscanf(end + 1, "end %16llx", &sum) != 1 ||
	    strlen(end + 1) != 20) {
		snprintf(err, errlen, "cut short (no end record)");
		goto bad;
	}
	if (lock_hash_bytes(LOCK_HASH_SEED, buf, (size_t)(end + 1 - buf)) !=
	    sum) {
		snprintf(err, errlen, "checksum mismatch (damaged)");
		goto bad;
	}
	*end = 0;
	nl = strchr(buf, '\n');
	*body = nl ? nl + 1 : end;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int lock_engine_load(struct lock_engine *e, const char *path,
		     const struct cnode *(*node)(void *arg, const char *name),
		     void *arg, char *err, size_t errlen)
{
	struct loader l = { .e = e,
			    .node = node,
			    .arg = arg,
			    .err = err,
			    .errlen = errlen,
			    .lineno = 1 };
	size_t len;
	char *buf = read_file(path, &len), *body, *line, *save;
	int ret = -1, saved;

	if (!buf) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	if (check_file(buf, len, &body, err, errlen))
		goto out;
	for (line = strtok_r(body, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		l.lineno++;
		if (ld_line(&l, line)) {
			if (errno != EINVAL)
				snprintf(err, errlen, "line %d: %s", l.lineno,
					 strerror(errno));
			goto out;
		}
	}
	l.lineno++;
	if (!l.have_engine) {
		bad(&l, "no engine record");
		goto out;
	}
	if (ld_finish(&l))
		goto out;
	/* what the engine held back was delivered, but not by it: lost */
	for (size_t i = 0; i < l.n_nodes; i++) {
		const struct node_rec *nr = &l.nodes[i];

		if (!nr->held)
			continue;
		pr_warning(
			"node %s: %llu events held back for causal order at the checkpoint are not in the lock state: reported as a loss",
			nr->n->cn->name, (ull)nr->held);
		lock_node_news(e, nr->n, LOCK_NEWS_LOSS, nr->held_from,
			       nr->held_to, nr->held);
	}
	ret = 0;
out:
	saved = errno;
	loader_free(&l);
	free(buf);
	if (ret && lock_engine_clear(e))
		saved = ENOMEM;
	errno = saved;
	return ret;
}

/* --- the consumer ops --- */

static void snap_path(const struct lock_persist *p, uint64_t gen, char *buf,
		      size_t len)
{
	snprintf(buf, len, "%s/" SNAP_PREFIX "%llu", p->dir, (ull)gen);
}

/* Generation of a snapshot file's name, 0 if it is none. */
static uint64_t name_gen(const char *name)
{
	ull gen;
	int used = 0;

	if (strncmp(name, SNAP_PREFIX, strlen(SNAP_PREFIX)) ||
	    sscanf(name + strlen(SNAP_PREFIX), "%llu%n", &gen, &used) != 1)
		return 0;
	return name[strlen(SNAP_PREFIX) + used] ? 0 : gen;
}

/* The newest generation in the directory (0: none). */
static uint64_t newest_gen(const struct lock_persist *p)
{
	DIR *d = opendir(p->dir);
	struct dirent *de;
	uint64_t max = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		uint64_t g = name_gen(de->d_name);

		if (g > max)
			max = g;
	}
	closedir(d);
	return max;
}

int lock_persist_checkpoint(struct consumer *c, uint64_t *token)
{
	struct lock_engine *e = container_of(c, struct lock_engine, consumer);
	struct lock_persist *p = e->persist;
	char path[4096];
	uint64_t start;

	if (!p->scanned) {
		uint64_t g = newest_gen(p);

		if (g > p->gen)
			p->gen = g;
		p->scanned = true;
	}
	start = clocks_now(CLOCK_MONOTONIC);
	if (p->saved_ns && start - p->saved_ns < SNAP_DUTY * p->save_ns) {
		errno = EAGAIN;
		return -1;
	}
	snap_path(p, p->gen + 1, path, sizeof(path));
	if (lock_engine_save(e, path))
		return -1;
	p->saved_ns = clocks_now(CLOCK_MONOTONIC);
	p->save_ns = p->saved_ns - start;
	*token = ++p->gen;
	return 0;
}

void lock_persist_committed(struct consumer *c)
{
	struct lock_engine *e = container_of(c, struct lock_engine, consumer);
	struct lock_persist *p = e->persist;
	DIR *d = opendir(p->dir);
	struct dirent *de;

	/* only the snapshot the durable checkpoint names is needed now */
	if (!d)
		return;
	while ((de = readdir(d))) {
		uint64_t g = name_gen(de->d_name);
		char path[4096];

		if (!g && strncmp(de->d_name, SNAP_PREFIX, strlen(SNAP_PREFIX)))
			continue;
		if (g == p->gen)
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->dir, de->d_name);
		if (unlink(path) && errno != ENOENT)
			pr_warning("cannot remove the old lock state %s: %m",
				   path);
	}
	closedir(d);
}

int lock_persist_resume(struct consumer *c, uint64_t token)
{
	struct lock_engine *e = container_of(c, struct lock_engine, consumer);
	struct lock_persist *p = e->persist;
	char path[4096], err[256];
	size_t n_nodes = 0;

	p->gen = token;
	if (!token)
		return 0;
	snap_path(p, token, path, sizeof(path));
	if (lock_engine_load(e, path, p->node, p->arg, err, sizeof(err))) {
		if (errno == ENOMEM) {
			pr_err("cannot load the lock state %s: %m", path);
			return -1;
		}
		pr_warning(
			"lock state %s: %s; starting with an empty lock table: locks held or messages sent before the checkpoint are unknown, so a conflict with one of them is not reported (events after the checkpoint are replayed as usual)",
			path, err);
		return 0;
	}
	for (size_t i = 0; i < e->n_nodes; i++)
		n_nodes += e->nodes[i] != NULL;
	pr_notice("lock state %s loaded: %zu nodes, %llu resources, %llu holds",
		  path, n_nodes, (ull)e->st.resources, (ull)e->st.holds);
	for (size_t b = 0; e->res_changed && b < e->rtab_cap; b++)
		for (struct lock_res *r = e->rtab[b]; r; r = r->hnext)
			e->res_changed(e->res_changed_arg, r, e->watermark);
	return 0;
}

int lock_engine_persist(struct lock_engine *e, const char *dir,
			const struct cnode *(*node)(void *arg,
						    const char *name),
			void *arg)
{
	struct lock_persist *p = calloc(1, sizeof(*p));

	if (!p || !(p->dir = strdup(dir))) {
		free(p);
		errno = ENOMEM;
		return -1;
	}
	p->node = node;
	p->arg = arg;
	lock_persist_destroy(e);
	e->persist = p;
	e->consumer.ops = &lock_consumer_ops_persist;
	return 0;
}

void lock_persist_destroy(struct lock_engine *e)
{
	if (!e->persist)
		return;
	free(e->persist->dir);
	free(e->persist);
	e->persist = NULL;
}
