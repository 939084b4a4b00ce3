/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http_private.h - struct bodies shared by the files of collector/http.
 */
#ifndef NETRV_HTTP_PRIVATE_H
#define NETRV_HTTP_PRIVATE_H

#include <event2/http.h>

#include <stddef.h>

#include "http.h"

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct sse_client {
	struct http *h;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct sse_client *next;
};

struct http {
	struct event_base *base;
	struct evhttp *evh;
	struct evhttp_bound_socket *sock;
	uint16_t port;
	char *address;
	char *token;
	size_t sse_max_buffer;
	unsigned int sse_max_clients;
	struct event *keepalive;
	struct http_provider *providers;
	struct sse_client *clients;
	struct evbuffer *scratch;
	struct http_stats stats;
};

struct http_metrics {
	struct evbuffer *out;
	char family[128];
	bool err;
};

/* One file served from collector/http/www, compiled in (assets.c). */
struct http_asset {
	const char *path; /* "/", "/app.js", ... */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};
extern const struct http_asset http_assets[];
extern const size_t http_n_assets;

/* sse.c */
void http_sse_subscribe(struct http *h, struct evhttp_request *req);
void http_sse_keepalive(evutil_socket_t fd, short what, void *arg);
void http_sse_close_all(struct http *h);

/* metrics.c */
void http_metrics_init(struct http_metrics *m, struct evbuffer *out);
void http_metrics_server(struct http *h, struct http_metrics *m,
			 const struct http_summary *s);

#endif
