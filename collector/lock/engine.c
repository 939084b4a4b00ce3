// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * engine.c - the lock-safety engine as a consumer of the merged stream.
 *
 * For each event: find (once per event type, cached by the type pointer)
 * which roles it plays - a DLM, flock or user lock event, a send or a
 * receive - and which field indices those roles read; events playing none
 * cost one cache probe.  Then hand the event to causal delivery, which
 * gives it a place in its node's vector clock and passes it to the
 * adapters, or holds it back until the send it receives is delivered.
 * Loss reports and unreachable nodes make what the node held uncertain.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"

static const char *const class_names[VERDICT_MAX] = {
	[VERDICT_SAFE] = "safe",
	[VERDICT_POSSIBLE] = "possible",
	[VERDICT_DEFINITE] = "definite",
	[VERDICT_CLOCK_BOUND] = "clock-bound",
	[VERDICT_INCOMPLETE] = "incomplete",
	[VERDICT_PROTOCOL] = "protocol",
};

const char *verdict_class_name(enum verdict_class c)
{
	return (unsigned int)c < VERDICT_MAX ? class_names[c] : "?";
}

struct lnode *lock_node(struct lock_engine *e, const struct cnode *cn)
{
	struct lnode *n;

	if (cn->index < e->n_nodes && e->nodes[cn->index])
		return e->nodes[cn->index];
	if (cn->index >= e->n_nodes) {
		size_t cap = e->n_nodes ? e->n_nodes : 8;
		struct lnode **t;

		while (cap <= cn->index)
			cap *= 2;
		t = realloc(e->nodes, cap * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + e->n_nodes, 0, (cap - e->n_nodes) * sizeof(*t));
		e->nodes = t;
		e->n_nodes = cap;
	}
	if (lock_vc_grow(e, cn->index + 1) < 0)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->vc = calloc(e->vc_cap, sizeof(*n->vc));
	if (!n->vc) {
		free(n);
		return NULL;
	}
	n->cn = cn;
	e->nodes[cn->index] = n;
	return n;
}

/* --- per type dispatch --- */

static bool is(const Netrv__EventType *t, const char *sys, const char *name)
{
	return !strcmp(t->system, sys) && !strcmp(t->name, name);
}

static void add_role(struct lock_tinfo *ti, enum lock_role role,
		     unsigned int rule, const Netrv__EventType *t,
		     const char *const *fields, unsigned int n)
{
	unsigned int k = ti->n_roles;

	if (k == LOCK_MAX_ROLES)
		return;
	ti->r[k].role = (uint8_t)role;
	ti->r[k].rule = (uint16_t)rule;
	for (unsigned int i = 0; i < LOCK_MAX_FIELDS; i++)
		ti->r[k].f[i] =
			(int16_t)(i < n && fields[i] ?
					  evpack_field_index(t, fields[i]) :
					  -1);
	ti->n_roles++;
}

static bool has(const Netrv__EventType *t, const char *f)
{
	return evpack_field_index(t, f) >= 0;
}

static void resolve(struct lock_engine *e, struct lock_tinfo *ti,
		    const Netrv__EventType *t)
{
	static const char *const f_start[] = { "ls_id", "lkb_id", "mode",
					       "flags", "res_name" };
	static const char *const f_end[] = { "ls_id", "lkb_id",	  "mode",
					     "flags", "res_name", "error" };
	static const char *const f_ast[] = { "ls_id", "lkb_id", "sb_status",
					     "res_name", "sb_flags" };
	static const char *const f_flock[] = { "type",	"ret",	 "s_dev",
					       "i_ino", "owner", "common_pid",
					       "flags" };
	static const char *const f_sys[] = { "common_pid" };
	static const char *const k612[] = { "h_nodeid", "dst", "h_seq" };
	/*
	 * 6.1's seq counts per destination, and its send names none: two
	 * sends of one type may share a seq.  The message's own fields, the
	 * same on both ends, tell them apart (an absent one reads 0 on both).
	 */
	static const char *const k61[] = { "h_nodeid",	  "seq",     "m_type",
					   "h_lockspace", "m_lkid",  "m_remid",
					   "m_hash",	  "m_result" };

	if (e->conf.dlm && !strcmp(t->system, "dlm")) {
		if (is(t, "dlm", "dlm_lock_start"))
			add_role(ti, ROLE_DLM_LOCK_START, 0, t, f_start, 5);
		else if (is(t, "dlm", "dlm_lock_end"))
			add_role(ti, ROLE_DLM_LOCK_END, 0, t, f_end, 6);
		else if (is(t, "dlm", "dlm_ast"))
			add_role(ti, ROLE_DLM_AST, 0, t, f_ast, 5);
		else if (is(t, "dlm", "dlm_unlock_start"))
			add_role(ti, ROLE_DLM_UNLOCK_START, 0, t, f_end, 6);
		else if (is(t, "dlm", "dlm_unlock_end"))
			add_role(ti, ROLE_DLM_UNLOCK_END, 0, t, f_end, 6);
		else if (is(t, "dlm", "dlm_send_message") ||
			 is(t, "dlm", "dlm_recv_message")) {
			enum lock_role role =
				!strcmp(t->name, "dlm_send_message") ?
					ROLE_SEND :
					ROLE_RECV;

			if (has(t, "dst") && has(t, "h_seq") &&
			    has(t, "h_nodeid"))
				add_role(ti, role, LOCK_RULE_DLM612(e), t, k612,
					 3);
			else if (has(t, "seq") && has(t, "h_nodeid"))
				add_role(ti, role, LOCK_RULE_DLM61(e), t, k61,
					 8);
		}
	}
	if (e->conf.flock && is(t, "filelock", "flock_lock_inode"))
		add_role(ti, ROLE_FLOCK, 0, t, f_flock, 7);
	if (e->conf.flock && e->conf.flock_syscalls &&
	    is(t, "syscalls", "sys_enter_flock"))
		add_role(ti, ROLE_FLOCK_ENTER, 0, t, f_sys, 1);
	if (e->conf.flock && e->conf.flock_syscalls &&
	    is(t, "syscalls", "sys_exit_flock"))
		add_role(ti, ROLE_FLOCK_EXIT, 0, t, f_sys, 1);
	for (unsigned int i = 0; e->conf.user && i < e->conf.n_user_rules;
	     i++) {
		const struct lock_user_rule *u = &e->conf.user_rules[i];
		const char *f[4] = { u->name_field, u->mode_field,
				     u->holder_field ? u->holder_field :
						       "common_pid",
				     u->match_field };

		if (is(t, u->system, u->event))
			add_role(ti, ROLE_USER, i, t, f, 4);
	}
	for (unsigned int i = 0; i < e->conf.n_pair_rules; i++) {
		const struct lock_pair_rule *p = &e->conf.pair_rules[i];

		if (is(t, p->send_system, p->send_event))
			add_role(ti, ROLE_SEND, i, t,
				 (const char *const *)p->send_key, p->n_keys);
		if (is(t, p->recv_system, p->recv_event))
			add_role(ti, ROLE_RECV, i, t,
				 (const char *const *)p->recv_key, p->n_keys);
	}
}

static size_t tslot(const Netrv__EventType *t, size_t cap)
{
	uintptr_t p = (uintptr_t)t;

	return (size_t)((p >> 4) * 0x9e3779b97f4a7c15ULL) & (cap - 1);
}

static int tcache_grow(struct lock_engine *e)
{
	size_t cap = e->tcache_cap ? e->tcache_cap * 2 : 64;
	struct lock_tinfo *t = calloc(cap, sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < e->tcache_cap; i++) {
		struct lock_tinfo *o = &e->tcache[i];
		size_t s;

		if (!o->type)
			continue;
		for (s = tslot(o->type, cap); t[s].type;
		     s = (s + 1) & (cap - 1))
			;
		t[s] = *o;
	}
	free(e->tcache);
	e->tcache = t;
	e->tcache_cap = cap;
	return 0;
}

const struct lock_tinfo *lock_tinfo_get(struct lock_engine *e,
					const Netrv__EventType *t)
{
	static const struct lock_tinfo none;
	struct lock_tinfo *ti;
	size_t s;

	if (e->tcache_cap) {
		for (s = tslot(t, e->tcache_cap); e->tcache[s].type;
		     s = (s + 1) & (e->tcache_cap - 1)) {
			ti = &e->tcache[s];
			if (ti->type != t)
				continue;
			if (ti->type_name == t->name &&
			    ti->n_fields == t->n_fields)
				return ti;
			/* a new type at a freed type's address */
			memset(ti->r, 0, sizeof(ti->r));
			ti->n_roles = 0;
			ti->type_name = t->name;
			ti->n_fields = t->n_fields;
			resolve(e, ti, t);
			return ti;
		}
	}
	if ((e->tcache_len + 1) * 2 > e->tcache_cap && tcache_grow(e) < 0)
		return &none;
	for (s = tslot(t, e->tcache_cap); e->tcache[s].type;
	     s = (s + 1) & (e->tcache_cap - 1))
		;
	ti = &e->tcache[s];
	memset(ti, 0, sizeof(*ti));
	ti->type = t;
	ti->type_name = t->name;
	ti->n_fields = t->n_fields;
	resolve(e, ti, t);
	e->tcache_len++;
	return ti;
}

/* --- delivery --- */

/*
 * @n's events are now stamped by clock domain @dom: note which nodes
 * share a domain (a node alone in its domain, e.g. one of several
 * machines, is ruled on by TAI like a node without one).
 */
static void dom_changed(struct lock_engine *e, struct lnode *n, uint64_t dom)
{
	bool joined = false;

	n->last_dom = dom;
	n->dom_shared = false;
	for (size_t i = 0; dom && i < e->n_nodes; i++) {
		struct lnode *m = e->nodes[i];

		if (m && m != n && m->last_dom == dom) {
			joined |= !m->dom_shared;
			m->dom_shared = n->dom_shared = true;
		}
	}
	/* holds released alone in their domain are now ruled by trace times */
	if (joined)
		lockt_reindex_all(e);
}

bool lock_deliver_one(struct lock_engine *e, struct lnode *n,
		      const struct cevent *ev, bool give_up)
{
	const struct lock_tinfo *ti = lock_tinfo_get(e, ev->type);
	struct lctx c = { .n = n,
			  .tai = ev->tai_ns,
			  .eps = ev->eps_ns,
			  .trace = ev->trace_ns,
			  .dom = e->conf.same_clock ? ev->clock_domain : 0 };

	if (!give_up)
		for (unsigned int r = 0; r < ti->n_roles; r++)
			if (ti->r[r].role == ROLE_RECV &&
			    !lock_causal_recv_ready(e, n, ev, ti, r))
				return false;
	c.lseq = ++n->lseq;
	n->vc[n->cn->index] = c.lseq;
	for (unsigned int r = 0; r < ti->n_roles; r++)
		if (ti->r[r].role == ROLE_RECV)
			lock_causal_recv(e, &c, ev, ti, r);
	for (unsigned int r = 0; r < ti->n_roles; r++) {
		switch (ti->r[r].role) {
		case ROLE_DLM_LOCK_START:
		case ROLE_DLM_LOCK_END:
		case ROLE_DLM_AST:
		case ROLE_DLM_UNLOCK_START:
		case ROLE_DLM_UNLOCK_END:
			e->st.lock_events++;
			lock_dlm_event(e, &c, ev, ti, r);
			break;
		case ROLE_FLOCK:
			e->st.lock_events++;
			lock_flock_event(e, &c, ev, ti, r);
			break;
		case ROLE_FLOCK_ENTER:
		case ROLE_FLOCK_EXIT:
			lock_flock_syscall(e, &c, ev, ti, r);
			break;
		case ROLE_USER:
			e->st.lock_events++;
			lock_user_event(e, &c, ev, ti, r);
			break;
		case ROLE_SEND:
			lock_causal_send(e, &c, ev, ti, r);
			break;
		default:
			break;
		}
	}
	if (c.dom != n->last_dom)
		dom_changed(e, n, c.dom);
	n->last_trace = c.trace;
	n->last_tai = c.tai;
	return true;
}

static void op_event(struct consumer *cs, const struct cevent *ev)
{
	struct lock_engine *e = container_of(cs, struct lock_engine, consumer);
	const struct lock_tinfo *ti;
	struct lnode *n;

	e->st.events++;
	ti = lock_tinfo_get(e, ev->type);
	if (!ti->n_roles)
		return;
	n = lock_node(e, ev->node);
	if (!n) {
		pr_err("out of memory for node state: event dropped");
		return;
	}
	if (ev->eps_ns > e->eps_max) {
		/*
		 * Released holds were forgotten assuming no eps above
		 * eps_max: a pair with this event may have been missed.
		 */
		if (e->watermark && !e->eps_warned) {
			e->eps_warned = true;
			pr_warning(
				"node %s claims eps %llu ns, above the %llu ns assumed so far: conflicts with holds released before may be missed; raise lock.eps_floor",
				ev->node->name, (unsigned long long)ev->eps_ns,
				(unsigned long long)e->eps_max);
		}
		e->eps_max = ev->eps_ns;
	}
	lock_causal_event(e, n, ev, ti);
}

void lock_node_news(struct lock_engine *e, struct lnode *n, unsigned int what,
		    uint64_t from, uint64_t to, uint64_t count)
{
	switch (what) {
	case LOCK_NEWS_LOSS:
		lock_flock_node_gap(e, n);
		lockt_node_gap(e, n, from, to, count, false);
		break;
	case LOCK_NEWS_UNREACHABLE:
		/* what it holds now may end unseen: incomplete at once */
		if (n->unreachable)
			break;
		n->unreachable = true;
		lock_flock_node_gap(e, n);
		lockt_node_gap(e, n, from, from, 0, true);
		break;
	case LOCK_NEWS_DOWN:
		/*
		 * It said Goodbye after its last batch: nothing was lost, no
		 * verdict; only its open holds may now end unseen.
		 */
		if (n->unreachable)
			break;
		n->unreachable = true;
		lock_flock_node_gap(e, n);
		lockt_node_down(e, n);
		break;
	case LOCK_NEWS_UP:
		/*
		 * The merge reports the time it was away, if any, as a loss
		 * (from its last watermark to its return).
		 */
		n->unreachable = false;
		break;
	}
}

static void op_loss(struct consumer *cs, const struct cnode *node,
		    uint64_t from_tai, uint64_t to_tai, uint64_t count)
{
	struct lock_engine *e = container_of(cs, struct lock_engine, consumer);
	struct lnode *n = lock_node(e, node);

	if (n &&
	    !lock_causal_news(e, n, LOCK_NEWS_LOSS, from_tai, to_tai, count))
		lock_node_news(e, n, LOCK_NEWS_LOSS, from_tai, to_tai, count);
}

static void op_node_state(struct consumer *cs, const struct cnode *node,
			  enum cnode_state state, uint64_t tai_ns)
{
	struct lock_engine *e = container_of(cs, struct lock_engine, consumer);
	struct lnode *n = lock_node(e, node);
	unsigned int what = state == CNODE_UNREACHABLE ? LOCK_NEWS_UNREACHABLE :
			    state == CNODE_DOWN	       ? LOCK_NEWS_DOWN :
							 LOCK_NEWS_UP;

	if (n && !lock_causal_news(e, n, what, tai_ns, tai_ns, 0))
		lock_node_news(e, n, what, tai_ns, tai_ns, 0);
}

static void op_watermark(struct consumer *cs, uint64_t tai_ns)
{
	struct lock_engine *e = container_of(cs, struct lock_engine, consumer);

	e->watermark = tai_ns;
	lock_causal_watermark(e, tai_ns);
	lockt_watermark(e, lock_causal_horizon(e, tai_ns));
}

static void op_destroy(struct consumer *cs)
{
	lock_engine_destroy(container_of(cs, struct lock_engine, consumer));
}

static const struct consumer_ops lock_consumer_ops = {
	.event = op_event,
	.loss = op_loss,
	.node_state = op_node_state,
	.watermark = op_watermark,
	.destroy = op_destroy,
};

/* After lock_engine_persist(): the state outlives the process. */
const struct consumer_ops lock_consumer_ops_persist = {
	.event = op_event,
	.loss = op_loss,
	.node_state = op_node_state,
	.watermark = op_watermark,
	.destroy = op_destroy,
	.checkpoint = lock_persist_checkpoint,
	.resume = lock_persist_resume,
	.committed = lock_persist_committed,
};

/* --- verdicts --- */

void lock_verdict_clocks(struct verdict *v, const struct cnode *a,
			 const struct cnode *b)
{
	const struct cnode *nodes[2] = { a, b };

	v->n_clocks = 0;
	for (int i = 0; i < 2; i++) {
		const struct cnode *n = nodes[i];

		if (!n)
			continue;
		v->clocks[v->n_clocks++] = (struct verdict_clock){
			.node = n,
			.source = n->clock.source,
			.synced = n->clock.synced,
			.eps_ns = n->clock.epsilon_ns,
			.master_offset_ns = n->clock.master_offset_ns,
			.path_delay_ns = n->clock.path_delay_ns,
			.port_state = n->clock.port_state,
		};
	}
}

void lock_emit(struct lock_engine *e, struct verdict *v)
{
	size_t need;

	v->id = ++e->next_verdict_id;
	if ((unsigned int)v->cls < VERDICT_MAX)
		e->st.verdicts[v->cls]++;
	need = verdict_to_json(v, e->json, e->json_cap);
	if (need >= e->json_cap) {
		size_t cap = need + 1024;
		char *j = realloc(e->json, cap);

		if (!j) {
			pr_err("out of memory for verdict %llu's JSON: not reported",
			       (unsigned long long)v->id);
			return;
		}
		e->json = j;
		e->json_cap = cap;
		verdict_to_json(v, e->json, e->json_cap);
	}
	for (struct verdict_sink *s = e->sinks; s; s = s->next)
		s->emit(s, v, e->json, need);
}

void lock_engine_emit(struct lock_engine *e, struct verdict *v)
{
	lock_emit(e, v);
}

void lock_engine_add_sink(struct lock_engine *e, struct verdict_sink *s)
{
	struct verdict_sink **pp = &e->sinks;

	while (*pp)
		pp = &(*pp)->next;
	s->next = NULL;
	*pp = s;
}

/* --- life --- */

static int conf_copy(struct lock_engine *e, const struct lock_engine_conf *c)
{
	e->conf = *c;
	e->conf.user_rules = NULL;
	e->conf.pair_rules = NULL;
	e->conf.n_user_rules = e->conf.n_pair_rules = 0;
	/* rules are referenced, not copied: they must outlive the engine */
	e->conf.user_rules = c->user_rules;
	e->conf.n_user_rules = c->n_user_rules;
	e->conf.pair_rules = c->pair_rules;
	e->conf.n_pair_rules = c->n_pair_rules;
	if (!e->conf.max_pending)
		e->conf.max_pending = 1u << 20;
	if (!e->conf.msg_timeout_ns)
		e->conf.msg_timeout_ns = 10000000000ULL;
	e->eps_max = e->conf.eps_floor_ns;
	if (!c->user_n_modes)
		e->user_matrix = lock_matrix_shex;
	else if (lock_matrix_build(&e->user_matrix, "user", c->user_n_modes,
				   (const char *const *)e->conf.user_modes,
				   c->user_compat) < 0)
		return -1;
	return 0;
}

struct lock_engine *lock_engine_create(const struct lock_engine_conf *conf)
{
	struct lock_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->consumer.ops = &lock_consumer_ops;
	e->consumer.name = "lock";
	if (conf_copy(e, conf) < 0 || lock_table_init(e) < 0 ||
	    lock_causal_init(e) < 0 || lock_dlm_init(e) < 0 ||
	    lock_flock_init(e) < 0) {
		int err = errno ? errno : ENOMEM;

		lock_engine_destroy(e);
		errno = err;
		return NULL;
	}
	return e;
}

static void nodes_free(struct lock_engine *e)
{
	for (size_t i = 0; i < e->n_nodes; i++) {
		struct lnode *n = e->nodes[i];

		if (!n)
			continue;
		free(n->vc);
		free(n->pend);
		bytebuf_release(&n->pend_data);
		free(n);
	}
	free(e->nodes);
	e->nodes = NULL;
	e->n_nodes = 0;
	e->vc_cap = 0;
}

int lock_engine_clear(struct lock_engine *e)
{
	lock_dlm_destroy(e);
	lock_flock_destroy(e);
	lock_causal_destroy(e);
	lock_table_destroy(e);
	nodes_free(e);
	e->rtab = NULL;
	e->rtab_cap = 0;
	e->res_free = NULL;
	e->hold_free = NULL;
	e->pair_free = NULL;
	e->fifo_head = e->fifo_tail = NULL;
	e->open_pairs = NULL;
	e->hring_free = NULL;
	e->hist_tmp = NULL;
	e->hist_tmp_cap = 0;
	e->hist_seq = 0;
	e->mtab = NULL;
	e->mtab_cap = e->n_msgs = 0;
	e->msg_free = e->mold = e->mnew = NULL;
	e->n_blocked = e->n_ready = 0;
	e->eps_max = e->conf.eps_floor_ns;
	e->watermark = 0;
	e->eps_warned = false;
	e->next_hold_id = 0;
	e->st.resources = e->st.holds = 0;
	if (lock_table_init(e) < 0 || lock_causal_init(e) < 0 ||
	    lock_dlm_init(e) < 0 || lock_flock_init(e) < 0)
		return -1;
	return 0;
}

void lock_engine_destroy(struct lock_engine *e)
{
	struct verdict_sink *s, *sn;

	if (!e)
		return;
	for (s = e->sinks; s; s = sn) {
		sn = s->next;
		if (s->destroy)
			s->destroy(s);
	}
	lock_persist_destroy(e);
	lock_dlm_destroy(e);
	lock_flock_destroy(e);
	lock_causal_destroy(e);
	lock_table_destroy(e);
	nodes_free(e);
	free(e->tcache);
	free(e->scratch);
	free(e->json);
	free(e);
}

struct consumer *lock_engine_consumer(struct lock_engine *e)
{
	return &e->consumer;
}

void lock_engine_stats(const struct lock_engine *e, struct lock_stats *st)
{
	*st = e->st;
}
