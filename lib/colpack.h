/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colpack.h - a Batch's events in column form, zstd-compressed
 * (Batch.columns_zstd, sent to a collector whose HelloAck says
 * accepts_columns).
 *
 * The plain form of a batch is four columns: time_delta, event_type, cpu
 * (repeated varints) and fields (evpack rows, see evpack.h).  The column
 * form turns the fields inside out: every field of every event type is a
 * column of its own, so similar values follow each other, and each value
 * is coded against the previous value of the same column:
 *
 *   varint n                              events in the batch
 *   n varints time_delta, n varints event_type, n varints cpu
 *   then for each event type id (ascending) that occurs, for each of its
 *   fields (schema order), the values of its events in batch order:
 *     FIELD_INT:          zig-zag varint of (value - previous value),
 *                         wrapping 64-bit arithmetic; previous starts at 0
 *     FIELD_STRING/BYTES: varint p (bytes shared with the start of the
 *                         previous value), varint s, s bytes: the value is
 *                         the previous value's first p bytes and these
 *
 * and the whole of it is one zstd frame with its content size.  Counters
 * and ids cost a byte, repeated names nothing, a name that differs from
 * the previous one in its last digits only those digits.
 */
#ifndef NETRV_COLPACK_H
#define NETRV_COLPACK_H

#include <stddef.h>
#include <stdint.h>

#include "evpack.h"
#include "netrv.pb-c.h"

/*
 * Largest plain column form a decoder accepts (a batch of 4096 events of
 * 4 KB records is 16 MB).
 */
#define COLPACK_MAX_PLAIN (64u << 20)

struct colpack;

/**
 * colpack_create - coder state (zstd contexts, scratch), reused per batch
 * @level: zstd level for encoding (1 is fast; negative is faster)
 *
 * Return: the state, freed with colpack_destroy(), or NULL (ENOMEM).
 */
struct colpack *colpack_create(int level);
void colpack_destroy(struct colpack *c);

/**
 * colpack_encode - compress a batch given in plain form
 * @types: event types indexed by id (NULL where none), @n_types of them
 * @n: events; @delta, @type, @cpu: their columns
 * @fields: their evpack rows (@fields_len bytes)
 * @out: replaced with the zstd frame
 *
 * Return: 0, or -1 with errno (EBADMSG: @fields do not match @types;
 * ENOMEM).
 */
int colpack_encode(struct colpack *c, const Netrv__EventType *const *types,
		   size_t n_types, size_t n, const uint64_t *delta,
		   const uint32_t *type, const uint32_t *cpu,
		   const uint8_t *fields, size_t fields_len,
		   struct bytebuf *out);

/**
 * colpack_begin - start encoding a batch value by value (the way in for a
 * producer that has no evpack rows; colpack_encode() is built on it)
 * @types, @n_types: as for colpack_encode(), valid until colpack_finish()
 *
 * Then, for each event in batch order and each of its fields in schema
 * order, colpack_put_int() or colpack_put_bytes() (@type < @n_types with a
 * type, @field < its n_fields: the caller's promise), then
 * colpack_finish() with the batch's columns.
 * Return: 0, or -1 (ENOMEM).
 */
int colpack_begin(struct colpack *c, const Netrv__EventType *const *types,
		  size_t n_types);
/** colpack_put_int - @v: the value; a signed one sign-extended to 64 bits */
int colpack_put_int(struct colpack *c, uint32_t type, uint32_t field,
		    uint64_t v);
/** colpack_put_bytes - @p must stay valid until colpack_finish() */
int colpack_put_bytes(struct colpack *c, uint32_t type, uint32_t field,
		      const uint8_t *p, size_t len);
/**
 * colpack_finish - the zstd frame of the batch into @out (replaced)
 * @n, @delta, @type, @cpu: the events' columns, matching the values put
 *
 * Return: 0, or -1 with errno (EBADMSG: an unknown type; ENOMEM).
 */
int colpack_finish(struct colpack *c, size_t n, const uint64_t *delta,
		   const uint32_t *type, const uint32_t *cpu,
		   struct bytebuf *out);

/**
 * colpack_expand_batch - turn @b's columns_zstd into the plain form
 * @types, @n_types: as for colpack_encode()
 *
 * On success time_delta, event_type, cpu and fields of @b are replaced by
 * malloc'd arrays (any old ones are freed), columns_zstd is emptied, and
 * protobuf_c_message_free_unpacked(b, NULL) frees everything as usual.  A
 * batch without columns_zstd is left alone.
 *
 * Return: 0, or -1 with errno (EBADMSG: malformed, with a reason in @err;
 * ENOMEM).  On error @b is unchanged.
 */
int colpack_expand_batch(struct colpack *c, Netrv__Batch *b,
			 const Netrv__EventType *const *types, size_t n_types,
			 char *err, size_t errlen);

#endif
