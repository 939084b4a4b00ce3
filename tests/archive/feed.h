/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * feed.h - hand gen.h's records to an archive writer, and compare records
 * read back with a second run of the generator (the oracle).
 */
#ifndef NETRV_TESTS_ARCHIVE_FEED_H
#define NETRV_TESTS_ARCHIVE_FEED_H

#include "archive.h"
#include "archive_reader.h"
#include "gen.h"

static inline int gen_feed(struct gen *g, struct archive *ar)
{
	switch (g->kind) {
	case GK_EVENT:
		return archive_write_event(ar, &g->ev);
	case GK_VERDICT:
		return archive_write_verdict(ar, g->tai, g->vclass, g->res,
					     g->res_len, g->json);
	case GK_LOSS:
		return archive_write_loss(ar, g->node, g->tai, g->to_tai,
					  g->count);
	case GK_NODE_STATE:
		return archive_write_node_state(ar, g->node, g->state, g->tai);
	case GK_WATERMARK:
		return archive_write_watermark(ar, g->tai);
	}
	return -1;
}

/* Would the archive keep this watermark (one per ms of TAI)? */
static inline bool gen_wm_kept(uint64_t *last, uint64_t tai)
{
	if (*last && tai < *last + 1000000)
		return false;
	*last = tai;
	return true;
}

static inline bool gen_int_equal(const Netrv__Field *f, uint64_t a, uint64_t b)
{
	unsigned int size =
		f->size == 1 || f->size == 2 || f->size == 4 ? f->size : 8;
	uint64_t mask = size == 8 ? ~0ull : (1ull << (size * 8)) - 1;

	return (a & mask) == (b & mask);
}

/*
 * Does @rec hold what the generator made?  Returns NULL or a description
 * of the first difference.
 */
static inline const char *gen_same(const struct gen *g,
				   const struct archive_record *rec)
{
	static const enum archive_rec_kind kinds[] = {
		[GK_EVENT] = AREC_EVENT,
		[GK_VERDICT] = AREC_VERDICT,
		[GK_LOSS] = AREC_LOSS,
		[GK_NODE_STATE] = AREC_NODE_STATE,
		[GK_WATERMARK] = AREC_WATERMARK,
	};
	const struct cevent *e = &g->ev, *r = &rec->ev;
	size_t i;

	if (rec->kind != kinds[g->kind])
		return "record kind";
	switch (g->kind) {
	case GK_EVENT: {
		const Netrv__ClockStatus *a = &e->node->clock,
					 *b = &r->node->clock;

		if (strcmp(e->node->name, r->node->name))
			return "node";
		if (e->seq != r->seq || e->index != r->index)
			return "seq/index";
		if (e->cpu != r->cpu || e->eps_ns != r->eps_ns)
			return "cpu/eps";
		if (e->tai_ns != r->tai_ns || e->trace_ns != r->trace_ns)
			return "tai/trace time";
		if (a->epsilon_ns != b->epsilon_ns ||
		    a->tai_offset_ns != b->tai_offset_ns ||
		    a->master_offset_ns != b->master_offset_ns ||
		    a->sample_age_ns != b->sample_age_ns ||
		    a->source != b->source || a->synced != b->synced ||
		    a->port_state != b->port_state ||
		    a->gm_identity.len != b->gm_identity.len ||
		    memcmp(a->gm_identity.data, b->gm_identity.data,
			   a->gm_identity.len))
			return "clock status";
		if (strcmp(e->type->system, r->type->system) ||
		    strcmp(e->type->name, r->type->name) ||
		    e->type->id != r->type->id ||
		    e->type->n_fields != r->type->n_fields)
			return "event type";
		for (i = 0; i < e->type->n_fields; i++) {
			const Netrv__Field *f = e->type->fields[i];

			if (strcmp(f->name, r->type->fields[i]->name) ||
			    f->kind != r->type->fields[i]->kind ||
			    f->size != r->type->fields[i]->size ||
			    f->is_signed != r->type->fields[i]->is_signed)
				return "field declaration";
			if (f->kind == NETRV__FIELD_KIND__FIELD_INT) {
				if (!gen_int_equal(f, e->vals[i].u,
						   r->vals[i].u))
					return "integer value";
				if (f->is_signed &&
				    e->vals[i].s != r->vals[i].s)
					return "sign extension";
			} else if (e->vals[i].len != r->vals[i].len ||
				   (e->vals[i].len &&
				    memcmp(e->vals[i].bytes, r->vals[i].bytes,
					   e->vals[i].len))) {
				return "bytes value";
			}
		}
		return NULL;
	}
	case GK_VERDICT:
		if (rec->tai_ns != g->tai || strcmp(rec->vclass, g->vclass) ||
		    strcmp(rec->json, g->json) ||
		    rec->resource_len != g->res_len ||
		    memcmp(rec->resource, g->res, g->res_len))
			return "verdict";
		return NULL;
	case GK_LOSS:
		if (strcmp(rec->node->name, g->node->name) ||
		    rec->tai_ns != g->tai || rec->to_tai != g->to_tai ||
		    rec->count != g->count)
			return "loss";
		return NULL;
	case GK_NODE_STATE:
		if (strcmp(rec->node->name, g->node->name) ||
		    rec->tai_ns != g->tai || rec->state != g->state)
			return "node state";
		return NULL;
	case GK_WATERMARK:
		return rec->tai_ns == g->tai ? NULL : "watermark";
	}
	return "?";
}

#endif
