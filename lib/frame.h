/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * frame.h - the byte framing of the agent <-> collector stream.
 *
 * A frame is an 8-byte header followed by a payload:
 *
 *   0      2         3      4                 8
 *   +------+---------+------+-----------------+-------------------+
 *   | "NR" | version | type | length (BE u32) | payload (length)  |
 *   +------+---------+------+-----------------+-------------------+
 *
 * The payload is the protobuf encoding of the message named by the type
 * (proto/netrv.proto).  The decoder checks magic, version, type and the
 * length against its maximum before it allocates anything, and accepts the
 * stream split at any byte.
 */
#ifndef NETRV_FRAME_H
#define NETRV_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_SIZE 8
#define FRAME_VERSION 1
/* Default and hard ceiling of a payload; peers may agree on less. */
#define FRAME_DEFAULT_MAX (4u << 20)
#define FRAME_HARD_MAX (64u << 20)

enum frame_type {
	FRAME_HELLO = 1,
	FRAME_HELLO_ACK,
	FRAME_SCHEMA,
	FRAME_BATCH,
	FRAME_HEARTBEAT,
	FRAME_ACK,
	FRAME_GOODBYE,
	FRAME_TYPE_MAX
};

enum frame_status {
	FRAME_OK = 0, /* a whole frame is in *out */
	FRAME_NEED_MORE, /* all input used, no frame complete yet */
	FRAME_ERR_MAGIC, /* the stream is not netrv frames */
	FRAME_ERR_VERSION, /* a protocol version this side does not speak */
	FRAME_ERR_TYPE, /* unknown frame type */
	FRAME_ERR_OVERSIZE, /* length above the decoder's maximum */
	FRAME_ERR_TRUNCATED, /* the stream ended inside a frame */
	FRAME_ERR_NOMEM,
};

struct frame {
	enum frame_type type;
	uint32_t len;
	const uint8_t *payload; /* valid until the next frame_decoder_feed() */
};

struct frame_decoder;

/**
 * frame_decoder_create - a decoder for one byte stream
 * @max_payload: largest payload accepted, at most FRAME_HARD_MAX
 *
 * Return: a decoder to free with frame_decoder_destroy(), or NULL with errno.
 */
struct frame_decoder *frame_decoder_create(uint32_t max_payload);
void frame_decoder_destroy(struct frame_decoder *dec);

/**
 * frame_decoder_feed - consume bytes until one frame completes
 * @dec: the decoder
 * @buf: next bytes of the stream
 * @len: how many
 * @used: set to the number of bytes consumed (always, also on error)
 * @out: the frame, on FRAME_OK
 *
 * Call again with the rest of @buf after FRAME_OK.  A frame that arrives
 * whole is returned pointing into @buf without a copy; a split one is
 * gathered in a buffer that grows only to the announced, checked length.
 * An error is final: the stream cannot be resynchronised.
 */
enum frame_status frame_decoder_feed(struct frame_decoder *dec, const void *buf,
				     size_t len, size_t *used,
				     struct frame *out);

/**
 * frame_decoder_finish - the stream ended; was that at a frame boundary?
 *
 * Return: FRAME_OK, FRAME_ERR_TRUNCATED, or the decoder's earlier error.
 */
enum frame_status frame_decoder_finish(const struct frame_decoder *dec);

/** frame_header_put - write the header of a frame of @type with @len bytes */
void frame_header_put(uint8_t hdr[FRAME_HEADER_SIZE], enum frame_type type,
		      uint32_t len);

/** frame_status_str - a short, constant description of @st */
const char *frame_status_str(enum frame_status st);

/** frame_type_str - "hello", "batch", ... or "unknown" */
const char *frame_type_str(enum frame_type type);

#endif
