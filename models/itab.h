/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * itab.h - monitor instances by key: a hash table of struct da_inst.
 *
 * Every instance kind is a key: global has the empty key, per node the
 * node, per CPU (node, cpu), per task (node, pid), per object whatever
 * fields the binding names.  Keys are bytes built by the caller (models/
 * monitor.c); the table hashes and compares them.  Instances are allocated
 * when first used and freed when the caller removes them, so memory follows
 * the number of live objects.
 */
#ifndef NETRV_ITAB_H
#define NETRV_ITAB_H

#include <stddef.h>
#include <stdint.h>

#include "da.h"

#define DA_NO_NODE UINT32_MAX
#define DA_KEY_MAX 256

/*
 * A holder of an object (e.g. a lock of one node on a DLM resource): the
 * holder id is up to two integer fields; @held is the class it holds (a
 * mode), -1 if none; @pending the class it asked for, -1 if none.
 */
struct da_holder {
	uint64_t id[2];
	int8_t held;
	int8_t pending;
};

struct da_inst {
	struct da_inst *next; /* hash chain */
	struct da_holder *holders; /* [cap_holders], NULL if none yet */
	uint32_t hash;
	uint32_t node; /* node index in the key, DA_NO_NODE if none */
	struct da_mon mon;
	uint16_t key_len;
	uint16_t n_holders;
	uint16_t cap_holders;
	uint8_t key[]; /* key_len bytes */
};

struct da_itab {
	struct da_inst **buckets;
	size_t mask; /* buckets - 1, a power of two minus one */
	size_t count;
};

/** da_itab_init - an empty table; -1 with errno ENOMEM */
int da_itab_init(struct da_itab *t);

/** da_itab_release - free every instance and the buckets */
void da_itab_release(struct da_itab *t);

/** da_key_hash - hash of a key (64-bit words mixed, then folded) */
static inline uint32_t da_key_hash(const uint8_t *key, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		__builtin_memcpy(&w, key + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
	}
	if (i < len) {
		uint64_t w = 0;

		__builtin_memcpy(&w, key + i, len - i);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
	}
	h ^= h >> 29;
	return (uint32_t)(h ^ (h >> 32));
}

/** da_itab_lookup - the instance with this key, or NULL */
static inline struct da_inst *da_itab_lookup(const struct da_itab *t,
					     const uint8_t *key, size_t len,
					     uint32_t hash)
{
	struct da_inst *i = t->buckets[hash & t->mask];

	for (; i; i = i->next)
		if (i->hash == hash && i->key_len == len &&
		    !__builtin_memcmp(i->key, key, len))
			return i;
	return NULL;
}

/**
 * da_itab_insert - add a new instance (not monitoring, initial state 0)
 *
 * The caller made sure the key is not present.  Return: the instance,
 * owned by the table, or NULL with errno ENOMEM.
 */
struct da_inst *da_itab_insert(struct da_itab *t, const uint8_t *key,
			       size_t len, uint32_t hash, uint32_t node);

/** da_itab_remove - unlink and free @i */
void da_itab_remove(struct da_itab *t, struct da_inst *i);

/** da_inst_bytes - heap bytes one instance takes (allocator's view) */
size_t da_inst_bytes(const struct da_inst *i);

/**
 * da_itab_for_each - call @fn on every instance; @fn may remove the one it
 * is given (and only that one)
 */
void da_itab_for_each(struct da_itab *t,
		      void (*fn)(struct da_itab *t, struct da_inst *i,
				 void *arg),
		      void *arg);

/** da_inst_holder - holder with @id, NULL if none; @create adds one */
struct da_holder *da_inst_holder(struct da_inst *i, const uint64_t id[2],
				 bool create);

/** da_inst_drop_holder - remove holder @h of @i */
void da_inst_drop_holder(struct da_inst *i, struct da_holder *h);

#endif
