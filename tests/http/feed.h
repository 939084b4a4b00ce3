/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * feed.h - stands in for the collector's merge in the HTTP tests: it makes
 * real struct cnode / struct cevent values (with protobuf EventTypes and
 * evpack values, as the merge hands them out) and calls the registered
 * consumers' ops in order.  Events are given in merged order by the caller.
 *
 * Event types it knows, all of system "test":
 *   lock  resource (bytes), mode (int, DLM 0..5 = NL CR CW PR PW EX),
 *         op (int, 0 grant, 1 release)
 *   send  resource (bytes), msg (int): a message about the resource leaves
 *   recv  resource (bytes), msg (int): ... and arrives on another node
 */
#ifndef NETRV_TESTS_HTTP_FEED_H
#define NETRV_TESTS_HTTP_FEED_H

#include <stdint.h>

#include "event.h"

#define FEED_MAX_NODES 8
#define FEED_MAX_CONSUMERS 4

enum feed_type { FEED_LOCK, FEED_SEND, FEED_RECV, FEED_TYPES };
enum feed_op { FEED_GRANT, FEED_RELEASE };

struct feed {
	struct cnode nodes[FEED_MAX_NODES];
	unsigned int n_nodes;
	struct consumer *consumers[FEED_MAX_CONSUMERS];
	unsigned int n_consumers;
	uint64_t seq;
};

void feed_init(struct feed *f);
void feed_add_consumer(struct feed *f, struct consumer *c);
/** feed_node - add a node; @name is borrowed (keep it alive) */
struct cnode *feed_node(struct feed *f, const char *name,
			Netrv__ClockSource src, bool synced, uint64_t eps_ns,
			int64_t offset_ns);

void feed_lock(struct feed *f, struct cnode *n, uint64_t tai_ns,
	       const void *res, size_t res_len, int mode, enum feed_op op);
void feed_msg(struct feed *f, struct cnode *n, uint64_t tai_ns,
	      enum feed_type type, const void *res, size_t res_len,
	      uint64_t msg);
void feed_loss(struct feed *f, struct cnode *n, uint64_t from, uint64_t to,
	       uint64_t count);
void feed_state(struct feed *f, struct cnode *n, enum cnode_state st,
		uint64_t tai_ns);
void feed_watermark(struct feed *f, uint64_t tai_ns);

#endif
