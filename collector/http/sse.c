// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sse.c - GET /events: server-sent events to every subscriber.
 *
 * Each subscriber is a chunked reply that never ends.  Before anything is
 * queued to it, the bytes already waiting in its connection's output buffer
 * are checked against sse_max_buffer: a subscriber that does not read fills
 * it and is dropped (connection freed) instead of making the collector hold
 * an unbounded backlog or wait.  Browsers reconnect by themselves; the page
 * then reloads the lists it shows, so nothing is lost to a dropped client
 * but the time it was away.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#define LOG_SUBSYS "http"
#include "log.h"
#include "http_private.h"
#include "json.h"

#define SSE_SNDBUF (32 * 1024)

static void sse_unlink(struct sse_client *c)
{
	struct sse_client **pp;

	for (pp = &c->h->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			c->h->stats.sse_clients--;
			return;
		}
	}
}

/* The client went away (or the server is closing it): forget it. */
static void sse_closed(struct evhttp_connection *conn, void *arg)
{
	struct sse_client *c = arg;

	/*
	 * When the peer went away, evhttp has already detached the unfinished
	 * reply from the connection and leaves it to us: ending it frees it.
	 * Otherwise the connection frees it with itself.
	 */
	if (!evhttp_request_get_connection(c->req))
		evhttp_send_reply_end(c->req);
	sse_unlink(c);
	free(c);
}

static void sse_drop(struct sse_client *c)
{
	struct evhttp_connection *conn = c->conn;
	struct http *h = c->h;
	char *peer = NULL;
	ev_uint16_t port = 0;

	evhttp_connection_get_peer(conn, &peer, &port);
	pr_warning("dropping /events subscriber %s:%u: %zu bytes unread "
		   "(it does not keep up; raise [http] sse_buffer if this "
		   "client is merely slow)",
		   peer ? peer : "?", port,
		   evbuffer_get_length(bufferevent_get_output(
			   evhttp_connection_get_bufferevent(conn))));
	h->stats.sse_dropped++;
	evhttp_connection_set_closecb(conn, NULL, NULL);
	sse_unlink(c);
	free(c);
	evhttp_connection_free(conn);
}

static size_t sse_queued(const struct sse_client *c)
{
	return evbuffer_get_length(bufferevent_get_output(
		evhttp_connection_get_bufferevent(c->conn)));
}

/* Queue @len bytes to every subscriber that has room; drop the others. */
static int sse_send(struct http *h, const void *msg, size_t len)
{
	struct sse_client *c, *next;
	int sent = 0;
	size_t q;

	for (c = h->clients; c; c = next) {
		next = c->next;
		q = sse_queued(c);
		if (q + len > h->sse_max_buffer) {
			sse_drop(c);
			continue;
		}
		if (evbuffer_add(h->scratch, msg, len)) {
			evbuffer_drain(h->scratch,
				       evbuffer_get_length(h->scratch));
			errno = ENOMEM;
			return -1;
		}
		evhttp_send_reply_chunk(c->req, h->scratch);
		q = sse_queued(c);
		if (q > h->stats.sse_queued_max)
			h->stats.sse_queued_max = q;
		sent++;
	}
	return sent;
}

static bool sse_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n > 32)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

int http_publish(struct http *h, const char *event_name, const char *json)
{
	struct evbuffer *msg;
	const char *p, *nl;
	int rc = 0;

	if (!h || !event_name || !json || !sse_name_ok(event_name)) {
		errno = EINVAL;
		return -1;
	}
	h->stats.sse_events++;
	if (!h->clients)
		return 0;
	msg = evbuffer_new();
	if (!msg) {
		errno = ENOMEM;
		return -1;
	}
	rc |= evbuffer_add_printf(msg, "event: %s\n", event_name) < 0;
	for (p = json;; p = nl + 1) {
		nl = strchr(p, '\n');
		rc |= evbuffer_add(msg, "data: ", 6);
		rc |= evbuffer_add(msg, p, nl ? (size_t)(nl - p) : strlen(p));
		rc |= evbuffer_add(msg, "\n", 1);
		if (!nl)
			break;
	}
	rc |= evbuffer_add(msg, "\n", 1);
	if (rc) {
		evbuffer_free(msg);
		errno = ENOMEM;
		return -1;
	}
	rc = sse_send(h, evbuffer_pullup(msg, -1), evbuffer_get_length(msg));
	evbuffer_free(msg);
	return rc;
}

void http_sse_keepalive(evutil_socket_t fd, short what, void *arg)
{
	static const char ping[] = ": keepalive\n\n";

	sse_send(arg, ping, sizeof(ping) - 1);
}

void http_sse_subscribe(struct http *h, struct evhttp_request *req)
{
	static const char hello[] =
		"retry: 2000\nevent: hello\n"
		"data: {\"server\":\"netrv\",\"version\":\"" NETRV_VERSION
		"\"}\n\n";
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	struct sse_client *c;
	int sndbuf = SSE_SNDBUF;
	evutil_socket_t fd;

	if (h->stats.sse_clients >= h->sse_max_clients) {
		evhttp_add_header(hd, "Content-Type",
				  "application/json; charset=utf-8");
		evhttp_add_header(hd, "Retry-After", "10");
		evbuffer_add_printf(h->scratch,
				    "{\"error\":\"too many /events subscribers "
				    "(%u)\",\"status\":503}",
				    h->sse_max_clients);
		evhttp_send_reply(req, HTTP_SERVUNAVAIL, "Service Unavailable",
				  h->scratch);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	c->h = h;
	c->req = req;
	c->conn = evhttp_request_get_connection(req);
	/*
	 * Keep the kernel's share of the backlog small too, or a stalled
	 * reader could park megabytes in the socket (send buffers autotune
	 * up to tcp_wmem's maximum) before sse_max_buffer ever sees them.
	 */
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(c->conn));
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	evhttp_add_header(hd, "Content-Type",
			  "text/event-stream; charset=utf-8");
	evhttp_add_header(hd, "Cache-Control", "no-store");
	evhttp_add_header(hd, "X-Accel-Buffering", "no");
	evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	evhttp_connection_set_closecb(c->conn, sse_closed, c);
	c->next = h->clients;
	h->clients = c;
	h->stats.sse_clients++;
	evbuffer_add(h->scratch, hello, sizeof(hello) - 1);
	evhttp_send_reply_chunk(req, h->scratch);
}

void http_sse_close_all(struct http *h)
{
	struct sse_client *c, *next;

	for (c = h->clients; c; c = next) {
		next = c->next;
		evhttp_connection_set_closecb(c->conn, NULL, NULL);
		free(c);
	}
	h->clients = NULL;
	h->stats.sse_clients = 0;
}
