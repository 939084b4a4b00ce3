/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctf.h - the binary layout of netrv's CTF 1.8 chunks, shared by the writer
 * (writer.c, tsdl.c) and the reader (reader.c).
 *
 * Every integer is little-endian and byte aligned, so records pack without
 * padding and can be copied with memcpy.  The TSDL in tsdl.c declares
 * exactly these layouts; change both together.
 *
 * Packet:  header (28 B)  magic u32, trace uuid[16], stream_id u32,
 *                         stream_instance_id u32
 *          context (40 B) timestamp_begin, timestamp_end, content_size
 *                         (bits), packet_size (bits), packet_seq_num: u64
 * Record:  header (10 B)  event id u16, timestamp u64 (clock "tai")
 *          node streams:  context (28 B) node u16 (enum of the node name),
 *                         tie u16, cpu u32, seq u64, index u32, eps u64
 *          netrv stream:  context (2 B) tie u16
 *          payload        fields in order: integers of their size, strings
 *                         and byte arrays as u32 length + bytes
 *
 * The timestamp is the merged time: max(record TAI, previous timestamp), so
 * that every stream is monotonic and readers that sort by time (babeltrace2)
 * see the merged order; "tie" counts records with the same timestamp so the
 * exact merged order is (timestamp, tie).  A node event whose TAI is below
 * its timestamp is preceded by a "netrv:late" record holding its TAI.
 */
#ifndef NETRV_ARCHIVE_CTF_H
#define NETRV_ARCHIVE_CTF_H

#include <stdint.h>
#include <string.h>

#define CTF_MAGIC 0xC1FC1FC1u
#define CTF_PKT_HEADER 28
#define CTF_PKT_CONTEXT 40
#define CTF_PKT_HDR (CTF_PKT_HEADER + CTF_PKT_CONTEXT)
#define CTF_EV_HEADER 10
#define CTF_NODE_CTX 28
#define CTF_NETRV_CTX 2
#define CTF_TIE_MAX 0xffffu

/* Stream classes: 0 is the netrv record stream, node N is N + 1. */
#define CTF_STREAM_NETRV 0u

/* Event classes of the netrv stream. */
enum ctf_netrv_event {
	CTF_EV_VERDICT,
	CTF_EV_CLOCK_VIOLATION,
	CTF_EV_NODE_STATE,
	CTF_EV_LOSS,
	CTF_EV_WATERMARK,
	CTF_EV_NETRV_MAX,
};

/* Fixed event classes of every node stream; schema types follow. */
enum ctf_node_event {
	CTF_EV_CLOCK, /* the node's clock status from here on */
	CTF_EV_LATE, /* the next event's real TAI (it is below its stamp) */
	CTF_EV_FIRST_TYPE,
};

/* The TAI clock's UUID is the same in every chunk, so chunks mux. */
#define CTF_CLOCK_UUID "6e657472-762d-5441-492d-636c6f636b31"

/* Lines of the metadata file that readers of netrv archives parse. */
#define CTF_META_COMMIT "/* netrv-commit */\n"
#define CTF_META_NODE "/* netrv-node" /* stream index hexname */
#define CTF_META_TYPE "/* netrv-type" /* stream event-id hexproto */

/* Field storage of a schema field in the payload. */
enum ctf_store {
	CTF_U8,
	CTF_U16,
	CTF_U32,
	CTF_U64,
	CTF_S8,
	CTF_S16,
	CTF_S32,
	CTF_S64,
	CTF_STR, /* u32 length + UTF-8 bytes */
	CTF_BYTES, /* u32 length + bytes */
};

static inline void ctf_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static inline void ctf_put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void ctf_put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline uint16_t ctf_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t ctf_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t ctf_get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "netrv archives are little-endian; add byte swapping for this host"
#endif

#endif
