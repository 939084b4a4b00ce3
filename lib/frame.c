// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * frame.c - incremental frame decoder, see frame.h.
 *
 * The decoder is a two-state machine: gathering the header, then gathering
 * the payload.  Its buffer holds at most one frame and is reused, so a
 * steady stream costs no allocation after the first large frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

struct frame_decoder {
	uint32_t max_payload;
	enum frame_status error; /* sticky, FRAME_OK while healthy */
	uint8_t hdr[FRAME_HEADER_SIZE];
	size_t hdr_have;
	struct frame cur; /* type and len valid once the header is complete */
	uint8_t *buf;
	size_t buf_cap;
	size_t buf_have;
};

struct frame_decoder *frame_decoder_create(uint32_t max_payload)
{
	struct frame_decoder *dec;

	if (max_payload > FRAME_HARD_MAX) {
		errno = EINVAL;
		return NULL;
	}
	dec = calloc(1, sizeof(*dec));
	if (!dec)
		return NULL;
	dec->max_payload = max_payload;
	return dec;
}

void frame_decoder_destroy(struct frame_decoder *dec)
{
	if (!dec)
		return;
	free(dec->buf);
	free(dec);
}

void frame_header_put(uint8_t hdr[FRAME_HEADER_SIZE], enum frame_type type,
		      uint32_t len)
{
	hdr[0] = 'N';
	hdr[1] = 'R';
	hdr[2] = FRAME_VERSION;
	hdr[3] = (uint8_t)type;
	hdr[4] = len >> 24;
	hdr[5] = len >> 16;
	hdr[6] = len >> 8;
	hdr[7] = len;
}

/* Validate a complete header; fills dec->cur on success. */
static enum frame_status header_check(struct frame_decoder *dec,
				      const uint8_t *hdr)
{
	uint32_t len;

	if (hdr[0] != 'N' || hdr[1] != 'R')
		return FRAME_ERR_MAGIC;
	if (hdr[2] != FRAME_VERSION)
		return FRAME_ERR_VERSION;
	if (hdr[3] == 0 || hdr[3] >= FRAME_TYPE_MAX)
		return FRAME_ERR_TYPE;
	len = (uint32_t)hdr[4] << 24 | (uint32_t)hdr[5] << 16 |
	      (uint32_t)hdr[6] << 8 | hdr[7];
	if (len > dec->max_payload)
		return FRAME_ERR_OVERSIZE;
	dec->cur.type = hdr[3];
	dec->cur.len = len;
	return FRAME_OK;
}

static enum frame_status fail(struct frame_decoder *dec, enum frame_status st)
{
	dec->error = st;
	return st;
}

enum frame_status frame_decoder_feed(struct frame_decoder *dec,
				     const void *data, size_t len, size_t *used,
				     struct frame *out)
{
	const uint8_t *in = data;
	enum frame_status st;
	size_t n;

	*used = 0;
	if (dec->error)
		return dec->error;

	/* Fast path: a whole frame at a boundary is returned in place. */
	if (dec->hdr_have == 0 && len >= FRAME_HEADER_SIZE) {
		st = header_check(dec, in);
		if (st)
			return fail(dec, st);
		if (len - FRAME_HEADER_SIZE >= dec->cur.len) {
			*used = FRAME_HEADER_SIZE + dec->cur.len;
			*out = dec->cur;
			out->payload = in + FRAME_HEADER_SIZE;
			return FRAME_OK;
		}
	}

	if (dec->hdr_have < FRAME_HEADER_SIZE) {
		n = FRAME_HEADER_SIZE - dec->hdr_have;
		if (n > len)
			n = len;
		memcpy(dec->hdr + dec->hdr_have, in, n);
		dec->hdr_have += n;
		*used += n;
		if (dec->hdr_have < FRAME_HEADER_SIZE)
			return FRAME_NEED_MORE;
		st = header_check(dec, dec->hdr);
		if (st)
			return fail(dec, st);
		if (dec->cur.len > dec->buf_cap) {
			uint8_t *nb = realloc(dec->buf, dec->cur.len);

			if (!nb)
				return fail(dec, FRAME_ERR_NOMEM);
			dec->buf = nb;
			dec->buf_cap = dec->cur.len;
		}
		dec->buf_have = 0;
	}

	n = dec->cur.len - dec->buf_have;
	if (n > len - *used)
		n = len - *used;
	if (n)
		memcpy(dec->buf + dec->buf_have, in + *used, n);
	dec->buf_have += n;
	*used += n;
	if (dec->buf_have < dec->cur.len)
		return FRAME_NEED_MORE;

	*out = dec->cur;
	/* Never NULL, also for an empty payload before any allocation. */
	out->payload = dec->buf ? dec->buf : dec->hdr;
	dec->hdr_have = 0;
	return FRAME_OK;
}

enum frame_status frame_decoder_finish(const struct frame_decoder *dec)
{
	if (dec->error)
		return dec->error;
	return dec->hdr_have ? FRAME_ERR_TRUNCATED : FRAME_OK;
}

const char *frame_status_str(enum frame_status st)
{
	switch (st) {
	case FRAME_OK:
		return "ok";
	case FRAME_NEED_MORE:
		return "need more bytes";
	case FRAME_ERR_MAGIC:
		return "bad frame magic (not a netrv peer?)";
	case FRAME_ERR_VERSION:
		return "unsupported protocol version";
	case FRAME_ERR_TYPE:
		return "unknown frame type";
	case FRAME_ERR_OVERSIZE:
		return "frame larger than the agreed maximum";
	case FRAME_ERR_TRUNCATED:
		return "stream ended inside a frame";
	case FRAME_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown status";
}

const char *frame_type_str(enum frame_type type)
{
	static const char *const names[FRAME_TYPE_MAX] = {
		[FRAME_HELLO] = "hello",
		[FRAME_HELLO_ACK] = "hello-ack",
		[FRAME_SCHEMA] = "schema",
		[FRAME_BATCH] = "batch",
		[FRAME_HEARTBEAT] = "heartbeat",
		[FRAME_ACK] = "ack",
		[FRAME_GOODBYE] = "goodbye",
	};

	if (type <= 0 || type >= FRAME_TYPE_MAX)
		return "unknown";
	return names[type];
}
