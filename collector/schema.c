// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * schema.c - see schema.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "evpack.h"
#include "schema.h"

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	errno = EBADMSG;
	return -1;
}

struct schema *schema_create(Netrv__Schema *msg, char *err, size_t errlen)
{
	struct schema *s;
	uint32_t max_id = 0;

	for (size_t i = 0; i < msg->n_types; i++) {
		const Netrv__EventType *t = msg->types[i];

		if (t->id > SCHEMA_MAX_TYPE_ID) {
			snprintf(err, errlen, "event type id %u above %u",
				 t->id, SCHEMA_MAX_TYPE_ID);
			errno = EBADMSG;
			return NULL;
		}
		if (t->n_fields > SCHEMA_MAX_FIELDS) {
			snprintf(err, errlen,
				 "event type %u has %zu fields (max %u)", t->id,
				 t->n_fields, SCHEMA_MAX_FIELDS);
			errno = EBADMSG;
			return NULL;
		}
		if (t->id > max_id)
			max_id = t->id;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->n_by_id = msg->n_types ? max_id + 1 : 0;
	s->by_id = calloc(s->n_by_id ? s->n_by_id : 1, sizeof(*s->by_id));
	if (!s->by_id) {
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < msg->n_types; i++) {
		const Netrv__EventType *t = msg->types[i];

		if (s->by_id[t->id]) {
			snprintf(err, errlen, "event type id %u defined twice",
				 t->id);
			free(s->by_id);
			free(s);
			errno = EBADMSG;
			return NULL;
		}
		s->by_id[t->id] = t;
		if (t->n_fields > s->max_fields)
			s->max_fields = t->n_fields;
	}
	s->id = msg->schema_id;
	s->msg = msg;
	return s;
}

void schema_destroy(struct schema *s)
{
	if (!s)
		return;
	protobuf_c_message_free_unpacked(&s->msg->base, NULL);
	free(s->by_id);
	free(s);
}

int schema_check_batch(const struct schema *s, const Netrv__Batch *b, char *err,
		       size_t errlen)
{
	struct evpack_value vals[SCHEMA_MAX_FIELDS];
	struct evpack_reader r = { b->fields.data,
				   b->fields.data + b->fields.len };
	uint64_t t = b->base_ns;

	if (b->n_time_delta != b->n_event_type || b->n_cpu != b->n_event_type)
		return bad(err, errlen, "batch columns differ in length");
	if (b->seq == 0)
		return bad(err, errlen, "batch seq 0 (sequences start at 1)");
	if (!b->clock)
		return bad(err, errlen, "batch without clock status");
	for (size_t i = 0; i < b->n_event_type; i++) {
		uint32_t id = b->event_type[i];
		const Netrv__EventType *et;

		if (id >= s->n_by_id || !(et = s->by_id[id])) {
			snprintf(err, errlen, "event %zu: unknown type id %u",
				 i, id);
			errno = EBADMSG;
			return -1;
		}
		if (t + b->time_delta[i] < t)
			return bad(err, errlen, "event time overflows");
		t += b->time_delta[i];
		if (evpack_decode(&r, et, vals)) {
			snprintf(err, errlen, "event %zu: fields do not decode",
				 i);
			errno = EBADMSG;
			return -1;
		}
	}
	if (r.p != r.end)
		return bad(err, errlen, "bytes left after the last event");
	return 0;
}
