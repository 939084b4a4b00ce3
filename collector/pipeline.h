/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pipeline.h - the collector from frames to consumers.
 *
 * ingest (sessions) -> pipeline: Hello, dedup by (node, seq), schema and
 * batch checks, WAL append, Acks once durable -> merge -> consumers.
 * It owns the node table, the WAL, the merge and the timers for syncing,
 * liveness, checkpoints and WAL trimming.  Everything runs on one libevent
 * base, on one thread.
 */
#ifndef NETRV_COLLECTOR_PIPELINE_H
#define NETRV_COLLECTOR_PIPELINE_H

#include <stdint.h>

#include <event2/event.h>

#include "event.h"
#include "frame.h"
#include "merge.h"

struct pipeline;
struct session;
struct pnode;

enum wal_sync_policy {
	WAL_SYNC_ALWAYS, /* fdatasync before every Ack (group commit per read) */
	WAL_SYNC_BATCH, /* fdatasync every sync_interval or sync_bytes */
	WAL_SYNC_NONE, /* Ack after write(): survives kill -9, not power loss */
};

struct pipeline_config {
	const char *wal_dir;
	enum wal_sync_policy sync;
	uint64_t sync_interval_ns;
	uint64_t sync_bytes;
	uint64_t segment_size;
	uint64_t retain_size;
	uint64_t retain_ns;
	uint64_t checkpoint_ns;
	uint64_t liveness_ns;
	uint64_t queue_events; /* per node: stop reading above this */
	uint32_t max_frame;
	bool roundtrip_clock; /* estimate clocks PTP does not bound */
};

/**
 * pipeline_create - open the WAL and build an empty merge
 *
 * Return: the pipeline, freed with pipeline_destroy(), or NULL (logged).
 */
struct pipeline *pipeline_create(struct event_base *base,
				 const struct pipeline_config *cfg);

/**
 * pipeline_add_consumer - register @c (owned by the pipeline from now on)
 *
 * Call before pipeline_start().
 */
void pipeline_add_consumer(struct pipeline *p, struct consumer *c);

/**
 * pipeline_start - resume consumers from the checkpoint, replay the WAL
 * into the merge and start the timers
 *
 * Return: 0, or -1 (logged).
 */
int pipeline_start(struct pipeline *p);

/**
 * pipeline_stop - sync the WAL, take a last checkpoint; events still
 * waiting for watermarks stay in the WAL for the next start
 */
void pipeline_stop(struct pipeline *p);

/** pipeline_destroy - free everything, consumers included */
void pipeline_destroy(struct pipeline *p);

struct merge *pipeline_merge(struct pipeline *p);

/* What the pipeline knows of one node, for /api/nodes and /metrics. */
struct pipeline_node_info {
	const char *name;
	uint32_t idx; /* as in the merge and struct cnode */
	bool connected, paused; /* paused: back-pressure on its connection */
	bool have_watermark;
	uint64_t watermark_tai; /* the node's promise, TAI */
	uint64_t queued; /* events waiting in the merge */
	uint64_t written_seq, durable_seq, acked_seq; /* WAL and Acks */
	uint64_t dups; /* duplicate batches dropped */
};

/** pipeline_n_nodes - nodes seen so far (indices 0..n-1) */
uint32_t pipeline_n_nodes(const struct pipeline *p);
/** pipeline_node_info - fill @out for node @idx (< pipeline_n_nodes()) */
void pipeline_node_info(const struct pipeline *p, uint32_t idx,
			struct pipeline_node_info *out);

struct pipeline_info {
	uint64_t wal_bytes; /* on disk */
	uint64_t wal_pending; /* written, not yet synced */
	uint64_t checkpoints; /* taken since start */
	struct merge_stats merge;
};

/** pipeline_info - WAL, checkpoint and merge counters */
void pipeline_info(const struct pipeline *p, struct pipeline_info *out);

/* Called by ingest. */

/**
 * pipeline_hello - a session authenticated as @cn says Hello
 *
 * Return: the node, or NULL when the session was refused.
 */
struct pnode *pipeline_hello(struct pipeline *p, struct session *s,
			     const char *cn, const struct frame *f);

/** pipeline_frame - any later frame; -1 when the session was refused */
int pipeline_frame(struct pipeline *p, struct pnode *n, struct session *s,
		   const struct frame *f);

/** pipeline_read_done - a read callback ended: sync, ack, release */
void pipeline_read_done(struct pipeline *p);

/** pipeline_session_gone - @s of @n is closed and freed */
void pipeline_session_gone(struct pipeline *p, struct pnode *n,
			   struct session *s);

uint32_t pipeline_max_frame(const struct pipeline *p);

#endif
