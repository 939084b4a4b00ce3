/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * evpack.h - field values of events, packed per schema into Batch.fields.
 *
 * For each event, its fields follow in the order of its EventType:
 *   FIELD_INT, signed:    zig-zag varint of the sign-extended value
 *   FIELD_INT, unsigned:  varint
 *   FIELD_STRING/BYTES:   varint length, then the bytes (strings without
 *                         their terminating NUL)
 * Small values (ids, modes, statuses, pids) take one or two bytes instead of
 * their fixed kernel size, which is most of the saving over raw records.
 */
#ifndef NETRV_EVPACK_H
#define NETRV_EVPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netrv.pb-c.h"

/* A growable byte buffer, reused across batches. */
struct bytebuf {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/** bytebuf_reserve - make room for @more bytes; -1 with errno on failure */
int bytebuf_reserve(struct bytebuf *b, size_t more);
/** bytebuf_release - free the storage; the buffer may be reused after */
void bytebuf_release(struct bytebuf *b);

int evpack_put_u64(struct bytebuf *b, uint64_t v);
int evpack_put_s64(struct bytebuf *b, int64_t v);
int evpack_put_bytes(struct bytebuf *b, const void *p, size_t len);

struct evpack_reader {
	const uint8_t *p;
	const uint8_t *end;
};

/* Each returns 0, or -1 with errno EBADMSG if the input ends or is bad. */
int evpack_get_u64(struct evpack_reader *r, uint64_t *v);
int evpack_get_s64(struct evpack_reader *r, int64_t *v);
int evpack_get_bytes(struct evpack_reader *r, const uint8_t **p, size_t *len);

/* One decoded field; bytes point into the batch and live as long as it. */
struct evpack_value {
	union {
		int64_t s;
		uint64_t u;
	};
	const uint8_t *bytes;
	size_t len;
};

/**
 * evpack_decode - read one event's fields of type @t from @r
 * @vals: room for @t->n_fields values
 *
 * Return: 0, or -1 with errno EBADMSG (the batch is malformed).
 */
int evpack_decode(struct evpack_reader *r, const Netrv__EventType *t,
		  struct evpack_value *vals);

/** evpack_field_index - index of field @name in @t, or -1 */
int evpack_field_index(const Netrv__EventType *t, const char *name);

#endif
