// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * subbuf.c - a parser of the kernel's ring-buffer sub-buffer format.
 *
 * The agent's hot path: every record of every sub-buffer passes here.  It
 * reads what kbuffer (libtraceevent) reads, with the same results (the
 * unit test compares them record by record), but without the indirect
 * calls per word and with every access bounded by the bytes handed in.
 * Only the host's own format: 64-bit little-endian kernels, as on x86-64.
 *
 * A sub-buffer is (kernel/trace/ring_buffer.c, struct buffer_data_page):
 *	u64  time_stamp		stamp of the first record
 *	long commit		data bytes; bit 31: events were lost before
 *				this sub-buffer, bit 30: their count is
 *				stored as a long right after the data
 *	data			records, each a u32 header: type_len in the
 *				low 5 bits, time_delta in the high 27
 * type_len 0: length in array[0] (including array[0]), data after it;
 * 1..28: data of type_len * 4 bytes; 29 padding or a discarded record
 * (length in array[0]); 30 time extend (delta = array[0] << 27 | delta);
 * 31 absolute time stamp (the same composition; its top 5 bits are taken
 * from the running stamp, as kbuffer does).
 */
#include <errno.h>
#include <string.h>

#include "agent.h"

/* kbuffer also reads big-endian and 32-bit kernels' buffers; this does not */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "subbuf.c parses little-endian sub-buffers only");
_Static_assert(sizeof(long) == 8, "subbuf.c parses 64-bit kernels' headers");

#define SB_HDR 16u
#define SB_MISSED (1ULL << 31)
#define SB_MISSED_STORED (1ULL << 30)
#define SB_COMMIT_MASK ((1u << 27) - 1)
#define SB_TS_SHIFT 27
#define SB_TS_MSB (0xf8ULL << 56)

enum {
	SB_TYPE_DATA_MAX = 28,
	SB_TYPE_PADDING = 29,
	SB_TYPE_TIME_EXTEND = 30,
	SB_TYPE_TIME_STAMP = 31,
};

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int subbuf_load(struct subbuf_iter *it, const void *page, size_t len)
{
	const uint8_t *p = page;
	uint64_t commit;
	uint32_t size;

	if (len < SB_HDR) {
		errno = EPROTO;
		return -1;
	}
	commit = get64(p + 8);
	size = (uint32_t)commit & SB_COMMIT_MASK;
	if (size > len - SB_HDR) {
		errno = EPROTO;
		return -1;
	}
	it->data = p + SB_HDR;
	it->size = size;
	it->next = 0;
	it->ts = get64(p);
	it->truncated = false;
	if (!(commit & SB_MISSED))
		it->missed = 0;
	else if (!(commit & SB_MISSED_STORED))
		it->missed = -1;
	else if ((size_t)size + 8 <= len - SB_HDR)
		it->missed = (int64_t)get64(it->data + size);
	else
		it->missed = -1; /* no room for the count: unknown */
	return 0;
}

bool subbuf_next(struct subbuf_iter *it, struct subbuf_rec *r)
{
	const uint8_t *d = it->data;
	uint32_t size = it->size;

	while (it->next < size) {
		uint32_t off = it->next, hdr, type, len;
		uint64_t delta, end;

		if (size - off < 4)
			goto truncated;
		hdr = get32(d + off);
		type = hdr & 31;
		delta = hdr >> 5;
		if (type >= 1 && type <= SB_TYPE_DATA_MAX) {
			len = type * 4;
			end = (uint64_t)off + 4 + len;
			if (end > size)
				goto truncated;
			it->ts += delta;
			it->next = (uint32_t)end;
			r->off = off;
			r->ts = it->ts;
			r->data = d + off + 4;
			r->len = len;
			return true;
		}
		if (type == SB_TYPE_PADDING) {
			/* end-of-page padding may have no room for array[0] */
			if (size - off < 8) {
				it->next = size;
				break;
			}
			it->ts += delta;
			end = (uint64_t)off + 4 + get32(d + off + 4);
			it->next = end < size ? (uint32_t)end : size;
			continue;
		}
		if (size - off < 8)
			goto truncated;
		if (type == 0) {
			uint32_t a = get32(d + off + 4);

			if (!a) /* kbuffer would step back: malformed */
				goto truncated;
			len = a < 4 ? 0 : ((a - 4 + 3) & ~3u);
			end = (uint64_t)off + 8 + len;
			if (end > size)
				goto truncated;
			it->ts += delta;
			it->next = (uint32_t)end;
			r->off = off;
			r->ts = it->ts;
			r->data = d + off + 8;
			r->len = len;
			return true;
		}
		delta |= (uint64_t)get32(d + off + 4) << SB_TS_SHIFT;
		if (type == SB_TYPE_TIME_STAMP)
			it->ts = delta | (it->ts & SB_TS_MSB);
		else
			it->ts += delta;
		it->next = off + 8;
	}
	return false;
truncated:
	/* stay at the bad record: @next says where the sub-buffer broke */
	it->truncated = true;
	it->size = it->next;
	return false;
}
