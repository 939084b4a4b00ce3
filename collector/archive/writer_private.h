/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * writer_private.h - the archive writer's state, shared by writer.c (records
 * and packets) and chunk.c (chunk directories, rotation, retention, repair).
 */
#ifndef NETRV_ARCHIVE_WRITER_PRIVATE_H
#define NETRV_ARCHIVE_WRITER_PRIVATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "archive.h"
#include "ctf.h"
#include "evpack.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

/* An event class of a node stream: a schema EventType, by content. */
struct ar_class {
	uint16_t id;
	uint32_t n_fields;
	uint8_t *store; /* enum ctf_store per field */
	uint32_t fixed; /* payload bytes without string/array contents */
	uint8_t *packed; /* the EventType, protobuf-encoded */
	size_t packed_len;
};

/* One data stream file of the current chunk, and its packet being built. */
struct ar_stream {
	int fd; /* -1 until the first packet of the chunk is written */
	uint32_t stream_id;
	uint32_t instance;
	char file[24];
	uint8_t *buf;
	size_t len; /* 0: no packet open */
	size_t cap;
	uint64_t ts_begin, ts_end;
	uint64_t pkt_seq;
	uint64_t written; /* bytes in the file */
	uint64_t opened_mono; /* when the open packet got its first record */
	uint64_t pkt_events, pkt_records;
};

struct ar_node {
	struct ar_stream s;
	uint32_t index;
	char *name;
	struct ar_class **classes; /* event id CTF_EV_FIRST_TYPE + i */
	size_t n_classes;
	bool have_clock; /* a clock record is in this chunk */
	Netrv__ClockStatus clock; /* the last one written; gm points to gm[] */
	uint8_t gm[16];
	int64_t trace_offset;
	uint64_t clock_domain; /* of the last clock record */
};

struct ar_cache_ent {
	const Netrv__EventType *type;
	const struct ar_node *node;
	struct ar_class *cls;
};

struct archive {
	struct consumer consumer;
	struct archive_options o;
	char *dir;
	int dirfd; /* the archive directory */
	int chunk_fd; /* the current chunk directory, -1 if none */
	int meta_fd;
	unsigned int chunk;
	uint8_t uuid[16];
	uint64_t chunk_bytes; /* written into the current chunk */
	uint64_t chunk_first_ts;
	bool chunk_has_records;

	struct ar_stream netrv;
	struct ar_node **nodes; /* by cnode index; NULL where unseen */
	size_t n_nodes;

	struct ar_cache_ent *cache; /* open addressing, power of two */
	size_t cache_cap, cache_used;

	uint64_t last_ts; /* the merged time reached: stamps are >= it */
	uint16_t tie;
	bool any;
	uint64_t last_wm;
	unsigned int flush_check;

	struct bytebuf meta; /* scratch for metadata blocks */
	struct bytebuf scratch; /* scratch for packing EventTypes */
	struct archive_stats st;
	bool failing; /* a write error was logged; log the recovery */
};

/* chunk.c */
int ar_chunk_begin(struct archive *ar);
int ar_chunk_end(struct archive *ar, bool sync);
int ar_repair_all(int dirfd, unsigned int *last);
void ar_retention(struct archive *ar);
int ar_write_all(int fd, const void *p, size_t len);
int ar_meta_append(struct archive *ar);

/* writer.c */
int ar_stream_flush(struct archive *ar, struct ar_stream *s);
int ar_flush_all(struct archive *ar);

#endif
