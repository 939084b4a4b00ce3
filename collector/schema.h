/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * schema.h - a node's event schemas, and the full check of a batch
 * against one.
 *
 * A batch is trusted by nothing downstream: before the collector writes it
 * to the WAL or acknowledges it, schema_check_batch() proves that its
 * columns agree in length, that every event type exists and that the packed
 * fields decode exactly to the end.  The merge then decodes without checks.
 */
#ifndef NETRV_COLLECTOR_SCHEMA_H
#define NETRV_COLLECTOR_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "netrv.pb-c.h"

/* Event type ids above this are refused (they index a table). */
#define SCHEMA_MAX_TYPE_ID 4095
/* Fields per event type (the merge decodes into a fixed array). */
#define SCHEMA_MAX_FIELDS 64

struct schema {
	uint64_t id;
	Netrv__Schema *msg;
	const Netrv__EventType **by_id; /* n_by_id entries, NULL = unused */
	uint32_t n_by_id;
	size_t max_fields; /* most fields of any type */
};

/**
 * schema_create - index an unpacked Schema message
 * @msg: unpacked with the default allocator; owned by the schema on success
 * @err: room for a reason on failure
 *
 * Return: the schema, freed with schema_destroy(), or NULL with errno
 * (EBADMSG: @msg is invalid, the reason in @err; @msg is still the caller's).
 */
struct schema *schema_create(Netrv__Schema *msg, char *err, size_t errlen);
void schema_destroy(struct schema *s);

/**
 * schema_check_batch - validate every event of @b against @s
 *
 * Return: 0, or -1 with errno EBADMSG and the reason in @err.
 */
int schema_check_batch(const struct schema *s, const Netrv__Batch *b, char *err,
		       size_t errlen);

#endif
