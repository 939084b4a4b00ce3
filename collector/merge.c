// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * merge.c - see merge.h.
 *
 * The heap holds the nodes whose queue is not empty, keyed by the TAI of
 * their head event (ties: node index, so the order is reproducible).  A
 * release round computes the bound once: the smallest watermark of the
 * nodes that are up, less the largest epsilon among them; then pops heads
 * while they are at or below it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "merge"
#include "log.h"
#include "merge.h"

struct mbatch {
	struct mbatch *next;
	Netrv__Batch *msg;
	const struct schema *schema;
	uint32_t i; /* next event */
	uint64_t t; /* its trace time */
	struct evpack_reader rd; /* at its fields */
	bool losses_told;
	uint64_t domain; /* cevent.clock_domain of its events */
};

struct mnode {
	struct cnode c;
	char *name;
	uint8_t gm[8];
	enum cnode_state state;
	bool have_wm;
	uint64_t wm_tai;
	uint64_t eps; /* latest epsilon (cnode.clock follows the releases) */
	int64_t tai_off; /* latest offset, for heartbeats */
	uint64_t last_heard;
	struct mbatch *head, *tail;
	uint64_t queued;
	int heap_pos; /* -1: not in the heap */
	uint64_t head_tai;
	uint64_t pos_seq; /* next to deliver: (pos_seq, pos_next) */
	uint32_t pos_next;
	uint64_t late, late_from, late_to;
	/* unreachable or down since its watermark gap_from: not heard since */
	bool gap_open;
	uint64_t gap_from;
	uint64_t domain; /* clock domain of batches pushed now */
};

struct merge {
	uint64_t liveness_ns;
	struct mnode **nodes;
	uint32_t n_nodes, cap_nodes;
	uint32_t *heap;
	uint32_t n_heap;
	struct consumer *consumers, **consumers_tail;
	uint64_t told; /* watermark told to consumers */
	struct evpack_value vals[SCHEMA_MAX_FIELDS];
	struct merge_stats st;
};

static uint64_t tai_of(uint64_t t, int64_t off)
{
	int64_t v = (int64_t)t + off;

	return v < 0 ? 0 : (uint64_t)v;
}

struct merge *merge_create(uint64_t liveness_ns)
{
	struct merge *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->liveness_ns = liveness_ns;
	m->consumers_tail = &m->consumers;
	return m;
}

static void batch_free(struct mbatch *mb)
{
	protobuf_c_message_free_unpacked(&mb->msg->base, NULL);
	free(mb);
}

void merge_destroy(struct merge *m)
{
	struct consumer *c, *next;

	if (!m)
		return;
	for (uint32_t i = 0; i < m->n_nodes; i++) {
		struct mnode *n = m->nodes[i];

		while (n->head) {
			struct mbatch *mb = n->head;

			n->head = mb->next;
			batch_free(mb);
		}
		free(n->name);
		free(n);
	}
	for (c = m->consumers; c; c = next) {
		next = c->next;
		if (c->ops->destroy)
			c->ops->destroy(c);
	}
	free(m->nodes);
	free(m->heap);
	free(m);
}

void merge_add_consumer(struct merge *m, struct consumer *c)
{
	c->next = NULL;
	*m->consumers_tail = c;
	m->consumers_tail = &c->next;
}

struct consumer *merge_consumers(struct merge *m)
{
	return m->consumers;
}

int merge_node(struct merge *m, const char *name, uint64_t now_ns)
{
	struct mnode *n;

	for (uint32_t i = 0; i < m->n_nodes; i++)
		if (!strcmp(m->nodes[i]->name, name))
			return (int)i;
	if (m->n_nodes == m->cap_nodes) {
		uint32_t cap = m->cap_nodes ? 2 * m->cap_nodes : 16;
		struct mnode **nn = realloc(m->nodes, cap * sizeof(*nn));
		uint32_t *nh;

		if (!nn)
			return -1;
		m->nodes = nn;
		nh = realloc(m->heap, cap * sizeof(*nh));
		if (!nh)
			return -1;
		m->heap = nh;
		m->cap_nodes = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -1;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return -1;
	}
	n->c.index = m->n_nodes;
	n->c.name = n->name;
	n->c.clock = (Netrv__ClockStatus)NETRV__CLOCK_STATUS__INIT;
	n->state = CNODE_UP;
	n->last_heard = now_ns;
	n->heap_pos = -1;
	n->pos_seq = 1;
	m->nodes[m->n_nodes++] = n;
	return (int)n->c.index;
}

static uint64_t hash_str(uint64_t h, const char *p)
{
	/* FNV-1a */
	for (; *p; p++) {
		h ^= (uint8_t)*p;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void merge_set_clock_domain(struct merge *m, uint32_t node, const char *boot_id,
			    const char *trace_clock)
{
	struct mnode *n = m->nodes[node];
	uint64_t h;

	n->domain = 0;
	if (!boot_id || !*boot_id || !trace_clock ||
	    (strcmp(trace_clock, "mono") && strcmp(trace_clock, "boot")))
		return;
	h = hash_str(0xcbf29ce484222325ULL, boot_id);
	h = hash_str(h ^ ' ', trace_clock);
	n->domain = h ? h : 1;
}

const struct cnode *merge_cnode(const struct merge *m, uint32_t idx)
{
	return &m->nodes[idx]->c;
}

uint32_t merge_n_nodes(const struct merge *m)
{
	return m->n_nodes;
}

/* Heap of node indices, smallest (head_tai, index) on top. */
static bool heap_less(const struct merge *m, uint32_t a, uint32_t b)
{
	const struct mnode *na = m->nodes[a], *nb = m->nodes[b];

	if (na->head_tai != nb->head_tai)
		return na->head_tai < nb->head_tai;
	return a < b;
}

static void heap_set(struct merge *m, uint32_t pos, uint32_t node)
{
	m->heap[pos] = node;
	m->nodes[node]->heap_pos = (int)pos;
}

static void heap_up(struct merge *m, uint32_t pos)
{
	uint32_t node = m->heap[pos];

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (!heap_less(m, node, m->heap[parent]))
			break;
		heap_set(m, pos, m->heap[parent]);
		pos = parent;
	}
	heap_set(m, pos, node);
}

static void heap_down(struct merge *m, uint32_t pos)
{
	uint32_t node = m->heap[pos];

	for (;;) {
		uint32_t l = 2 * pos + 1, r = l + 1, best = l;

		if (l >= m->n_heap)
			break;
		if (r < m->n_heap && heap_less(m, m->heap[r], m->heap[l]))
			best = r;
		if (!heap_less(m, m->heap[best], node))
			break;
		heap_set(m, pos, m->heap[best]);
		pos = best;
	}
	heap_set(m, pos, node);
}

static void heap_remove_top(struct merge *m)
{
	m->nodes[m->heap[0]]->heap_pos = -1;
	if (--m->n_heap == 0)
		return;
	heap_set(m, 0, m->heap[m->n_heap]);
	heap_down(m, 0);
}

static void set_clock(struct mnode *n, const Netrv__ClockStatus *clk)
{
	size_t len = clk->gm_identity.len;

	n->c.clock = *clk;
	if (len > sizeof(n->gm))
		len = sizeof(n->gm);
	if (len)
		memcpy(n->gm, clk->gm_identity.data, len);
	n->c.clock.gm_identity.data = n->gm;
	n->c.clock.gm_identity.len = len;
}

static void tell_state(struct merge *m, struct mnode *n, uint64_t tai)
{
	for (struct consumer *c = m->consumers; c; c = c->next)
		if (c->ops->node_state)
			c->ops->node_state(c, &n->c, n->state, tai);
}

static void tell_loss(struct merge *m, struct mnode *n, uint64_t from,
		      uint64_t to, uint64_t count)
{
	for (struct consumer *c = m->consumers; c; c = c->next)
		if (c->ops->loss)
			c->ops->loss(c, &n->c, from, to, count);
}

static void heard(struct merge *m, struct mnode *n, uint64_t now_ns)
{
	n->last_heard = now_ns;
	if (n->state != CNODE_UP) {
		n->state = CNODE_UP;
		tell_state(m, n, m->told);
	}
}

void merge_heard(struct merge *m, uint32_t node, uint64_t now_ns)
{
	heard(m, m->nodes[node], now_ns);
}

/* Trace time of @b's first event, or its watermark if it has none. */
static uint64_t batch_first_trace(const Netrv__Batch *b)
{
	if (!b->n_event_type)
		return b->watermark_ns;
	return b->base_ns + (b->n_time_delta ? b->time_delta[0] : 0);
}

/*
 * @n is heard again after being unreachable or down: what it did between
 * its last watermark and @seen_tai (the first thing it sends now) is
 * unknown.
 */
static void close_gap(struct merge *m, struct mnode *n, uint64_t seen_tai)
{
	if (!n->gap_open)
		return;
	n->gap_open = false;
	if (seen_tai > n->gap_from)
		tell_loss(m, n, n->gap_from, seen_tai, 0);
}

static void advance_wm(struct mnode *n, uint64_t wm_trace, int64_t off)
{
	uint64_t wm = tai_of(wm_trace, off);

	if (!n->have_wm || wm > n->wm_tai)
		n->wm_tai = wm;
	n->have_wm = true;
}

/* Step @mb past its next event without delivering it. */
static void batch_skip_one(struct merge *m, struct mbatch *mb)
{
	const Netrv__Batch *b = mb->msg;

	evpack_decode(&mb->rd, mb->schema->by_id[b->event_type[mb->i]],
		      m->vals);
	if (++mb->i < b->n_event_type)
		mb->t += b->time_delta[mb->i];
}

static void head_changed(struct merge *m, struct mnode *n)
{
	struct mbatch *mb = n->head;

	if (!mb) {
		if (n->heap_pos >= 0) {
			/* only ever called on the top when emptying */
			heap_remove_top(m);
		}
		return;
	}
	n->head_tai = tai_of(mb->t, mb->msg->clock->tai_offset_ns);
	if (n->heap_pos < 0) {
		heap_set(m, m->n_heap++, n->c.index);
		heap_up(m, (uint32_t)n->heap_pos);
	} else {
		heap_up(m, (uint32_t)n->heap_pos);
		heap_down(m, (uint32_t)n->heap_pos);
	}
}

static void tell_batch_losses(struct merge *m, struct mnode *n,
			      struct mbatch *mb)
{
	const Netrv__Batch *b = mb->msg;
	int64_t off = b->clock->tai_offset_ns;

	mb->losses_told = true;
	for (size_t i = 0; i < b->n_losses; i++)
		tell_loss(m, n, tai_of(b->losses[i]->from_ns, off),
			  tai_of(b->losses[i]->to_ns, off),
			  b->losses[i]->count);
}

void merge_push(struct merge *m, uint32_t node, Netrv__Batch *b,
		const struct schema *s, uint64_t now_ns)
{
	struct mnode *n = m->nodes[node];
	struct mbatch *mb;
	uint32_t skip = 0;

	heard(m, n, now_ns);
	close_gap(m, n, tai_of(batch_first_trace(b), b->clock->tai_offset_ns));
	n->eps = b->clock->epsilon_ns;
	n->tai_off = b->clock->tai_offset_ns;
	if (!n->queued)
		set_clock(n, b->clock);
	advance_wm(n, b->watermark_ns, b->clock->tai_offset_ns);
	if (b->seq < n->pos_seq) {
		m->st.skipped += b->n_event_type;
		protobuf_c_message_free_unpacked(&b->base, NULL);
		return;
	}
	if (b->seq == n->pos_seq)
		skip = n->pos_next;
	mb = calloc(1, sizeof(*mb));
	if (!mb) {
		/* keep going: report the batch as lost rather than stop */
		tell_loss(m, n, tai_of(b->base_ns, b->clock->tai_offset_ns),
			  tai_of(b->watermark_ns, b->clock->tai_offset_ns),
			  b->n_event_type);
		protobuf_c_message_free_unpacked(&b->base, NULL);
		return;
	}
	mb->msg = b;
	mb->schema = s;
	mb->domain = n->domain;
	mb->rd.p = b->fields.data;
	mb->rd.end = b->fields.data + b->fields.len;
	mb->t = b->base_ns + (b->n_time_delta ? b->time_delta[0] : 0);
	while (mb->i < skip && mb->i < b->n_event_type) {
		batch_skip_one(m, mb);
		m->st.skipped++;
	}
	if (mb->i >= b->n_event_type) {
		if (!skip)
			tell_batch_losses(m, n, mb);
		batch_free(mb);
		return;
	}
	if (skip)
		mb->losses_told = true;
	n->queued += b->n_event_type - mb->i;
	if (n->tail)
		n->tail->next = mb;
	else
		n->head = mb;
	n->tail = mb;
	if (n->head == mb)
		head_changed(m, n);
}

void merge_heartbeat(struct merge *m, uint32_t node, uint64_t wm_trace_ns,
		     const Netrv__ClockStatus *clock, uint64_t now_ns)
{
	struct mnode *n = m->nodes[node];

	heard(m, n, now_ns);
	if (clock) {
		n->eps = clock->epsilon_ns;
		n->tai_off = clock->tai_offset_ns;
		if (!n->queued)
			set_clock(n, clock);
	}
	close_gap(m, n, tai_of(wm_trace_ns, n->tai_off));
	advance_wm(n, wm_trace_ns, n->tai_off);
}

/* Deliver (or count as late) the head event of @n and step past it. */
static void release_head(struct merge *m, struct mnode *n)
{
	struct mbatch *mb = n->head;
	const Netrv__Batch *b = mb->msg;
	const Netrv__EventType *et = mb->schema->by_id[b->event_type[mb->i]];
	struct cevent ev;

	if (!mb->losses_told)
		tell_batch_losses(m, n, mb);
	evpack_decode(&mb->rd, et, m->vals);
	if (n->head_tai < m->told) {
		if (!n->late++)
			n->late_from = n->head_tai;
		n->late_to = n->head_tai;
		m->st.late++;
	} else {
		set_clock(n, b->clock);
		ev.node = &n->c;
		ev.seq = b->seq;
		ev.index = mb->i;
		ev.cpu = b->cpu[mb->i];
		ev.trace_ns = mb->t;
		ev.tai_ns = n->head_tai;
		ev.eps_ns = b->clock->epsilon_ns;
		ev.type = et;
		ev.vals = m->vals;
		ev.clock_domain = mb->domain;
		for (struct consumer *c = m->consumers; c; c = c->next)
			c->ops->event(c, &ev);
		m->st.released++;
	}
	n->queued--;
	if (++mb->i < b->n_event_type) {
		mb->t += b->time_delta[mb->i];
		n->pos_seq = b->seq;
		n->pos_next = mb->i;
	} else {
		n->pos_seq = b->seq + 1;
		n->pos_next = 0;
		n->head = mb->next;
		if (!n->head)
			n->tail = NULL;
		batch_free(mb);
	}
	head_changed(m, n);
}

void merge_run(struct merge *m)
{
	uint64_t bound = UINT64_MAX, eps = 0;
	bool any_up = false;

	for (uint32_t i = 0; i < m->n_nodes; i++) {
		struct mnode *n = m->nodes[i];

		if (n->state != CNODE_UP)
			continue;
		any_up = true;
		if (!n->have_wm)
			return;
		if (n->wm_tai < bound)
			bound = n->wm_tai;
		if (n->eps > eps)
			eps = n->eps;
	}
	if (any_up)
		bound = bound > eps ? bound - eps : 0;
	while (m->n_heap) {
		struct mnode *n = m->nodes[m->heap[0]];

		if (n->head_tai > bound)
			break;
		release_head(m, n);
	}
	for (uint32_t i = 0; i < m->n_nodes; i++) {
		struct mnode *n = m->nodes[i];

		if (n->late) {
			tell_loss(m, n, n->late_from, n->late_to, n->late);
			n->late = 0;
		}
	}
	/*
	 * With nothing up, every queue was drained and no bound exists:
	 * the watermark stays where the last released event put it.
	 */
	if (!any_up)
		return;
	if (bound > m->told) {
		m->told = bound;
		m->st.watermark = bound;
		for (struct consumer *c = m->consumers; c; c = c->next)
			if (c->ops->watermark)
				c->ops->watermark(c, bound);
	}
}

/*
 * @n is unreachable or down: the merge stops waiting for it.  No loss yet:
 * how long it was away is known when it is heard again (close_gap()).
 */
static void mark_away(struct merge *m, struct mnode *n, enum cnode_state state,
		      uint64_t now_tai)
{
	n->state = state;
	if (!n->gap_open) {
		n->gap_open = true;
		n->gap_from = n->have_wm ? n->wm_tai : m->told;
	}
	tell_state(m, n, now_tai);
}

void merge_tick(struct merge *m, uint64_t now_ns, uint64_t now_tai)
{
	for (uint32_t i = 0; i < m->n_nodes; i++) {
		struct mnode *n = m->nodes[i];

		if (n->state != CNODE_UP || now_ns < n->last_heard ||
		    now_ns - n->last_heard < m->liveness_ns)
			continue;
		mark_away(m, n, CNODE_UNREACHABLE, now_tai);
	}
}

void merge_gone(struct merge *m, uint32_t node, uint64_t now_tai)
{
	if (m->nodes[node]->state == CNODE_UP)
		mark_away(m, m->nodes[node], CNODE_DOWN, now_tai);
}

void merge_log_waiting(const struct merge *m)
{
	const struct mnode *slow = NULL;
	uint64_t queued = 0;

	for (uint32_t i = 0; i < m->n_nodes; i++) {
		const struct mnode *n = m->nodes[i];

		queued += n->queued;
		if (n->state == CNODE_UP &&
		    (!slow || !n->have_wm ||
		     (slow->have_wm && n->wm_tai < slow->wm_tai)))
			slow = n;
	}
	if (!queued)
		return;
	if (slow)
		pr_info("%" PRIu64
			" events wait for watermarks; the oldest watermark is %s's (%s%" PRIu64
			" ns TAI)",
			queued, slow->name, slow->have_wm ? "" : "none yet, ",
			slow->wm_tai);
	else
		pr_info("%" PRIu64 " events queued", queued);
}

uint64_t merge_queued(const struct merge *m, uint32_t node)
{
	return m->nodes[node]->queued;
}

bool merge_node_watermark(const struct merge *m, uint32_t node, uint64_t *tai)
{
	*tai = m->nodes[node]->wm_tai;
	return m->nodes[node]->have_wm;
}

void merge_position(const struct merge *m, uint32_t node, uint64_t *seq,
		    uint32_t *next)
{
	*seq = m->nodes[node]->pos_seq;
	*next = m->nodes[node]->pos_next;
}

void merge_set_position(struct merge *m, uint32_t node, uint64_t seq,
			uint32_t next)
{
	m->nodes[node]->pos_seq = seq ? seq : 1;
	m->nodes[node]->pos_next = next;
}

void merge_get_stats(const struct merge *m, struct merge_stats *st)
{
	*st = m->st;
}
