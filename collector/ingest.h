/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ingest.h - TLS connections from agents, one session each.
 *
 * The listener accepts TCP, runs the TLS handshake with mutual
 * authentication against the cluster CA, takes the node's identity from
 * its certificate's CN, and turns the byte stream into frames
 * (lib/frame.h, size checked before allocation).  Everything a frame means
 * is the pipeline's business (pipeline.h); ingest only speaks, pauses and
 * closes.  Every refusal is one log line naming the peer address, the CN
 * when known, and the reason.
 */
#ifndef NETRV_COLLECTOR_INGEST_H
#define NETRV_COLLECTOR_INGEST_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "msg.h"

struct ingest;
struct session;
struct pipeline;

struct ingest_config {
	const char *listen; /* "HOST:PORT", port 0 picks a free one */
	const char *ca, *cert, *key; /* PEM files */
	uint32_t max_frame;
	uint64_t idle_ns; /* close a connection silent this long */
};

/**
 * ingest_create - listen for agents
 *
 * Return: the listener, freed with ingest_destroy() (which closes every
 * session), or NULL with the reason logged.
 */
struct ingest *ingest_create(struct event_base *base,
			     const struct ingest_config *cfg,
			     struct pipeline *p);
void ingest_destroy(struct ingest *ing);

/** ingest_port - the TCP port bound (useful with port 0) */
int ingest_port(const struct ingest *ing);

/** ingest_close_all - say Goodbye(@code, @reason) to every session */
void ingest_close_all(struct ingest *ing, Netrv__GoodbyeCode code,
		      const char *reason);

/** session_send - queue @msg as a frame of @type; -1 if it cannot */
int session_send(struct session *s, enum frame_type type,
		 const ProtobufCMessage *msg);

/**
 * session_refuse - log "PEER: refused: REASON", send Goodbye(@code,
 * REASON) and close once it is written
 */
void session_refuse(struct session *s, Netrv__GoodbyeCode code, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/** session_pause - stop (true) or resume (false) reading from @s */
void session_pause(struct session *s, bool pause);

/** session_peer - "ADDR:PORT (CN)" for log lines, owned by @s */
const char *session_peer(const struct session *s);

#endif
