/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * archive_reader.h - read a netrv archive back, in the exact merged order,
 * as the cevents and records that were written (for replay, export, info).
 *
 * The reader understands netrv's own chunks only (ctf.h): it takes the
 * agents' EventTypes from the metadata's netrv-type lines and decodes the
 * packets itself, so a replay sees the same types, values, ε, sequence
 * numbers and clock status as the live consumers did.  Everything in the
 * archive is checked against the bounds of its packet: a damaged archive
 * gives an error naming the file and offset, never a crash.
 */
#ifndef NETRV_ARCHIVE_READER_H
#define NETRV_ARCHIVE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum archive_rec_kind {
	AREC_EVENT,
	AREC_VERDICT,
	AREC_CLOCK_VIOLATION,
	AREC_LOSS,
	AREC_NODE_STATE,
	AREC_WATERMARK,
};

/*
 * One record.  Pointers are borrowed from the reader and valid until the
 * next archive_reader_next() (types and nodes: until archive_reader_close()).
 */
struct archive_record {
	enum archive_rec_kind kind;
	unsigned int chunk; /* number of the chunk it came from */
	uint64_t stamp; /* CTF timestamp: the merged time when written */
	uint64_t tai_ns; /* event/verdict/state/watermark time; loss: from */
	const struct cnode *node; /* event, loss, node state, violation */
	struct cevent ev; /* AREC_EVENT */
	const char *vclass; /* AREC_VERDICT */
	const uint8_t *resource; /* AREC_VERDICT, resource_len bytes */
	size_t resource_len;
	const char *json; /* AREC_VERDICT, AREC_CLOCK_VIOLATION */
	uint64_t to_tai, count; /* AREC_LOSS */
	enum cnode_state state; /* AREC_NODE_STATE */
};

struct archive_reader;

/**
 * archive_reader_open - open an archive directory or a single chunk
 * @path: a directory of chunk-* directories, or one chunk directory
 *
 * Return: the reader, freed with archive_reader_close(), or NULL with
 * errno set and the reason logged.
 */
struct archive_reader *archive_reader_open(const char *path);

/**
 * archive_reader_next - the next record in merged order
 *
 * Return: 1 with @rec filled, 0 at the end, -1 with errno (EBADMSG for a
 * damaged archive; the reason is logged with file and offset).
 */
int archive_reader_next(struct archive_reader *r, struct archive_record *rec);

/**
 * archive_reader_node_name - name of the reader's node @index (nodes are
 * numbered by first appearance, by name, across chunks), NULL past the last
 * node seen so far; valid until archive_reader_close()
 */
const char *archive_reader_node_name(const struct archive_reader *r,
				     uint32_t index);

/** archive_reader_close - unmap and free everything; NULL is fine */
void archive_reader_close(struct archive_reader *r);

/**
 * archive_replay - feed every record of @r to a list of consumers
 * @consumers: first of a list linked by ->next (may be NULL)
 * @record: called for every record before the consumers see it (may be
 *          NULL): this is where archived verdicts can be printed
 *
 * Events, losses, node states and watermarks go to the consumers' ops in
 * archive order; a final watermark at the last time follows the end.
 * Return: records read, or -1 with errno.
 */
long long archive_replay(struct archive_reader *r, struct consumer *consumers,
			 void (*record)(const struct archive_record *rec,
					void *arg),
			 void *arg);

#endif
