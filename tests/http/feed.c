// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * feed.c - see feed.h: the merge's side of struct consumer, for tests.
 */
#include <string.h>

#include "feed.h"

static Netrv__Field f_resource = NETRV__FIELD__INIT;
static Netrv__Field f_mode = NETRV__FIELD__INIT;
static Netrv__Field f_op = NETRV__FIELD__INIT;
static Netrv__Field f_msg = NETRV__FIELD__INIT;
static Netrv__Field *lock_fields[] = { &f_resource, &f_mode, &f_op };
static Netrv__Field *msg_fields[] = { &f_resource, &f_msg };
static Netrv__EventType types[FEED_TYPES] = {
	NETRV__EVENT_TYPE__INIT,
	NETRV__EVENT_TYPE__INIT,
	NETRV__EVENT_TYPE__INIT,
};

void feed_init(struct feed *f)
{
	memset(f, 0, sizeof(*f));
	f_resource.name = "resource";
	f_resource.kind = NETRV__FIELD_KIND__FIELD_BYTES;
	f_mode.name = "mode";
	f_mode.size = 4;
	f_op.name = "op";
	f_op.size = 4;
	f_msg.name = "msg";
	f_msg.size = 8;
	types[FEED_LOCK].id = 0;
	types[FEED_LOCK].system = "test";
	types[FEED_LOCK].name = "lock";
	types[FEED_LOCK].n_fields = 3;
	types[FEED_LOCK].fields = lock_fields;
	types[FEED_SEND].id = 1;
	types[FEED_SEND].system = "test";
	types[FEED_SEND].name = "send";
	types[FEED_SEND].n_fields = 2;
	types[FEED_SEND].fields = msg_fields;
	types[FEED_RECV] = types[FEED_SEND];
	types[FEED_RECV].id = 2;
	types[FEED_RECV].name = "recv";
}

void feed_add_consumer(struct feed *f, struct consumer *c)
{
	if (f->n_consumers < FEED_MAX_CONSUMERS)
		f->consumers[f->n_consumers++] = c;
}

struct cnode *feed_node(struct feed *f, const char *name,
			Netrv__ClockSource src, bool synced, uint64_t eps_ns,
			int64_t offset_ns)
{
	Netrv__ClockStatus init = NETRV__CLOCK_STATUS__INIT;
	struct cnode *n;

	if (f->n_nodes >= FEED_MAX_NODES)
		return NULL;
	n = &f->nodes[f->n_nodes];
	n->index = f->n_nodes++;
	n->name = name;
	n->clock = init;
	n->clock.source = src;
	n->clock.synced = synced;
	n->clock.epsilon_ns = eps_ns;
	n->clock.master_offset_ns = offset_ns;
	n->clock.path_delay_ns = 18000;
	n->clock.port_state =
		src == NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP ? 9 : 0;
	return n;
}

static void feed_event(struct feed *f, struct cnode *n, uint64_t tai_ns,
		       enum feed_type t, const struct evpack_value *vals)
{
	struct cevent ev = {
		.node = n,
		.seq = ++f->seq,
		.trace_ns = tai_ns - 1000000000,
		.tai_ns = tai_ns,
		.eps_ns = n->clock.epsilon_ns,
		.type = &types[t],
		.vals = vals,
	};
	unsigned int i;

	for (i = 0; i < f->n_consumers; i++)
		if (f->consumers[i]->ops->event)
			f->consumers[i]->ops->event(f->consumers[i], &ev);
}

void feed_lock(struct feed *f, struct cnode *n, uint64_t tai_ns,
	       const void *res, size_t res_len, int mode, enum feed_op op)
{
	struct evpack_value v[3];

	memset(v, 0, sizeof(v));
	v[0].bytes = res;
	v[0].len = res_len;
	v[1].s = mode;
	v[2].s = op;
	feed_event(f, n, tai_ns, FEED_LOCK, v);
}

void feed_msg(struct feed *f, struct cnode *n, uint64_t tai_ns,
	      enum feed_type type, const void *res, size_t res_len,
	      uint64_t msg)
{
	struct evpack_value v[2];

	memset(v, 0, sizeof(v));
	v[0].bytes = res;
	v[0].len = res_len;
	v[1].u = msg;
	feed_event(f, n, tai_ns, type, v);
}

void feed_loss(struct feed *f, struct cnode *n, uint64_t from, uint64_t to,
	       uint64_t count)
{
	unsigned int i;

	for (i = 0; i < f->n_consumers; i++)
		if (f->consumers[i]->ops->loss)
			f->consumers[i]->ops->loss(f->consumers[i], n, from, to,
						   count);
}

void feed_state(struct feed *f, struct cnode *n, enum cnode_state st,
		uint64_t tai_ns)
{
	unsigned int i;

	for (i = 0; i < f->n_consumers; i++)
		if (f->consumers[i]->ops->node_state)
			f->consumers[i]->ops->node_state(f->consumers[i], n, st,
							 tai_ns);
}

void feed_watermark(struct feed *f, uint64_t tai_ns)
{
	unsigned int i;

	for (i = 0; i < f->n_consumers; i++)
		if (f->consumers[i]->ops->watermark)
			f->consumers[i]->ops->watermark(f->consumers[i],
							tai_ns);
}
