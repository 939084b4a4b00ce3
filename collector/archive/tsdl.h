/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tsdl.h - text of the CTF 1.8 metadata (TSDL) of a netrv chunk.
 *
 * The metadata file is a sequence of blocks, each ended by
 * CTF_META_COMMIT: the preamble (trace, clock, netrv record stream), then
 * one block per node (its stream class) and per event class.  Blocks are
 * only ever appended, and each is written before any packet that uses it.
 * Comment lines "netrv-node" and "netrv-type" carry the exact node name and
 * the agent's EventType (protobuf, hex) for netrv's own reader.
 */
#ifndef NETRV_ARCHIVE_TSDL_H
#define NETRV_ARCHIVE_TSDL_H

#include <stddef.h>
#include <stdint.h>

#include "ctf.h"
#include "evpack.h"
#include "netrv.pb-c.h"

/** tsdl_store - how field @f is stored in a record */
enum ctf_store tsdl_store(const Netrv__Field *f);

/** tsdl_store_size - bytes of a fixed-size store, 0 for STR and BYTES */
unsigned int tsdl_store_size(enum ctf_store s);

/*
 * Each appends text to @b and returns 0, or -1 with errno ENOMEM.
 * Nothing here allocates except the growth of @b.
 */
int tsdl_preamble(struct bytebuf *b, const uint8_t uuid[16],
		  unsigned int chunk);
int tsdl_node(struct bytebuf *b, uint32_t index, const char *name);
int tsdl_type(struct bytebuf *b, uint32_t index, uint16_t event_id,
	      const Netrv__EventType *t, const uint8_t *packed, size_t len);

/** tsdl_hex_decode - decode @n hex digits at @s into @out; -1 if bad */
int tsdl_hex_decode(const char *s, size_t n, uint8_t *out);

#endif
