/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * msg.h - protobuf messages of proto/netrv.proto in frames.
 *
 * Glue between frame.h (bytes) and protobuf-c (messages), so that agent,
 * collector and tests agree on which message a frame type carries.
 */
#ifndef NETRV_MSG_H
#define NETRV_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "netrv.pb-c.h"

/** msg_descriptor - the protobuf descriptor of the message @type carries */
const ProtobufCMessageDescriptor *msg_descriptor(enum frame_type type);

/** msg_frame_size - bytes of the whole frame (header included) for @msg */
size_t msg_frame_size(const ProtobufCMessage *msg);

/**
 * msg_pack - write @msg as a frame of @type into @buf
 * @buf: at least msg_frame_size(@msg) bytes
 *
 * Return: bytes written, or -1 with errno EINVAL if @msg is not what @type
 * carries or EMSGSIZE if it exceeds FRAME_HARD_MAX.
 */
long msg_pack(enum frame_type type, const ProtobufCMessage *msg, uint8_t *buf,
	      size_t cap);

/**
 * msg_unpack - decode the payload of @frame
 * @alloc: protobuf-c allocator, NULL for malloc
 *
 * Return: the message, freed with protobuf_c_message_free_unpacked() and the
 * same allocator, or NULL if the payload is not a valid message of its type.
 */
ProtobufCMessage *msg_unpack(const struct frame *frame,
			     ProtobufCAllocator *alloc);

#endif
