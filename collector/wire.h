/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wire.h - netrv-collector's parts, put together: the configuration tables
 * of every part, and the consumers, reactors and HTTP providers that
 * register_consumers() (main.c) plugs into the pipeline.
 *
 * Consumers, in the order the merge calls them (replay uses the same):
 *
 *   archive (if [archive] dir) -> lock engine -> DA models ([model NAME])
 *   -> http_nodes (if [http] enable) -> event log -> stats
 *
 * Verdicts of every class take one path, the engine's sinks, in this
 * order: state view, JSON-lines log, exec hook, archive, dashboard (SSE).
 */
#ifndef NETRV_COLLECTOR_WIRE_H
#define NETRV_COLLECTOR_WIRE_H

#include <event2/event.h>

#include "config.h"
#include "pipeline.h"

struct wire;

/**
 * wire_create - build engine, reactors, models, archive and HTTP server
 * from @cfg and register their consumers with @p (before pipeline_start())
 *
 * Return: the wiring, or NULL (the reason is logged).  Destroy it with
 * wire_destroy() after pipeline_destroy(): the pipeline destroys the
 * consumers (the engine with its sinks); the wiring then frees what they
 * borrowed (server, node table, archive, configuration).
 */
struct wire *wire_create(struct pipeline *p, const struct config *cfg,
			 struct event_base *base);

/** wire_stop - flush the archive; call after pipeline_stop() */
void wire_stop(struct wire *w);

void wire_destroy(struct wire *w);

#endif
