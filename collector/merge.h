/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * merge.h - one cluster-wide order out of per-node streams.
 *
 * Each node has a queue of validated batches in local order (seq, index).
 * An event's place in the cluster is its TAI time: trace time plus the
 * batch's tai_offset_ns, known to within the node's epsilon.  A node's
 * watermark (from batches and heartbeats) promises that nothing older will
 * follow from it.  The merge releases the oldest head event of all queues
 * (a k-way merge over a heap keyed by head TAI) once every live node's
 * watermark has passed it plus the largest epsilon of the live nodes.
 *
 * A node silent for longer than the liveness timeout becomes unreachable
 * (consumers hear node_state(UNREACHABLE)) and the merge stops waiting for
 * it; one that says Goodbye goes down (node_state(DOWN)) at once, having
 * lost nothing.  When either is heard again, the time from its last
 * watermark to the first thing it sends then (a batch's first event, or a
 * heartbeat's watermark) is unknown: one loss() with count 0 for exactly
 * that interval, none if it is empty.  Events that arrive
 * behind what was already released (a node returning after the timeout, or
 * a watermark that lied) cannot be placed: they are reported as loss, never
 * delivered out of order.
 *
 * Batches are kept as unpacked protobuf messages and decoded event by event
 * at release into one reused array: nothing is allocated per event.
 */
#ifndef NETRV_COLLECTOR_MERGE_H
#define NETRV_COLLECTOR_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"
#include "schema.h"

struct merge;

struct merge_stats {
	uint64_t released; /* events delivered */
	uint64_t late; /* events reported as loss instead */
	uint64_t skipped; /* events not delivered: processed before a restart */
	uint64_t watermark; /* last watermark told to consumers */
};

/**
 * merge_create - an empty merge
 * @liveness_ns: silence after which a node is unreachable
 *
 * Return: the merge, freed with merge_destroy(), or NULL with errno.
 */
struct merge *merge_create(uint64_t liveness_ns);

/** merge_destroy - free queues, nodes and every registered consumer */
void merge_destroy(struct merge *m);

/**
 * merge_add_consumer - call @c for everything released from now on
 *
 * Consumers are called in the order they were added; merge_destroy() calls
 * their destroy op.
 */
void merge_add_consumer(struct merge *m, struct consumer *c);

/** merge_consumers - the first registered consumer (walk ->next) */
struct consumer *merge_consumers(struct merge *m);

/**
 * merge_node - index of node @name, created (up, no watermark yet) if new
 * @now_ns: collector monotonic time, starts the liveness timer
 *
 * Return: the index, or -1 with errno ENOMEM.
 */
int merge_node(struct merge *m, const char *name, uint64_t now_ns);

/** merge_cnode - the node at @idx, owned by the merge */
const struct cnode *merge_cnode(const struct merge *m, uint32_t idx);
uint32_t merge_n_nodes(const struct merge *m);

/**
 * merge_push - queue a batch that schema_check_batch() accepted
 * @b: unpacked with the default allocator; owned by the merge from now on
 * @s: its schema; must outlive the merge
 * @now_ns: collector monotonic time (the node was heard)
 *
 * Events before the node's position (merge_set_position()) are not
 * delivered: they were processed before a restart.  The batch's watermark
 * and clock status take effect.
 */
void merge_push(struct merge *m, uint32_t node, Netrv__Batch *b,
		const struct schema *s, uint64_t now_ns);

/**
 * merge_heartbeat - @node promises nothing older than @wm_trace_ns
 * @clock: its clock status; may be NULL (keep the last one)
 */
void merge_heartbeat(struct merge *m, uint32_t node, uint64_t wm_trace_ns,
		     const Netrv__ClockStatus *clock, uint64_t now_ns);

/**
 * merge_set_clock_domain - what stamps @node's batches pushed from now on
 * @boot_id: the node's kernel boot id (Hello.boot_id)
 * @trace_clock: its trace clock name (Hello.trace_clock)
 *
 * Nodes naming the same non-empty boot id and the same "mono" or "boot"
 * trace clock share one clock: their events get one cevent.clock_domain
 * (a 64-bit hash of both, never 0).  Anything else (the "tai" trace clock,
 * which can step; no boot id; batches replayed from the WAL before the
 * node's Hello) gets 0, unknown.  The domain is taken per batch, so a node
 * that rebooted does not mix its boots.
 */
void merge_set_clock_domain(struct merge *m, uint32_t node, const char *boot_id,
			    const char *trace_clock);

/** merge_heard - @node sent something (keeps it alive) */
void merge_heard(struct merge *m, uint32_t node, uint64_t now_ns);

/** merge_run - release every event the watermarks allow */
void merge_run(struct merge *m);

/**
 * merge_tick - mark nodes silent since @now_ns - liveness as unreachable
 * @now_tai: the collector's TAI, for node_state() and loss()
 */
void merge_tick(struct merge *m, uint64_t now_ns, uint64_t now_tai);

/**
 * merge_gone - @node said Goodbye: it is down now (node_state(DOWN), no
 * loss: everything up to its watermark was sent), not unreachable after the
 * liveness timeout
 */
void merge_gone(struct merge *m, uint32_t node, uint64_t now_tai);

/**
 * merge_log_waiting - log (info) what is still queued and which node's
 * watermark holds it back; for shutdown and diagnosis
 */
void merge_log_waiting(const struct merge *m);

/** merge_queued - events of @node waiting in the merge */
uint64_t merge_queued(const struct merge *m, uint32_t node);

/**
 * merge_node_watermark - @node's watermark in TAI (*@tai)
 *
 * Return: false while the node has sent none.
 */
bool merge_node_watermark(const struct merge *m, uint32_t node, uint64_t *tai);

/**
 * merge_position - where @node's delivered prefix ends
 * @seq, @next: the next event to deliver is (@seq, @next); everything
 *		before it in local order was delivered or reported as loss
 */
void merge_position(const struct merge *m, uint32_t node, uint64_t *seq,
		    uint32_t *next);

/** merge_set_position - start @node at (@seq, @next) (restart) */
void merge_set_position(struct merge *m, uint32_t node, uint64_t seq,
			uint32_t next);

void merge_get_stats(const struct merge *m, struct merge_stats *st);

#endif
