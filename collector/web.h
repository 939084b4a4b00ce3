/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * web.h - the lock-safety engine as the dashboard sees it.
 *
 * A verdict sink of the engine and an HTTP provider (collector/http) in one:
 * every verdict is kept (the newest lock.recent_verdicts) in the shapes the
 * page reads (collector/http/README.md: a summary, and the record with
 * holds, events, clocks and causal edges, plus the engine's own JSON under
 * "lock") and published as a "verdict" server-sent event; every change of a
 * resource's holders is published as a "resource" event.  It answers
 * /api/resources from the engine's live table, /api/verdicts and
 * /api/verdicts/ID from its ring, and adds verdict counts to /api/status
 * and /metrics.
 */
#ifndef NETRV_COLLECTOR_WEB_H
#define NETRV_COLLECTOR_WEB_H

#include "http.h"
#include "lock_reactor.h"

struct web;

/**
 * web_create - keep @recent verdicts of @e for @h
 *
 * Return: the object, or NULL with errno.  Add web_sink() to the engine
 * and web_provider() to the server.  Free with web_destroy() after the
 * engine (which only detaches the sink) is gone.
 */
struct web *web_create(struct http *h, struct lock_engine *e,
		       struct lock_view *view, unsigned int recent);
struct verdict_sink *web_sink(struct web *w);
struct http_provider *web_provider(struct web *w);
void web_destroy(struct web *w);

#endif
