/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * archive.h - the merged cluster trace, written as CTF 1.8 chunks.
 *
 * The archive is a consumer of the merged stream (collector/event.h).  It
 * writes an archive directory of chunk directories, each a complete CTF 1.8
 * trace that babeltrace2 and Trace Compass open on their own:
 *
 *   ARCHIVE/chunk-00000001/metadata   TSDL, appended as nodes/schemas appear
 *   ARCHIVE/chunk-00000001/node-N     one data stream per node
 *   ARCHIVE/chunk-00000001/netrv      verdicts, clock-bound violations,
 *                                     node up/down, losses, watermarks
 *
 * All streams use one clock class "tai" whose values are TAI nanoseconds.
 * Packets are built in memory and written whole with one write(2); metadata
 * that a packet needs is written before it.  So after kill -9 everything up
 * to the last complete packet reads back, and archive_open() on the same
 * directory truncates a torn tail and starts a new chunk.
 *
 * Layout details (what each record carries, how the merged order survives
 * ties and out-of-TAI-order releases) are in README.md next to this file.
 */
#ifndef NETRV_ARCHIVE_H
#define NETRV_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct archive;

struct archive_options {
	const char *dir; /* archive directory, created if missing */
	uint64_t chunk_bytes; /* rotate at this chunk size; 0: never */
	uint64_t
		chunk_ns; /* rotate when a chunk spans this TAI time; 0: never */
	unsigned int max_chunks; /* retention: keep at most this many; 0: all */
	uint64_t max_bytes; /* retention: total size of all chunks; 0: any */
	uint32_t packet_bytes; /* target packet size; 0: 64 KiB */
	uint64_t
		flush_ns; /* write a partial packet this old (monotonic); 0: 1 s */
};

struct archive_stats {
	uint64_t events; /* trace events written (into packets) */
	uint64_t records; /* verdicts, losses, node states, ... */
	uint64_t bytes; /* bytes written to the current archive, all chunks */
	uint64_t packets;
	uint64_t dropped; /* records lost to write errors (logged) */
	unsigned int chunk; /* number of the chunk being written */
};

/**
 * archive_open - open (or create) an archive directory for writing
 * @o: options; @o->dir is copied
 *
 * Existing chunks are repaired first (a torn packet at the end of a stream
 * or an unfinished metadata block is cut off), then a new chunk is started,
 * so that a restarted collector never appends to a chunk it did not close.
 *
 * Return: the archive, closed with archive_close(), or NULL with errno set
 * (and the reason logged).
 */
struct archive *archive_open(const struct archive_options *o);

/**
 * archive_repair - make a crashed archive readable without writing to it
 * @dir: the archive directory (holding chunk-* directories)
 *
 * Cuts, in every chunk, a torn packet at the end of each stream and an
 * unfinished metadata block, as archive_open() does, but starts no chunk.
 * A writer killed in the middle of a write(2) leaves such a tail, which
 * babeltrace2 refuses to read.
 *
 * Return: 0, or -1 with errno set (the reason is logged).
 */
int archive_repair(const char *dir);

/**
 * archive_close - flush every buffered packet, fsync and free the archive
 *
 * Return: 0, or -1 with errno if a write failed (the archive is freed anyway).
 */
int archive_close(struct archive *ar);

/**
 * archive_consumer - the archive as a consumer of the merged stream
 *
 * The consumer belongs to @ar; its destroy callback does nothing (call
 * archive_close()).  Event types are recognised by their address
 * (cevent.type): when the collector frees an EventType, it must call
 * archive_forget_types() before the address can be reused.
 */
struct consumer *archive_consumer(struct archive *ar);

/**
 * archive_write_event - append one merged event (what the consumer does)
 *
 * Return: 0, or -1 with errno (logged, counted in archive_stats.dropped).
 */
int archive_write_event(struct archive *ar, const struct cevent *ev);

/** archive_forget_types - drop the address -> event class cache */
void archive_forget_types(struct archive *ar);

/**
 * archive_write_verdict - append a verdict of a monitor
 * @tai_ns: the time the verdict is about (kept exactly in the record)
 * @vclass: short class, e.g. "lock.definite" (NUL-terminated)
 * @resource: the resource's bytes (untrusted, any bytes), @resource_len long
 * @json: the full verdict as JSON (NUL-terminated), may be ""
 *
 * Records of the verdict stream are stamped with the merged time reached so
 * far (CTF needs monotonic streams); @tai_ns is a field of the record.
 * Return: 0, or -1 with errno.
 */
int archive_write_verdict(struct archive *ar, uint64_t tai_ns,
			  const char *vclass, const void *resource,
			  size_t resource_len, const char *json);

/** archive_write_clock_violation - a causal pair contradicting ε; as above */
int archive_write_clock_violation(struct archive *ar, uint64_t tai_ns,
				  const struct cnode *node, const char *json);

/** archive_write_loss - @node lost @count events in [@from_tai, @to_tai] */
int archive_write_loss(struct archive *ar, const struct cnode *node,
		       uint64_t from_tai, uint64_t to_tai, uint64_t count);

/** archive_write_node_state - @node went up or unreachable at @tai_ns */
int archive_write_node_state(struct archive *ar, const struct cnode *node,
			     enum cnode_state state, uint64_t tai_ns);

/**
 * archive_write_watermark - everything up to @tai_ns has been delivered
 *
 * Kept at most once per millisecond of TAI (replay re-issues them); also
 * writes packets older than flush_ns.
 */
int archive_write_watermark(struct archive *ar, uint64_t tai_ns);

/** archive_flush - write every partial packet now; 0 or -1 with errno */
int archive_flush(struct archive *ar);

/** archive_rotate - close the current chunk and start a new one */
int archive_rotate(struct archive *ar);

/** archive_get_stats - counters since archive_open() */
void archive_get_stats(const struct archive *ar, struct archive_stats *st);

#endif
