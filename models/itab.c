// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * itab.c - the instance hash table: chained buckets that double when the
 * table holds more instances than buckets, and per-instance holder arrays.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "itab.h"

#define ITAB_MIN_BUCKETS 64

int da_itab_init(struct da_itab *t)
{
	t->buckets = calloc(ITAB_MIN_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets) {
		errno = ENOMEM;
		return -1;
	}
	t->mask = ITAB_MIN_BUCKETS - 1;
	t->count = 0;
	return 0;
}

static void inst_free(struct da_inst *i)
{
	free(i->holders);
	free(i);
}

void da_itab_release(struct da_itab *t)
{
	if (!t->buckets)
		return;
	for (size_t b = 0; b <= t->mask; b++) {
		struct da_inst *i = t->buckets[b], *n;

		for (; i; i = n) {
			n = i->next;
			inst_free(i);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
}

static void grow(struct da_itab *t)
{
	size_t nb = 2 * (t->mask + 1);
	struct da_inst **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t k = 0; k <= t->mask; k++) {
		struct da_inst *i = t->buckets[k], *n;

		for (; i; i = n) {
			n = i->next;
			i->next = b[i->hash & (nb - 1)];
			b[i->hash & (nb - 1)] = i;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->mask = nb - 1;
}

struct da_inst *da_itab_insert(struct da_itab *t, const uint8_t *key,
			       size_t len, uint32_t hash, uint32_t node)
{
	struct da_inst *i;

	if (len > DA_KEY_MAX) {
		errno = EINVAL;
		return NULL;
	}
	i = calloc(1, sizeof(*i) + len);
	if (!i) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(i->key, key, len);
	i->key_len = len;
	i->hash = hash;
	i->node = node;
	if (t->count >= t->mask + 1)
		grow(t);
	i->next = t->buckets[hash & t->mask];
	t->buckets[hash & t->mask] = i;
	t->count++;
	return i;
}

void da_itab_remove(struct da_itab *t, struct da_inst *i)
{
	struct da_inst **pp = &t->buckets[i->hash & t->mask];

	for (; *pp; pp = &(*pp)->next)
		if (*pp == i) {
			*pp = i->next;
			t->count--;
			inst_free(i);
			return;
		}
}

size_t da_inst_bytes(const struct da_inst *i)
{
	size_t n = malloc_usable_size((void *)i);

	if (i->holders)
		n += malloc_usable_size(i->holders);
	return n;
}

void da_itab_for_each(struct da_itab *t,
		      void (*fn)(struct da_itab *t, struct da_inst *i,
				 void *arg),
		      void *arg)
{
	for (size_t b = 0; b <= t->mask; b++) {
		struct da_inst *i = t->buckets[b], *n;

		for (; i; i = n) {
			n = i->next;
			fn(t, i, arg);
		}
	}
}

struct da_holder *da_inst_holder(struct da_inst *i, const uint64_t id[2],
				 bool create)
{
	struct da_holder *h;

	for (unsigned int k = 0; k < i->n_holders; k++)
		if (i->holders[k].id[0] == id[0] &&
		    i->holders[k].id[1] == id[1])
			return &i->holders[k];
	if (!create)
		return NULL;
	if (i->n_holders == i->cap_holders) {
		unsigned int cap = i->cap_holders ? 2 * i->cap_holders : 2;

		if (cap > UINT16_MAX)
			return NULL;
		h = realloc(i->holders, cap * sizeof(*h));
		if (!h)
			return NULL;
		i->holders = h;
		i->cap_holders = cap;
	}
	h = &i->holders[i->n_holders++];
	h->id[0] = id[0];
	h->id[1] = id[1];
	h->held = -1;
	h->pending = -1;
	return h;
}

void da_inst_drop_holder(struct da_inst *i, struct da_holder *h)
{
	unsigned int k = h - i->holders;

	i->holders[k] = i->holders[--i->n_holders];
	if (!i->n_holders) {
		free(i->holders);
		i->holders = NULL;
		i->cap_holders = 0;
	}
}
