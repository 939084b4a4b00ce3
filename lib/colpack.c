// SPDX-License-Identifier: GPL-2.0-or-later
/* colpack.c - see colpack.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "colpack.h"

/* One column: a field of an event type. */
struct col {
	struct bytebuf buf; /* encoding: its coded values */
	uint64_t u; /* previous integer */
	const uint8_t *p; /* encoding: previous string */
	size_t off; /* decoding: previous string's offset in the output */
	size_t len; /* previous string's length */
	struct evpack_reader rd; /* decoding: its coded values */
};

struct colpack {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	struct bytebuf plain;
	struct col *cols;
	size_t cap_cols;
	size_t *base; /* per type id: its first column */
	uint32_t *count; /* per type id: its events in the batch */
	size_t cap_types;
	const Netrv__EventType *const *types; /* of the batch being encoded */
	size_t n_types;
};

struct colpack *colpack_create(int level)
{
	struct colpack *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cctx = ZSTD_createCCtx();
	c->dctx = ZSTD_createDCtx();
	if (!c->cctx || !c->dctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(
		    c->cctx, ZSTD_c_compressionLevel, level))) {
		colpack_destroy(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void colpack_destroy(struct colpack *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	for (size_t i = 0; i < c->cap_cols; i++)
		bytebuf_release(&c->cols[i].buf);
	free(c->cols);
	free(c->base);
	free(c->count);
	bytebuf_release(&c->plain);
	free(c);
}

/* Size the per-type and per-column state for @types; reset it. */
static int setup(struct colpack *c, const Netrv__EventType *const *types,
		 size_t n_types)
{
	size_t n_cols = 0;

	if (n_types > c->cap_types) {
		size_t *nb = realloc(c->base, n_types * sizeof(*nb));
		uint32_t *nc;

		if (!nb)
			return -1;
		c->base = nb;
		nc = realloc(c->count, n_types * sizeof(*nc));
		if (!nc)
			return -1;
		c->count = nc;
		c->cap_types = n_types;
	}
	for (size_t t = 0; t < n_types; t++) {
		c->base[t] = n_cols;
		c->count[t] = 0;
		if (!types[t])
			continue;
		n_cols += types[t]->n_fields;
	}
	if (n_cols > c->cap_cols) {
		struct col *nc = realloc(c->cols, n_cols * sizeof(*nc));

		if (!nc)
			return -1;
		memset(nc + c->cap_cols, 0,
		       (n_cols - c->cap_cols) * sizeof(*nc));
		c->cols = nc;
		c->cap_cols = n_cols;
	}
	for (size_t i = 0; i < n_cols; i++) {
		c->cols[i].buf.len = 0;
		c->cols[i].u = 0;
		c->cols[i].p = NULL;
		c->cols[i].off = 0;
		c->cols[i].len = 0;
	}
	return 0;
}

/* evpack_put_u64 without a call per value (the encoder's inner loop) */
static inline int put_varint(struct bytebuf *b, uint64_t v)
{
	uint8_t *p;

	if (b->cap - b->len < 10 && bytebuf_reserve(b, 10))
		return -1;
	p = b->data + b->len;
	while (v >= 0x80) {
		*p++ = (uint8_t)v | 0x80;
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	b->len = (size_t)(p - b->data);
	return 0;
}

/* evpack_get_u64, inlined; the input was checked to end in a varint */
static inline int get_varint(struct evpack_reader *r, uint64_t *v)
{
	if (r->p < r->end && *r->p < 0x80) {
		*v = *r->p++;
		return 0;
	}
	return evpack_get_u64(r, v);
}

static uint64_t zigzag(uint64_t d)
{
	return (d << 1) ^ (uint64_t)((int64_t)d >> 63);
}

static uint64_t unzigzag(uint64_t z)
{
	return (z >> 1) ^ -(z & 1);
}

static int bad(void)
{
	errno = EBADMSG;
	return -1;
}

static int is_int(const Netrv__Field *f)
{
	return f->kind == NETRV__FIELD_KIND__FIELD_INT;
}

int colpack_begin(struct colpack *c, const Netrv__EventType *const *types,
		  size_t n_types)
{
	c->types = types;
	c->n_types = n_types;
	return setup(c, types, n_types);
}

int colpack_put_int(struct colpack *c, uint32_t type, uint32_t field,
		    uint64_t v)
{
	struct col *col = &c->cols[c->base[type] + field];

	if (put_varint(&col->buf, zigzag(v - col->u)))
		return -1;
	col->u = v;
	return 0;
}

/* How many leading bytes @a and @b share, at most @n: 8 at a time. */
static inline size_t common_prefix(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t p = 0;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; n - p >= 8; p += 8) {
		uint64_t x, y;

		memcpy(&x, a + p, 8);
		memcpy(&y, b + p, 8);
		if (x != y) /* the lowest differing bit is in the first byte */
			return p + (size_t)__builtin_ctzll(x ^ y) / 8;
	}
#endif
	while (p < n && a[p] == b[p])
		p++;
	return p;
}

int colpack_put_bytes(struct colpack *c, uint32_t type, uint32_t field,
		      const uint8_t *bytes, size_t len)
{
	struct col *col = &c->cols[c->base[type] + field];
	size_t p =
		common_prefix(bytes, col->p, len < col->len ? len : col->len);

	if (put_varint(&col->buf, p) || put_varint(&col->buf, len - p) ||
	    bytebuf_reserve(&col->buf, len - p))
		return -1;
	if (len > p)
		memcpy(col->buf.data + col->buf.len, bytes + p, len - p);
	col->buf.len += len - p;
	col->p = bytes;
	col->len = len;
	return 0;
}

int colpack_finish(struct colpack *c, size_t n, const uint64_t *delta,
		   const uint32_t *type, const uint32_t *cpu,
		   struct bytebuf *out)
{
	struct bytebuf *pl = &c->plain;
	size_t bound, zlen;

	pl->len = 0;
	if (put_varint(pl, n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (put_varint(pl, delta[i]))
			return -1;
	for (size_t t = 0; t < c->n_types; t++)
		c->count[t] = 0;
	for (size_t i = 0; i < n; i++) {
		if (type[i] >= c->n_types || !c->types[type[i]])
			return bad();
		c->count[type[i]]++;
		if (put_varint(pl, type[i]))
			return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (put_varint(pl, cpu[i]))
			return -1;
	for (size_t t = 0; t < c->n_types; t++) {
		if (!c->count[t])
			continue;
		for (size_t f = 0; f < c->types[t]->n_fields; f++) {
			const struct bytebuf *b = &c->cols[c->base[t] + f].buf;

			if (bytebuf_reserve(pl, b->len))
				return -1;
			if (b->len)
				memcpy(pl->data + pl->len, b->data, b->len);
			pl->len += b->len;
		}
	}
	bound = ZSTD_compressBound(pl->len);
	out->len = 0;
	if (bytebuf_reserve(out, bound))
		return -1;
	zlen = ZSTD_compress2(c->cctx, out->data, bound, pl->data, pl->len);
	if (ZSTD_isError(zlen)) {
		errno = ENOBUFS;
		return -1;
	}
	out->len = zlen;
	return 0;
}

int colpack_encode(struct colpack *c, const Netrv__EventType *const *types,
		   size_t n_types, size_t n, const uint64_t *delta,
		   const uint32_t *type, const uint32_t *cpu,
		   const uint8_t *fields, size_t fields_len,
		   struct bytebuf *out)
{
	struct evpack_reader rd = { fields, fields + fields_len };

	if (colpack_begin(c, types, n_types))
		return -1;
	for (size_t i = 0; i < n; i++) {
		const Netrv__EventType *et;

		if (type[i] >= n_types || !types[type[i]])
			return bad();
		et = types[type[i]];
		for (uint32_t f = 0; f < et->n_fields; f++) {
			const Netrv__Field *fd = et->fields[f];
			uint64_t v;
			int ret;

			if (get_varint(&rd, &v))
				return -1;
			if (is_int(fd)) {
				/* rows hold signed values zig-zagged */
				if (fd->is_signed)
					v = (v >> 1) ^ -(v & 1);
				ret = colpack_put_int(c, type[i], f, v);
			} else {
				if (v > (uint64_t)(rd.end - rd.p))
					return bad();
				ret = colpack_put_bytes(c, type[i], f, rd.p,
							(size_t)v);
				rd.p += v;
			}
			if (ret)
				return -1;
		}
	}
	if (rd.p != rd.end)
		return bad();
	return colpack_finish(c, n, delta, type, cpu, out);
}

/* Skip the @count values of column @f, checking they are well formed. */
static int skip_col(struct evpack_reader *rd, const Netrv__Field *f,
		    uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *p;
		uint64_t v;
		size_t len;

		if (evpack_get_u64(rd, &v))
			return -1;
		if (!is_int(f) && evpack_get_bytes(rd, &p, &len))
			return -1;
	}
	return 0;
}

/* Event @i's value of column @col (field @f) appended to @out as evpack. */
static int expand_value(struct col *col, const Netrv__Field *f,
			struct bytebuf *out)
{
	const uint8_t *suffix;
	uint64_t v, p;
	size_t sl, start;

	if (evpack_get_u64(&col->rd, &v))
		return -1;
	if (is_int(f)) {
		col->u += unzigzag(v);
		return f->is_signed ? evpack_put_s64(out, (int64_t)col->u) :
				      evpack_put_u64(out, col->u);
	}
	p = v;
	if (evpack_get_bytes(&col->rd, &suffix, &sl))
		return -1;
	if (p > col->len)
		return bad();
	if (bytebuf_reserve(out, 10 + p + sl) || evpack_put_u64(out, p + sl))
		return -1;
	start = out->len;
	/* the previous value lies before @start: no overlap */
	if (p)
		memcpy(out->data + start, out->data + col->off, p);
	if (sl)
		memcpy(out->data + start + p, suffix, sl);
	out->len = start + p + sl;
	col->off = start;
	col->len = p + sl;
	return 0;
}

static int fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "columns_zstd: %s", why);
	errno = EBADMSG;
	return -1;
}

int colpack_expand_batch(struct colpack *c, Netrv__Batch *b,
			 const Netrv__EventType *const *types, size_t n_types,
			 char *err, size_t errlen)
{
	unsigned long long fcs;
	struct evpack_reader rd;
	struct bytebuf out = { 0 };
	uint64_t *delta = NULL;
	uint32_t *type = NULL, *cpu = NULL;
	uint64_t n, v;
	size_t got;

	if (!b->columns_zstd.len)
		return 0;
	fcs = ZSTD_getFrameContentSize(b->columns_zstd.data,
				       b->columns_zstd.len);
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR ||
	    fcs > COLPACK_MAX_PLAIN)
		return fail(err, errlen, "not a zstd frame of a known size");
	c->plain.len = 0;
	if (bytebuf_reserve(&c->plain, fcs ? fcs : 1))
		return -1;
	got = ZSTD_decompressDCtx(c->dctx, c->plain.data, fcs,
				  b->columns_zstd.data, b->columns_zstd.len);
	if (ZSTD_isError(got) || got != fcs)
		return fail(err, errlen, "does not decompress");
	rd.p = c->plain.data;
	rd.end = c->plain.data + got;
	/* each event takes at least 3 bytes of columns */
	if (evpack_get_u64(&rd, &n) || n > got / 3)
		return fail(err, errlen, "bad event count");
	if (setup(c, types, n_types))
		return -1;
	if (n) {
		delta = malloc(n * sizeof(*delta));
		type = malloc(n * sizeof(*type));
		cpu = malloc(n * sizeof(*cpu));
		if (!delta || !type || !cpu)
			goto nomem;
	}
	for (size_t i = 0; i < n; i++)
		if (evpack_get_u64(&rd, &delta[i]))
			goto truncated;
	for (size_t i = 0; i < n; i++) {
		if (evpack_get_u64(&rd, &v))
			goto truncated;
		if (v >= n_types || !types[v]) {
			fail(err, errlen, "unknown event type");
			goto out_bad;
		}
		type[i] = (uint32_t)v;
		c->count[v]++;
	}
	for (size_t i = 0; i < n; i++) {
		if (evpack_get_u64(&rd, &v) || v > UINT32_MAX)
			goto truncated;
		cpu[i] = (uint32_t)v;
	}
	for (size_t t = 0; t < n_types; t++) {
		if (!c->count[t])
			continue;
		for (size_t f = 0; f < types[t]->n_fields; f++) {
			struct col *col = &c->cols[c->base[t] + f];

			col->rd.p = rd.p;
			if (skip_col(&rd, types[t]->fields[f], c->count[t]))
				goto truncated;
			col->rd.end = rd.p;
		}
	}
	if (rd.p != rd.end) {
		fail(err, errlen, "bytes left after the last column");
		goto out_bad;
	}
	for (size_t i = 0; i < n; i++) {
		const Netrv__EventType *et = types[type[i]];
		struct col *cols = &c->cols[c->base[type[i]]];

		for (size_t f = 0; f < et->n_fields; f++) {
			if (!expand_value(&cols[f], et->fields[f], &out))
				continue;
			if (errno == ENOMEM)
				goto nomem;
			fail(err, errlen,
			     "a string refers past its predecessor");
			goto out_bad;
		}
	}
	free(b->time_delta);
	free(b->event_type);
	free(b->cpu);
	free(b->fields.data);
	free(b->columns_zstd.data);
	b->time_delta = delta;
	b->event_type = type;
	b->cpu = cpu;
	b->n_time_delta = b->n_event_type = b->n_cpu = n;
	b->fields.data = out.data;
	b->fields.len = out.len;
	b->columns_zstd.data = NULL;
	b->columns_zstd.len = 0;
	return 0;
truncated:
	fail(err, errlen, "columns end early");
	goto out_bad;
nomem:
	snprintf(err, errlen, "columns_zstd: out of memory");
	errno = ENOMEM;
out_bad:
	free(delta);
	free(type);
	free(cpu);
	bytebuf_release(&out);
	return -1;
}
