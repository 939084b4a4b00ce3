/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loadgen_event.h - the synthetic event of netrv-loadgen, shared with the
 * tests that check what the collector delivered.
 *
 * Event k of node N has fields k, h = loadgen_hash(N, k),
 * mode = loadgen_mode(k) and name = "res-<k % 1000>".
 */
#ifndef NETRV_LOADGEN_EVENT_H
#define NETRV_LOADGEN_EVENT_H

#include <stdint.h>

#define LOADGEN_SYSTEM "netrv"
#define LOADGEN_EVENT "load"
#define LOADGEN_SCHEMA_ID 0x6c6f616467656e01ull

/* FNV-1a over the node name, then mixed with k (splitmix64 finaliser). */
static inline uint64_t loadgen_hash(const char *node, uint64_t k)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *node; node++)
		h = (h ^ (uint8_t)*node) * 0x100000001b3ull;
	h ^= k + 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static inline int64_t loadgen_mode(uint64_t k)
{
	return (int64_t)(k % 6) - 1;
}

#endif
