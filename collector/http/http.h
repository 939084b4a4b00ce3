/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http.h - the collector's HTTP side: dashboard page, JSON API, server-sent
 * events and Prometheus metrics, on libevent's evhttp.
 *
 * The server knows nothing about locks or verdicts itself.  Parts of the
 * collector that hold state (lock-safety engine, models, ingest, archive)
 * each embed a struct http_provider and register it; every request asks the
 * registered providers, in registration order:
 *
 *   GET /api/nodes        first provider with ->nodes
 *   GET /api/resources    first provider with ->resources
 *   GET /api/verdicts     first provider with ->verdicts
 *   GET /api/verdicts/ID  first provider with ->verdict
 *   GET /api/status       every provider's ->summary, summed
 *   GET /metrics          every provider's ->metrics, concatenated
 *
 * The pipeline pushes news with http_publish(); it goes out on GET /events
 * to every subscriber.  Each subscriber has a bounded output buffer: one
 * that does not read is dropped, the collector never waits for it.
 *
 * http_nodes_*() is a ready-made consumer of the merged stream that keeps
 * per-node statistics and is itself a provider of /api/nodes, node metrics
 * and the "verified up to" part of the summary.
 *
 * Threading: everything here runs on the thread of the event base given to
 * http_create(), and provider ops are called on it; the consumer must be
 * called on that thread too (the merge's thread, in the collector).
 *
 * JSON shapes are documented in collector/http/README.md.
 */
#ifndef NETRV_HTTP_H
#define NETRV_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

struct event_base;
struct evbuffer;
struct http;

/* Verdict classes, in the order the summary and metrics list them. */
enum http_verdict_class {
	HTTP_VERDICT_DEFINITE,
	HTTP_VERDICT_POSSIBLE,
	HTTP_VERDICT_CLOCK_BOUND,
	HTTP_VERDICT_PROTOCOL,
	HTTP_VERDICT_MAX,
};

/** http_verdict_class_name - "definite", "possible", "clock-bound", ... */
const char *http_verdict_class_name(enum http_verdict_class c);

/* Query parameters of a list request, parsed and bounded by the server. */
struct http_query {
	/* resources: only names containing these bytes; NULL: all */
	const char *filter;
	size_t filter_len;
	unsigned int limit; /* at most this many entries (1..1000) */
	uint64_t since; /* verdicts: only ids greater than this (0: all) */
};

/*
 * What the safety badge shows; providers add what they know.  The server
 * zeroes it, asks every provider, then fills in its own part.
 */
struct http_summary {
	uint64_t now_tai_ns; /* set by the server before the providers run */
	uint64_t verified_tai_ns; /* everything before is checked; 0: unknown */
	unsigned int nodes, nodes_up;
	uint64_t verdicts[HTTP_VERDICT_MAX];
	uint64_t incomplete; /* resources whose verdict is unknown (losses) */
};

/* A Prometheus text-format writer; see http_metrics_*() below. */
struct http_metrics;

struct http_provider;

/*
 * Each op writes exactly one JSON value into @out (appending) and returns
 * 0, or returns -1 with errno set (ENOENT for an unknown verdict id: 404;
 * anything else: 500, and what was appended is discarded).  Any op may be
 * NULL.  Ops must not block: they read in-memory state.
 */
struct http_provider_ops {
	/* [node, ...] */
	int (*nodes)(struct http_provider *p, struct evbuffer *out);
	/* [{"resource":..,"holders":[..]}, ...] honouring q->filter/limit */
	int (*resources)(struct http_provider *p, const struct http_query *q,
			 struct evbuffer *out);
	/* [verdict summary, ...], newest first, honouring q->since/limit */
	int (*verdicts)(struct http_provider *p, const struct http_query *q,
			struct evbuffer *out);
	/* the full verdict record of @id */
	int (*verdict)(struct http_provider *p, uint64_t id,
		       struct evbuffer *out);
	/* add what the provider knows to @s */
	void (*summary)(struct http_provider *p, struct http_summary *s);
	/* append metric families with http_metrics_family()/_sample() */
	void (*metrics)(struct http_provider *p, struct http_metrics *m);
};

struct http_provider {
	const struct http_provider_ops *ops;
	const char *name; /* for logs */
	struct http_provider *next; /* owned by the server's list */
};

struct http_config {
	const char *address; /* numeric IPv4 or IPv6; default 127.0.0.1 */
	uint16_t port; /* 0: any free port (see http_port()) */
	const char *
		token; /* bearer token for everything but the page; NULL: none */
	size_t sse_max_buffer; /* bytes queued per subscriber before it is dropped */
	unsigned int sse_max_clients;
	unsigned int sse_keepalive_s; /* comment line this often; 0: never */
};

/*
 * The [http] section of the collector's configuration, ended by a NULL
 * name; append it to the collector's option table.  Keys: listen, port,
 * token, token_file, sse_buffer, sse_clients, sse_keepalive.
 */
extern const struct config_option http_config_options[];
extern const struct config_section_def http_config_section;

/**
 * http_config_from - fill @out from the [http] section of @cfg
 * @token_buf: room for a token read from token_file (kept by the caller
 *             as long as @out is used)
 *
 * Return: 0, or -1 with errno (token_file unreadable or empty: logged).
 */
int http_config_from(const struct config *cfg, struct http_config *out,
		     char *token_buf, size_t token_buf_len);

/** http_config_default - 127.0.0.1:7480, no token, 1 MiB, 64 clients, 15 s */
void http_config_default(struct http_config *out);

/**
 * http_create - listen on @cfg->address:@cfg->port and serve on @base
 *
 * @cfg and its strings are copied.  Return: the server, freed with
 * http_destroy(), or NULL with errno (the address is logged).
 */
struct http *http_create(struct event_base *base,
			 const struct http_config *cfg);

/** http_destroy - close every connection and free the server; NULL is fine */
void http_destroy(struct http *h);

/** http_port - the port actually bound (useful with port 0) */
uint16_t http_port(const struct http *h);

/**
 * http_add_provider - register @p (borrowed: it must outlive @h or be
 * removed first) after the ones already registered
 */
void http_add_provider(struct http *h, struct http_provider *p);
/** http_remove_provider - unregister @p; unknown providers are ignored */
void http_remove_provider(struct http *h, struct http_provider *p);

/**
 * http_publish - send a server-sent event to every /events subscriber
 * @event_name: [a-z0-9_-]{1,32}; others are refused (-1, EINVAL)
 * @json: one JSON value (copied; newlines become extra data lines)
 *
 * Subscribers whose queued output exceeds sse_max_buffer are dropped
 * (counted in http_stats.sse_dropped).  Never blocks.
 * Return: the number of subscribers it was queued to, or -1 with errno.
 */
int http_publish(struct http *h, const char *event_name, const char *json);

struct http_stats {
	uint64_t requests; /* answered, all status codes */
	uint64_t unauthorized;
	unsigned int sse_clients; /* connected now */
	uint64_t sse_events; /* published */
	uint64_t sse_dropped; /* subscribers dropped for not reading */
	size_t sse_queued_max; /* most bytes ever queued to one subscriber */
};

void http_get_stats(const struct http *h, struct http_stats *st);

/*
 * Prometheus text format (version 0.0.4).  A family is started once with
 * its help text, then its samples follow.  Names must match
 * [a-zA-Z_][a-zA-Z0-9_]*; label values are untrusted and escaped (\\, \",
 * \n; bytes that are not valid UTF-8 and control characters become U+FFFD).
 */
/** http_metrics_family - "# HELP" and "# TYPE" (counter, gauge, untyped) */
void http_metrics_family(struct http_metrics *m, const char *name,
			 const char *type, const char *help);
/**
 * http_metrics_sample - one sample of the current family
 * @...: label name, label value pairs (const char *), ended by NULL
 */
void http_metrics_sample(struct http_metrics *m, double value, ...)
	__attribute__((sentinel));
/** http_metrics_sample_n - like _sample, with a value of @len raw bytes */
void http_metrics_sample_n(struct http_metrics *m, double value,
			   const char *label, const void *label_value,
			   size_t len);

/*
 * Per-node statistics from the merged stream.
 */
struct http_nodes;

/**
 * http_nodes_create - node statistics; @h (may be NULL) gets a "node" event
 * on every connect, disconnect and change of sync state
 *
 * Return: freed with http_nodes_destroy(), or NULL with errno.
 */
struct http_nodes *http_nodes_create(struct http *h);
/**
 * http_nodes_destroy - free; unregister the provider from the server and
 * the consumer from the merge first.  The consumer's ->destroy op does
 * nothing: this is the only way to free.
 */
void http_nodes_destroy(struct http_nodes *ns);
/** http_nodes_consumer - register this with the merge (owned by @ns) */
struct consumer *http_nodes_consumer(struct http_nodes *ns);
/** http_nodes_provider - register this with the server (owned by @ns) */
struct http_provider *http_nodes_provider(struct http_nodes *ns);
/**
 * http_nodes_watermark - @node promised nothing older than @tai_ns; ingest
 * calls this on each batch or heartbeat (shown as the node's watermark lag)
 */
void http_nodes_watermark(struct http_nodes *ns, const struct cnode *node,
			  uint64_t tai_ns);
/**
 * http_nodes_queue - events of @node waiting in the merge now (queue depth,
 * shown in /api/nodes and /metrics); the merge calls it when it changes
 */
void http_nodes_queue(struct http_nodes *ns, const struct cnode *node,
		      uint64_t depth);

#endif
