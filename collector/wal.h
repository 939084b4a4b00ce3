/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wal.h - the collector's write-ahead log: what it acknowledged survives
 * `kill -9` and is replayed at the next start.
 *
 * Layout under the WAL directory:
 *
 *   lock                       flock()ed by the running collector
 *   checkpoint                 what consumers have processed (atomic rename)
 *   NODE/SEQ.wal               segments of one node; SEQ (20 digits) is the
 *                              first batch sequence the segment may hold
 *
 * A segment is a series of records, each a 24-byte header (magic "NWAL",
 * frame type, payload length, CRC32C over header and payload, batch
 * sequence) and the frame payload exactly as the agent sent it (Schema,
 * Batch, or the Hello that opened the session whose batches follow).  A
 * new segment starts with every schema of its node and its latest Hello,
 * so any suffix of segments replays on its own.  A torn record at the end of the
 * newest segment (a crash mid-write) is cut off at replay; it was never
 * acknowledged.
 *
 * Durability: records are write()n at once; wal_sync() fdatasync()s the
 * segments written since the last sync.  The caller acknowledges a batch
 * only when wal_durable_seq() covers it.
 */
#ifndef NETRV_COLLECTOR_WAL_H
#define NETRV_COLLECTOR_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

struct wal;
struct wal_node;

struct wal_config {
	const char *dir;
	uint64_t segment_size; /* start a new segment above this */
	uint64_t retain_size; /* processed segments kept up to this per node */
	uint64_t retain_ns; /* ... and at most this long */
};

/**
 * wal_open - open (creating) the WAL directory and lock it
 *
 * Return: the WAL, closed with wal_close(), or NULL with errno (EWOULDBLOCK:
 * another collector holds the lock) and an error logged.
 */
struct wal *wal_open(const struct wal_config *cfg);
void wal_close(struct wal *w);

/**
 * wal_replay_fn - one record found at replay, in order per node
 * Return: 0 to go on, -1 to stop the replay with an error.
 */
typedef int (*wal_replay_fn)(void *arg, const char *node, enum frame_type type,
			     uint64_t seq, const uint8_t *payload,
			     uint32_t len);

/**
 * wal_replay - read every node's segments, oldest first
 *
 * Opens a struct wal_node for every node found, with its durable sequence
 * set to the last batch on disk.  Return: 0, or -1 with errno.
 */
int wal_replay(struct wal *w, wal_replay_fn fn, void *arg);

/**
 * wal_node - the log of node @name, opened or created
 *
 * Return: owned by @w, or NULL with errno.
 */
struct wal_node *wal_node(struct wal *w, const char *name);

/**
 * wal_append - write one record (FRAME_SCHEMA, FRAME_HELLO or FRAME_BATCH)
 * @seq: the batch sequence (0 for schemas and hellos)
 *
 * Return: 0, or -1 with errno (logged).
 */
int wal_append(struct wal_node *wn, enum frame_type type, uint64_t seq,
	       const void *payload, uint32_t len);

/**
 * wal_sync - make every written record durable, now (waits for a
 * background sync in flight first)
 *
 * Return: 0, or -1 (logged; the records stay not durable).
 */
int wal_sync(struct wal *w);

/*
 * Background syncing, so the event loop never waits for the disk: a sync
 * thread takes a snapshot of what was written and makes it durable
 * (fdatasync per segment, or one syncfs() when many nodes are dirty: with
 * hundreds of nodes that is one journal commit instead of hundreds).
 */

/**
 * wal_sync_start - hand what is written so far to the sync thread
 *
 * Return: 0 when started, 1 when a sync is already in flight (call again
 * after it finished), -1 with errno.
 */
int wal_sync_start(struct wal *w);

/** wal_sync_fd - readable when a started sync finished */
int wal_sync_fd(const struct wal *w);

/**
 * wal_sync_finish - collect a finished background sync (call when
 * wal_sync_fd() is readable): durable sequences advance
 *
 * Return: 0, or -1 when the sync failed (logged).
 */
int wal_sync_finish(struct wal *w);

/** wal_pending - bytes written since the last wal_sync() */
uint64_t wal_pending(const struct wal *w);

/** wal_written_seq - highest batch sequence written (maybe not durable) */
uint64_t wal_written_seq(const struct wal_node *wn);
/** wal_durable_seq - highest batch sequence on stable storage */
uint64_t wal_durable_seq(const struct wal_node *wn);

/**
 * wal_trim - delete @wn's closed segments whose batches are all before
 * @done_seq, beyond the retention limits
 * @now_ns: CLOCK_REALTIME, compared with segment modification times
 */
void wal_trim(struct wal_node *wn, uint64_t done_seq, uint64_t now_ns);

/** wal_bytes - bytes of all segments of all nodes */
uint64_t wal_bytes(const struct wal *w);

/**
 * wal_put_file - replace file @name in the WAL directory atomically and
 * durably (write, fsync, rename, fsync directory)
 *
 * Return: 0, or -1 with errno (logged).
 */
int wal_put_file(struct wal *w, const char *name, const void *buf, size_t len);

/**
 * wal_get_file - read file @name of the WAL directory
 *
 * Return: a NUL-terminated copy the caller frees, or NULL with errno
 * (ENOENT: there is none).
 */
char *wal_get_file(struct wal *w, const char *name, size_t *len);

#endif
