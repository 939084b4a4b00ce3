// SPDX-License-Identifier: GPL-2.0-or-later
/* evpack.c - see evpack.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evpack.h"

int bytebuf_reserve(struct bytebuf *b, size_t more)
{
	size_t want = b->len + more;
	size_t cap = b->cap ? b->cap : 256;
	uint8_t *nd;

	if (want <= b->cap)
		return 0;
	while (cap < want)
		cap *= 2;
	nd = realloc(b->data, cap);
	if (!nd)
		return -1;
	b->data = nd;
	b->cap = cap;
	return 0;
}

void bytebuf_release(struct bytebuf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

int evpack_put_u64(struct bytebuf *b, uint64_t v)
{
	if (bytebuf_reserve(b, 10))
		return -1;
	while (v >= 0x80) {
		b->data[b->len++] = (uint8_t)v | 0x80;
		v >>= 7;
	}
	b->data[b->len++] = (uint8_t)v;
	return 0;
}

int evpack_put_s64(struct bytebuf *b, int64_t v)
{
	return evpack_put_u64(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int evpack_put_bytes(struct bytebuf *b, const void *p, size_t len)
{
	if (evpack_put_u64(b, len) || bytebuf_reserve(b, len))
		return -1;
	if (len)
		memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

static int bad(void)
{
	errno = EBADMSG;
	return -1;
}

int evpack_get_u64(struct evpack_reader *r, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned int shift = 0; shift < 64; shift += 7) {
		uint8_t c;

		if (r->p >= r->end)
			return bad();
		c = *r->p++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return bad();
}

int evpack_get_s64(struct evpack_reader *r, int64_t *v)
{
	uint64_t z;

	if (evpack_get_u64(r, &z))
		return -1;
	*v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	return 0;
}

int evpack_get_bytes(struct evpack_reader *r, const uint8_t **p, size_t *len)
{
	uint64_t n;

	if (evpack_get_u64(r, &n))
		return -1;
	if (n > (uint64_t)(r->end - r->p))
		return bad();
	*p = r->p;
	*len = n;
	r->p += n;
	return 0;
}

int evpack_decode(struct evpack_reader *r, const Netrv__EventType *t,
		  struct evpack_value *vals)
{
	for (size_t i = 0; i < t->n_fields; i++) {
		const Netrv__Field *f = t->fields[i];
		struct evpack_value *v = &vals[i];
		int ret;

		v->bytes = NULL;
		v->len = 0;
		if (f->kind == NETRV__FIELD_KIND__FIELD_INT)
			ret = f->is_signed ? evpack_get_s64(r, &v->s) :
					     evpack_get_u64(r, &v->u);
		else
			ret = evpack_get_bytes(r, &v->bytes, &v->len);
		if (ret)
			return -1;
	}
	return 0;
}

int evpack_field_index(const Netrv__EventType *t, const char *name)
{
	for (size_t i = 0; i < t->n_fields; i++)
		if (!strcmp(t->fields[i]->name, name))
			return (int)i;
	return -1;
}
