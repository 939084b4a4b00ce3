/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock_private.h - the engine's insides, shared by its files.
 *
 *   engine.c   consumer ops, per-type dispatch cache, loss and liveness
 *   causal.c   send/receive matching, vector clocks, causal delivery
 *   table.c    resources, holds, conflict pairs, history, memory bounds
 *   decide.c   the verdict rule over intervals, eps and happens-before
 *   compat.c   compatibility matrices
 *   adapt_*.c  dlm, flock, user adapters
 *   verdict.c  verdict JSON
 *   persist.c  snapshots at checkpoints, loaded at resume
 */
#ifndef NETRV_COLLECTOR_LOCK_PRIVATE_H
#define NETRV_COLLECTOR_LOCK_PRIVATE_H

#include <stdio.h>

#include "evpack.h"
#include "lock.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define LOCK_KEY_MAX 256 /* resource key bytes: domain data + name */
#define LOCK_HIST_NODES 8 /* nodes whose history a resource keeps */

/* --- compatibility matrices (compat.c) --- */
struct lock_matrix {
	const char *name;
	unsigned int n_modes;
	const char *const *mode_names;
	uint16_t compat[LOCK_MAX_MODES];
	uint16_t universal; /* modes compatible with every mode */
	int strongest;
};

extern const struct lock_matrix lock_matrix_dlm;
extern const struct lock_matrix lock_matrix_shex;

static inline bool lock_compatible(const struct lock_matrix *m, int a, int b)
{
	return (m->compat[a] >> b) & 1;
}

/** lock_weaker_or_equal - every mode compatible with @hi is with @lo */
bool lock_weaker_or_equal(const struct lock_matrix *m, int lo, int hi);
const char *lock_mode_name(const struct lock_matrix *m, int mode);
int lock_matrix_build(struct lock_matrix *m, const char *name, unsigned int n,
		      const char *const *names, const uint16_t *compat);

/* --- per-node state --- */
struct lock_pend; /* an event held back until its causes are delivered */

struct lnode {
	const struct cnode *cn;
	uint64_t lseq; /* events of this node delivered so far */
	uint64_t *vc; /* vector clock, e->vc_cap entries */
	/* causal delivery: events held while a receive waits for its send */
	bool blocked;
	uint64_t block_key[LOCK_PAIR_KEYS + 1];
	struct lock_pend *pend;
	size_t pend_head, pend_len, pend_cap;
	struct bytebuf pend_data;
	/* liveness */
	bool unreachable;
	bool ready; /* unblocked: replay pending events */
	uint64_t gaps; /* loss reports and unreachable spells so far */
	/* the last event delivered: a lower bound of what it does next */
	uint64_t last_trace, last_tai;
	uint64_t last_dom;
	/* another node's last event had last_dom too: one clock, shared */
	bool dom_shared;
	/* flock adapter: tasks inside flock(2) now; sys_exit_flock seen */
	uint32_t flock_inflight;
	bool flock_exits;
	uint32_t snap; /* index in the snapshot being written (persist.c) */
};

/* Context of one delivered event. */
struct lctx {
	struct lnode *n;
	uint64_t lseq, tai, eps;
	uint64_t trace; /* the node's trace clock */
	uint64_t dom; /* cevent.clock_domain, 0 unknown */
	/*
	 * Releases only: the true release may precede the stamp by up to
	 * @early ns (a release dated by an event that fires after the lock
	 * was dropped); facts from the node's vector clock do not hold for
	 * it when @no_hb (other events came between its time and now).
	 */
	uint64_t early;
	bool no_hb;
};

/* --- lock table (table.c) --- */
struct lock_hold;
struct lock_pair;

/* The last conf.history lock events of one resource on one node. */
struct lock_hring {
	struct lock_hring *next;
	const struct lnode *n;
	unsigned int head, len, cap;
	struct lock_hist ev[]; /* cap entries, cap <= conf.history */
};

struct lock_res {
	struct lock_res *hnext;
	uint64_t hash;
	const struct lock_matrix *m;
	const char *domain;
	uint32_t ls;
	unsigned int refs; /* holds + adapter references */
	bool incomplete; /* a holder node lost events */
	uint16_t modes; /* modes with n_mode[] > 0 */
	struct lock_hold *holds; /* open holds, newest first, doubly linked */
	struct lock_hold *closed; /* released holds kept, newest first */
	uint32_t n_mode[LOCK_MAX_MODES]; /* holds (open and kept) by mode */
	struct lock_hring *rings; /* history: one ring per node */
	uint32_t snap; /* index in the snapshot being written (persist.c) */
	uint16_t key_len;
	uint8_t key[LOCK_KEY_MAX];
};

struct lock_hold {
	struct lock_hold *prev, *next; /* in res->holds or res->closed */
	struct lock_hold *fifo_next; /* closed holds, in closing order */
	struct lock_res *res;
	struct lnode *n;
	uint64_t id, holder;
	int mode;
	bool open, expired, uncertain;
	uint64_t g_tai, g_eps, g_lseq;
	uint64_t r_tai, r_eps, r_lseq;
	uint64_t g_trace, r_trace, r_early; /* see struct lctx */
	uint64_t g_dom, r_dom;
	/*
	 * Closed holds: an upper bound of r_tai + r_eps over this hold and
	 * every older one in res->closed (UINT64_MAX if one is uncertain), so
	 * a grant stops walking where all older holds are clock-separated.
	 */
	uint64_t end_max;
	/*
	 * Holds of one clock domain are ruled on by trace times against a
	 * grant of that domain: end_trace is the latest release trace time
	 * of those among this hold and the older ones, end_dom that domain
	 * (0 none, LOCK_DOM_MIXED several).
	 */
	uint64_t end_trace, end_dom;
	struct lock_pair *pairs;
	unsigned int n_pairs;
};

/* Two incompatible holds on different nodes, awaiting a decision. */
struct lock_pair {
	struct lock_hold *h[2]; /* h[0] granted first (delivery order) */
	struct lock_pair *next[2]; /* in h[i]->pairs */
	struct lock_pair *all_prev, *all_next; /* engine's open pairs */
	unsigned int hb; /* VERDICT_HB_*, A = h[0], B = h[1] */
};

/* --- messages (causal.c) --- */
struct lock_msg {
	struct lock_msg *hnext;
	uint64_t key[LOCK_PAIR_KEYS + 1]; /* [0] = rule index */
	uint64_t hash;
	bool is_recv; /* an orphan receive remembered for late sends */
	const struct cnode *node;
	uint64_t tai, eps, lseq, born_tai;
	uint64_t *vc; /* send: snapshot of the sender's vector clock */
	uint32_t vc_len, vc_alloc;
	struct lock_msg *lprev, *lnext; /* age order */
};

/* --- per event type dispatch (engine.c) --- */
enum lock_role {
	ROLE_NONE,
	ROLE_DLM_LOCK_START,
	ROLE_DLM_LOCK_END,
	ROLE_DLM_AST,
	ROLE_DLM_UNLOCK_START,
	ROLE_DLM_UNLOCK_END,
	ROLE_FLOCK,
	ROLE_FLOCK_ENTER,
	ROLE_FLOCK_EXIT,
	ROLE_USER,
	ROLE_SEND,
	ROLE_RECV,
};

#define LOCK_MAX_ROLES 4
/* built-in pair rules after the configured ones */
#define LOCK_RULE_DLM612(e) ((e)->conf.n_pair_rules)
#define LOCK_RULE_DLM61(e) ((e)->conf.n_pair_rules + 1)
#define LOCK_MAX_FIELDS 8
_Static_assert(LOCK_PAIR_KEYS <= LOCK_MAX_FIELDS,
	       "a pair key is read from role fields");

struct lock_tinfo {
	const Netrv__EventType *type;
	const char *type_name; /* to notice a reused pointer */
	size_t n_fields;
	unsigned int n_roles;
	struct {
		uint8_t role;
		uint16_t rule; /* user or pair rule index */
		int16_t f[LOCK_MAX_FIELDS]; /* field indices, -1 absent */
	} r[LOCK_MAX_ROLES];
};

struct lock_engine {
	struct consumer consumer;
	struct lock_engine_conf conf;
	struct lock_matrix user_matrix;
	struct verdict_sink *sinks;
	/* the state view's hook: a resource's holds changed (at @tai) */
	void (*res_changed)(void *arg, const struct lock_res *r, uint64_t tai);
	void *res_changed_arg;
	struct lock_stats st;
	uint64_t next_verdict_id, next_hold_id;

	/* nodes, by cnode index */
	struct lnode **nodes;
	size_t n_nodes;
	uint32_t vc_cap;

	/* type cache: open addressing on the type pointer */
	struct lock_tinfo *tcache;
	size_t tcache_cap, tcache_len;

	/* lock table */
	struct lock_res **rtab;
	size_t rtab_cap;
	struct lock_res *res_free;
	struct lock_hold *hold_free;
	struct lock_pair *pair_free;
	struct lock_hold *fifo_head, *fifo_tail;
	struct lock_pair *open_pairs;
	uint64_t eps_max; /* largest eps seen, at least conf.eps_floor_ns */
	uint64_t watermark;
	bool eps_warned;

	/* messages */
	struct lock_msg **mtab;
	size_t mtab_cap, n_msgs;
	struct lock_msg *msg_free;
	struct lock_msg *mold, *mnew; /* oldest, newest */
	unsigned int n_blocked, n_ready;

	/* adapters */
	void *dlm;
	void *flock;
	void *user;

	struct lock_hist *hist_tmp; /* a verdict's merged history */
	size_t hist_tmp_cap;
	uint64_t hist_seq;
	struct lock_hring *hring_free;
	char *json; /* verdict JSON, grown as needed */
	size_t json_cap;
	struct evpack_value *scratch; /* replay of held-back events */
	size_t scratch_cap;
	int depth; /* recursion guard for delivery */

	struct lock_persist *persist; /* snapshots, NULL: none (persist.c) */
};

/* engine.c */
struct lnode *lock_node(struct lock_engine *e, const struct cnode *cn);
/* false: a receive waits for its send (unless @give_up) */
bool lock_deliver_one(struct lock_engine *e, struct lnode *n,
		      const struct cevent *ev, bool give_up);
void lock_emit(struct lock_engine *e, struct verdict *v);
void lock_verdict_clocks(struct verdict *v, const struct cnode *a,
			 const struct cnode *b);
const struct lock_tinfo *lock_tinfo_get(struct lock_engine *e,
					const Netrv__EventType *t);

/* drop every piece of state (nodes, tables, adapters); keep conf, sinks */
int lock_engine_clear(struct lock_engine *e);

/* persist.c */
void lock_persist_destroy(struct lock_engine *e);
int lock_persist_checkpoint(struct consumer *c, uint64_t *token);
int lock_persist_resume(struct consumer *c, uint64_t token);
void lock_persist_committed(struct consumer *c);
/* engine.c: the consumer ops with the three above */
extern const struct consumer_ops lock_consumer_ops_persist;

/* causal.c */
int lock_causal_init(struct lock_engine *e);
void lock_causal_destroy(struct lock_engine *e);
/* returns true if the event was taken (held back) */
bool lock_causal_event(struct lock_engine *e, struct lnode *n,
		       const struct cevent *ev, const struct lock_tinfo *ti);
void lock_causal_send(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r);
/* false: the send is not delivered yet (n->block_key says which) */
bool lock_causal_recv_ready(struct lock_engine *e, struct lnode *n,
			    const struct cevent *ev,
			    const struct lock_tinfo *ti, unsigned int r);
void lock_causal_recv(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r);
/* news about a node (loss, liveness): true if queued behind held events */
enum { LOCK_NEWS_LOSS, LOCK_NEWS_UNREACHABLE, LOCK_NEWS_UP, LOCK_NEWS_DOWN };
bool lock_causal_news(struct lock_engine *e, struct lnode *n, unsigned int what,
		      uint64_t from, uint64_t to, uint64_t count);
void lock_node_news(struct lock_engine *e, struct lnode *n, unsigned int what,
		    uint64_t from, uint64_t to, uint64_t count);
void lock_causal_watermark(struct lock_engine *e, uint64_t w);
uint64_t lock_causal_horizon(struct lock_engine *e, uint64_t w);
int lock_vc_grow(struct lock_engine *e, uint32_t need);
/* @n's held-back events: how many, their TAI range */
void lock_causal_held(const struct lnode *n, uint64_t *count, uint64_t *from,
		      uint64_t *to);
/* snapshot: a message as if just added; @vc: e->vc_cap entries (sends) */
int lock_causal_restore_msg(struct lock_engine *e,
			    const uint64_t key[LOCK_PAIR_KEYS + 1],
			    bool is_recv, const struct cnode *node,
			    uint64_t tai, uint64_t eps, uint64_t lseq,
			    uint64_t born_tai, const uint64_t *vc);

/* table.c */
int lock_table_init(struct lock_engine *e);
void lock_table_destroy(struct lock_engine *e);
struct lock_res *lockt_res_get(struct lock_engine *e, const char *domain,
			       const struct lock_matrix *m, uint32_t ls,
			       const void *key, size_t key_len);
void lockt_res_put(struct lock_engine *e, struct lock_res *r);
struct lock_hold *lockt_find(struct lock_res *r, struct lnode *n,
			     uint64_t holder);
struct lock_hold *lockt_grant(struct lock_engine *e, struct lock_res *r,
			      struct lctx *c, uint64_t holder, int mode,
			      enum lock_ev_kind kind);
void lockt_release(struct lock_engine *e, struct lock_hold *h, struct lctx *c);
void lockt_note(struct lock_engine *e, struct lock_res *r, struct lctx *c,
		uint64_t holder, int mode, enum lock_ev_kind kind);
/* a release of a hold never seen granted */
void lockt_unknown_release(struct lock_engine *e, struct lock_res *r,
			   struct lctx *c, uint64_t holder);
void lockt_watermark(struct lock_engine *e, uint64_t horizon);
/* a node's domain became shared: recompute every closed list's end_* */
void lockt_reindex_all(struct lock_engine *e);
void lockt_node_gap(struct lock_engine *e, struct lnode *n, uint64_t from,
		    uint64_t to, uint64_t count, bool held_now);
/* @n said Goodbye: its open holds may end unseen (no verdict) */
void lockt_node_down(struct lock_engine *e, struct lnode *n);
void lockt_fill_res(struct verdict *v, const struct lock_res *r);
/* snapshot: pair @a (granted first) and @b as a new pair */
void lockt_pair_restore(struct lock_engine *e, struct lock_hold *a,
			struct lock_hold *b, unsigned int hb);

/* decide.c */
struct decide_ev {
	int64_t lo, hi; /* true time lies in [lo, hi] */
	bool open; /* not happened yet: hi is +inf */
};

/* gA, rA, gB, rB and the happens-before facts among them */
enum verdict_class lock_decide(const struct decide_ev ev[4], unsigned int hb,
			       bool *causal, bool *inconsistent);

/* adapters */
int lock_dlm_init(struct lock_engine *e);
void lock_dlm_destroy(struct lock_engine *e);
void lock_dlm_event(struct lock_engine *e, struct lctx *c,
		    const struct cevent *ev, const struct lock_tinfo *ti,
		    unsigned int r);
/* lock_res.domain of each adapter's resources (compared as pointers) */
extern const char lock_dlm_domain[], lock_flock_domain[], lock_user_domain[];
int lock_flock_init(struct lock_engine *e);
void lock_flock_destroy(struct lock_engine *e);
void lock_flock_event(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r);
/* syscalls:sys_enter_flock / sys_exit_flock */
void lock_flock_syscall(struct lock_engine *e, struct lctx *c,
			const struct cevent *ev, const struct lock_tinfo *ti,
			unsigned int r);
/* @n lost events or went away: forget its tasks' flock(2) calls */
void lock_flock_node_gap(struct lock_engine *e, struct lnode *n);
/* snapshot: write the adapter's state (-1: out of memory); put back one
 * piece of it */
int lock_dlm_save(const struct lock_engine *e, FILE *f);
int lock_dlm_restore(struct lock_engine *e, struct lnode *n, uint32_t ls,
		     uint32_t lkb, struct lock_res *r, struct lock_hold *hold,
		     int gr, int rq, int alt);
int lock_flock_save(const struct lock_engine *e, FILE *f);
void lock_flock_set_dropped(struct lock_engine *e, uint64_t dropped);
int lock_flock_restore(struct lock_engine *e, struct lnode *n, uint32_t pid,
		       uint64_t lseq, uint64_t tai, uint64_t eps,
		       uint64_t trace, uint64_t dom);
void lock_user_event(struct lock_engine *e, struct lctx *c,
		     const struct cevent *ev, const struct lock_tinfo *ti,
		     unsigned int r);

static inline uint64_t lock_hash_bytes(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	/* FNV-1a: keys are short */
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define LOCK_HASH_SEED 0xcbf29ce484222325ULL

#endif
