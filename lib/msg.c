// SPDX-License-Identifier: GPL-2.0-or-later
/* msg.c - see msg.h. */
#include <errno.h>

#include "msg.h"

const ProtobufCMessageDescriptor *msg_descriptor(enum frame_type type)
{
	switch (type) {
	case FRAME_HELLO:
		return &netrv__hello__descriptor;
	case FRAME_HELLO_ACK:
		return &netrv__hello_ack__descriptor;
	case FRAME_SCHEMA:
		return &netrv__schema__descriptor;
	case FRAME_BATCH:
		return &netrv__batch__descriptor;
	case FRAME_HEARTBEAT:
		return &netrv__heartbeat__descriptor;
	case FRAME_ACK:
		return &netrv__ack__descriptor;
	case FRAME_GOODBYE:
		return &netrv__goodbye__descriptor;
	case FRAME_TYPE_MAX:
		break;
	}
	return NULL;
}

size_t msg_frame_size(const ProtobufCMessage *msg)
{
	return FRAME_HEADER_SIZE + protobuf_c_message_get_packed_size(msg);
}

long msg_pack(enum frame_type type, const ProtobufCMessage *msg, uint8_t *buf,
	      size_t cap)
{
	size_t len;

	if (msg_descriptor(type) != msg->descriptor) {
		errno = EINVAL;
		return -1;
	}
	len = protobuf_c_message_get_packed_size(msg);
	if (len > FRAME_HARD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (cap < FRAME_HEADER_SIZE + len) {
		errno = ENOBUFS;
		return -1;
	}
	frame_header_put(buf, type, (uint32_t)len);
	protobuf_c_message_pack(msg, buf + FRAME_HEADER_SIZE);
	return (long)(FRAME_HEADER_SIZE + len);
}

ProtobufCMessage *msg_unpack(const struct frame *frame,
			     ProtobufCAllocator *alloc)
{
	const ProtobufCMessageDescriptor *desc = msg_descriptor(frame->type);

	if (!desc)
		return NULL;
	return protobuf_c_message_unpack(desc, alloc, frame->len,
					 frame->payload);
}
