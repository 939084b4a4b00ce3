/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * event.h - what the merge hands to everything downstream of it.
 *
 * The collector is a pipeline: ingest -> merge -> consumers.  The merge
 * releases decoded events in one cluster-wide order (TAI, with each node's
 * local order kept exactly) and tells consumers about nodes and losses.
 * Consumers (lock-safety engine, causality tracker, automata monitors,
 * archive, live state for HTTP) each embed a struct consumer and are called
 * in registration order, on the merge's thread.  A consumer must not block:
 * slow work (exec hooks, disk) is queued by the consumer itself.
 *
 * Everything a callback receives is borrowed for the duration of the call.
 */
#ifndef NETRV_COLLECTOR_EVENT_H
#define NETRV_COLLECTOR_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include "evpack.h"
#include "netrv.pb-c.h"

/* A node as the collector knows it; index is stable for the process. */
struct cnode {
	uint32_t index;
	const char *name; /* certificate CN, untrusted bytes: escape to show */
	Netrv__ClockStatus clock; /* status in force for the current event */
};

/* One event, decoded, with its place in the cluster's time. */
struct cevent {
	const struct cnode *node;
	uint64_t seq; /* batch sequence on that node */
	uint32_t index; /* position in the batch: (seq, index) is local order */
	uint32_t cpu;
	uint64_t trace_ns; /* node's trace clock */
	uint64_t tai_ns; /* trace_ns + the batch's tai_offset_ns */
	uint64_t
		eps_ns; /* true TAI lies in [tai_ns - eps_ns, tai_ns + eps_ns] */
	const Netrv__EventType *type; /* system, name, fields of this event */
	const struct evpack_value *vals; /* type->n_fields values */
	/*
	 * 0: unknown.  Otherwise events with one clock_domain were stamped
	 * by one clock (same kernel boot, same trace clock: nodes that are
	 * network namespaces of one machine), so their trace_ns compare
	 * exactly, whatever each node's tai_ns mapping says.
	 */
	uint64_t clock_domain;
};

enum cnode_state {
	CNODE_UP, /* connected and sending watermarks */
	CNODE_UNREACHABLE, /* silent past the liveness timeout */
	/*
	 * said Goodbye: it left cleanly and lost nothing up to its last
	 * watermark; events after that are reported as loss only if it comes
	 * back later than that (see merge.h)
	 */
	CNODE_DOWN,
};

/* "up", "unreachable", "down" */
static inline const char *cnode_state_name(enum cnode_state s)
{
	return s == CNODE_UP	      ? "up" :
	       s == CNODE_UNREACHABLE ? "unreachable" :
					"down";
}

struct consumer;

struct consumer_ops {
	/* An event, in merged order. */
	void (*event)(struct consumer *c, const struct cevent *ev);
	/*
	 * @node lost events in [from_tai, to_tai] (ring overrun, spool full,
	 * agent down, or unreachable): whatever it did then is unknown.
	 * @count 0: an unknown number, e.g. between a node's last watermark
	 * and its return after being unreachable or down.
	 */
	void (*loss)(struct consumer *c, const struct cnode *node,
		     uint64_t from_tai, uint64_t to_tai, uint64_t count);
	/* @node changed state at @tai_ns (collector's TAI). */
	void (*node_state)(struct consumer *c, const struct cnode *node,
			   enum cnode_state state, uint64_t tai_ns);
	/*
	 * Everything up to @tai_ns has been delivered: no event older than it
	 * will follow.  Consumers use it to close intervals and report "verified
	 * up to".
	 */
	void (*watermark)(struct consumer *c, uint64_t tai_ns);
	void (*destroy)(struct consumer *c);
	/*
	 * Optional, for consumers whose output outlives the process (files):
	 * make everything written so far durable and set *@token to a value
	 * naming that point (e.g. a file offset).  The collector stores the
	 * tokens atomically with the merge position it checkpoints.
	 * Return 0, or -1 (this checkpoint is not taken; errno EAGAIN: not
	 * now, by choice - the next one will be).
	 */
	int (*checkpoint)(struct consumer *c, uint64_t *token);
	/*
	 * Optional: called once, before any event, with the token of the last
	 * checkpoint.  The merge redelivers everything after that checkpoint,
	 * so the consumer drops output it wrote past @token.  A consumer named
	 * in no checkpoint yet is asked for one instead.  Return 0, or -1
	 * (the collector does not start).
	 */
	int (*resume)(struct consumer *c, uint64_t token);
	/*
	 * Optional: the checkpoint holding the token this consumer's last
	 * checkpoint() gave is now durable; what older ones needed may go.
	 * (A checkpoint that fails after checkpoint() was called is not
	 * followed by committed(): the one before stays the durable one.)
	 */
	void (*committed)(struct consumer *c);
};

struct consumer {
	const struct consumer_ops *ops;
	const char *name;
	struct consumer *next;
};

#endif
