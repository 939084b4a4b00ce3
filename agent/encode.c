// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * encode.c - Batch messages from merged records.
 *
 * Column-wise: time deltas, types and CPUs are repeated varints, field
 * values are packed per type with evpack (lib/evpack.h), so a batch costs
 * a few allocations of reused buffers and none per event.  A batch's
 * watermark is its last event's time, except the drain's last batch, which
 * carries the drain's watermark.  When the collector accepts it, the whole
 * batch goes in column form with zstd into columns_zstd (lib/colpack.h):
 * field values repeat a lot (lockspaces, resource names, pids) and ids
 * count up.  Else, if it accepts that, the packed fields are compressed
 * with zlib (level 1) into fields_deflate.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LOG_SUBSYS "encode"
#include "agent.h"
#include "colpack.h"
#include "log.h"
#include "msg.h"

struct encoder {
	const struct schema *schema;
	uint32_t max;
	uint32_t max_payload; /* the collector's HelloAck.max_frame */
	uint64_t *deltas;
	uint32_t *types, *cpus;
	struct bytebuf fields;
	size_t *lens;
	struct spool_info *infos;
	size_t cap_batches;
	uint64_t bad_records;
	bool deflate, columns;
	struct colpack *cp;
	bool zs_ready;
	z_stream zs; /* kept: deflateInit per batch costs more than the data */
	struct bytebuf z;
};

/*
 * zstd level of the column form: -1 (zstd's fast mode) costs about 2/3 of
 * level 1 per batch here and makes batches ~6% bigger.
 */
#define COLUMNS_LEVEL (-1)

int encoder_set_codec(struct encoder *e, bool deflate, bool columns)
{
	e->deflate = deflate;
	e->columns = false;
	if (columns && !e->cp)
		e->cp = colpack_create(COLUMNS_LEVEL);
	if (columns && !e->cp)
		return -1;
	e->columns = columns;
	return 0;
}

void encoder_set_max_frame(struct encoder *e, uint32_t max_payload)
{
	if (!max_payload || max_payload > FRAME_HARD_MAX)
		max_payload = FRAME_DEFAULT_MAX;
	e->max_payload = max_payload;
}

/*
 * Bytes a batch's events may take, by the estimate of batch_cost(): half
 * the frame maximum, less room for the losses, clock and header fields.
 * Compression can grow incompressible data by a little, never twice.
 */
static size_t batch_budget(const struct encoder *e, size_t n_losses)
{
	size_t fixed = 1024 + n_losses * 64;
	size_t half = e->max_payload / 2;

	return half > fixed ? half - fixed : 0;
}

/*
 * An upper bound of what one record adds to the plain form: a time delta,
 * type and CPU (at most 20 bytes of varints) and its fields, each packed
 * into at most twice its size in the record (an N-byte integer into a
 * varint of at most 2N bytes, a string or bytes into a length prefix of
 * at most 5 bytes plus the bytes, which its 4-byte __data_loc or its
 * array in the record pays for).
 */
static size_t batch_cost(const struct trace_rec *r)
{
	return 2 * (size_t)r->len + 32;
}

/* Events of the batch starting at @recs: at most e->max, within budget. */
static size_t batch_count(const struct encoder *e, const struct trace_rec *recs,
			  size_t n, size_t budget)
{
	size_t cnt = 0, bytes = 0;

	while (cnt < n && cnt < e->max) {
		size_t c = batch_cost(&recs[cnt]);

		if (cnt && bytes + c > budget)
			break;
		bytes += c;
		cnt++;
	}
	return cnt;
}

static int grow_batches(struct encoder *e, size_t n)
{
	size_t *nl;
	struct spool_info *ni;
	size_t cap = e->cap_batches ? e->cap_batches : 4;

	if (n <= e->cap_batches)
		return 0;
	while (cap < n)
		cap *= 2;
	nl = realloc(e->lens, cap * sizeof(*nl));
	if (!nl)
		return -1;
	e->lens = nl;
	ni = realloc(e->infos, cap * sizeof(*ni));
	if (!ni)
		return -1;
	e->infos = ni;
	e->cap_batches = cap;
	return 0;
}

static const Netrv__EventType *const *schema_types(const struct schema *s)
{
	return (const Netrv__EventType *const *)s->pb.types;
}

static int deflate_fields(struct encoder *e)
{
	uLong bound;

	if (!e->zs_ready) {
		/*
		 * Level 1, a 16 KB window and small hash tables: a batch
		 * of a 5 ms drain is a few KB, and deflateReset clears the
		 * hash tables for every batch.
		 */
		if (deflateInit2(&e->zs, 1, Z_DEFLATED, 14, 5,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
			errno = ENOMEM;
			return -1;
		}
		e->zs_ready = true;
	} else if (deflateReset(&e->zs) != Z_OK) {
		errno = EINVAL;
		return -1;
	}
	bound = deflateBound(&e->zs, e->fields.len);
	e->z.len = 0;
	if (bytebuf_reserve(&e->z, bound))
		return -1;
	e->zs.next_in = e->fields.data;
	e->zs.avail_in = (uInt)e->fields.len;
	e->zs.next_out = e->z.data;
	e->zs.avail_out = (uInt)bound;
	if (deflate(&e->zs, Z_FINISH) != Z_STREAM_END) {
		errno = ENOBUFS;
		return -1;
	}
	e->z.len = bound - e->zs.avail_out;
	return 0;
}

int encoder_inflate_frame(const struct schema *s, const uint8_t *in, size_t len,
			  struct bytebuf *out)
{
	Netrv__Batch *b;
	struct bytebuf plain = { 0 };
	uLongf plen;
	long n;
	int ret = -1;

	if (len < FRAME_HEADER_SIZE || in[3] != FRAME_BATCH)
		goto bad;
	b = netrv__batch__unpack(NULL, len - FRAME_HEADER_SIZE,
				 in + FRAME_HEADER_SIZE);
	if (!b)
		goto bad;
	if (b->columns_zstd.len) {
		struct colpack *cp = colpack_create(COLUMNS_LEVEL);
		char err[128];

		if (!cp)
			goto out;
		ret = colpack_expand_batch(cp, b, schema_types(s),
					   s->pb.n_types, err, sizeof(err));
		colpack_destroy(cp);
		if (ret)
			goto out;
		ret = -1;
		goto pack;
	}
	for (size_t cap = 4 * b->fields_deflate.len + 256;; cap *= 2) {
		int zr;

		plain.len = 0;
		if (cap > FRAME_HARD_MAX || bytebuf_reserve(&plain, cap))
			goto out;
		plen = plain.cap;
		zr = uncompress(plain.data, &plen, b->fields_deflate.data,
				b->fields_deflate.len);
		if (zr == Z_OK)
			break;
		if (zr != Z_BUF_ERROR) {
			errno = EBADMSG;
			goto out;
		}
	}
	free(b->fields.data);
	b->fields.data = plain.data;
	b->fields.len = plen;
	plain.data = NULL; /* b owns it now */
	b->fields_deflate.len = 0;
pack:
	out->len = 0;
	if (bytebuf_reserve(out, msg_frame_size(&b->base)))
		goto out;
	n = msg_pack(FRAME_BATCH, &b->base, out->data, out->cap);
	if (n < 0)
		goto out;
	out->len = (size_t)n;
	ret = 0;
out:
	protobuf_c_message_free_unpacked(&b->base, NULL);
	bytebuf_release(&plain);
	return ret;
bad:
	errno = EBADMSG;
	return -1;
}

struct encoder *encoder_create(const struct schema *schema,
			       uint32_t batch_events)
{
	struct encoder *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->schema = schema;
	e->max = batch_events;
	e->max_payload = FRAME_DEFAULT_MAX;
	e->deltas = calloc(batch_events, sizeof(*e->deltas));
	e->types = calloc(batch_events, sizeof(*e->types));
	e->cpus = calloc(batch_events, sizeof(*e->cpus));
	if (!e->deltas || !e->types || !e->cpus) {
		encoder_destroy(e);
		return NULL;
	}
	return e;
}

void encoder_destroy(struct encoder *e)
{
	if (!e)
		return;
	free(e->deltas);
	free(e->types);
	free(e->cpus);
	free(e->lens);
	free(e->infos);
	bytebuf_release(&e->fields);
	bytebuf_release(&e->z);
	colpack_destroy(e->cp);
	if (e->zs_ready)
		deflateEnd(&e->zs);
	free(e);
}

int encoder_run(struct encoder *e, const struct trace *t,
		const struct trace_rec *recs, size_t n, uint64_t wm,
		Netrv__LossReport **losses, size_t n_losses,
		Netrv__ClockStatus *clock, uint64_t first_seq,
		struct bytebuf *frames, const size_t **lens,
		const struct spool_info **infos)
{
	size_t n_batches = 0, done = 0;

	frames->len = 0;
	/* A drain without events but with losses still makes one batch. */
	while (done < n || (!n && n_losses && !n_batches)) {
		size_t b = n_batches;
		size_t cnt = batch_count(e, recs + done, n - done,
					 batch_budget(e, b ? 0 : n_losses));
		bool last = done + cnt == n;
		Netrv__Batch batch = NETRV__BATCH__INIT;
		uint64_t prev;
		long len;

		if (grow_batches(e, b + 1))
			return -1;
		n_batches++;
		e->fields.len = 0;
		if (e->columns && cnt &&
		    colpack_begin(e->cp, schema_types(e->schema),
				  e->schema->pb.n_types))
			return -1;
		batch.seq = first_seq + b;
		batch.schema_id = e->schema->id;
		batch.base_ns = cnt ? recs[done].ts : wm;
		prev = batch.base_ns;
		for (size_t i = 0; i < cnt; i++) {
			const struct trace_rec *r = &recs[done + i];

			e->deltas[i] = r->ts - prev;
			prev = r->ts;
			e->types[i] = r->type;
			e->cpus[i] = r->cpu;
			if ((e->columns ? schema_pack_columns(
						  &e->schema->types[r->type],
						  trace_rec_data(t, r), r->len,
						  e->cp) :
					  schema_pack_event(
						  &e->schema->types[r->type],
						  trace_rec_data(t, r), r->len,
						  &e->fields))) {
				if (errno != EBADMSG)
					return -1;
				if (!e->bad_records++)
					pr_warning(
						"record shorter than its format (cpu%u); its missing fields are sent empty",
						r->cpu);
			}
		}
		e->infos[b].flags = 0;
		if (e->columns && cnt) {
			if (colpack_finish(e->cp, cnt, e->deltas, e->types,
					   e->cpus, &e->z))
				return -1;
			batch.columns_zstd.data = e->z.data;
			batch.columns_zstd.len = e->z.len;
			e->infos[b].flags = SPOOL_COLUMNS;
			goto packed;
		}
		batch.n_time_delta = cnt;
		batch.time_delta = e->deltas;
		batch.n_event_type = cnt;
		batch.event_type = e->types;
		batch.n_cpu = cnt;
		batch.cpu = e->cpus;
		if (e->deflate && e->fields.len) {
			if (deflate_fields(e))
				return -1;
			batch.fields_deflate.data = e->z.data;
			batch.fields_deflate.len = e->z.len;
			e->infos[b].flags = SPOOL_DEFLATED;
		} else {
			batch.fields.data = e->fields.data;
			batch.fields.len = e->fields.len;
		}
packed:
		batch.watermark_ns = last ? wm : prev;
		if (batch.watermark_ns < prev)
			batch.watermark_ns = prev;
		batch.clock = clock;
		if (b == 0) {
			batch.losses = losses;
			batch.n_losses = n_losses;
		}
		if (bytebuf_reserve(frames, msg_frame_size(&batch.base)))
			return -1;
		len = msg_pack(FRAME_BATCH, &batch.base,
			       frames->data + frames->len,
			       frames->cap - frames->len);
		if (len < 0)
			return -1;
		if ((size_t)len - FRAME_HEADER_SIZE > e->max_payload)
			pr_warning(
				"batch %llu of %zu events is %ld bytes, above the collector's max_frame %u: it will be refused (raise collector.max_frame)",
				(unsigned long long)batch.seq, cnt, len,
				e->max_payload);
		frames->len += (size_t)len;
		e->lens[b] = (size_t)len;
		e->infos[b].seq = batch.seq;
		e->infos[b].n_events = (uint32_t)cnt;
		e->infos[b].first_ns = batch.base_ns;
		e->infos[b].last_ns = prev;
		done += cnt;
	}
	*lens = e->lens;
	*infos = e->infos;
	return (int)n_batches;
}
