// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * server.c - the evhttp server: listening, routing, bearer-token check,
 * JSON errors, the compiled-in page, and the API endpoints that ask the
 * registered providers (see http.h for who answers what).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#define LOG_SUBSYS "http"
#include "log.h"
#include "clocks.h"
#include "http_private.h"
#include "json.h"

#define HTTP_DEFAULT_LIMIT 100
#define HTTP_MAX_LIMIT 1000

static const char *const class_names[HTTP_VERDICT_MAX] = {
	[HTTP_VERDICT_DEFINITE] = "definite",
	[HTTP_VERDICT_POSSIBLE] = "possible",
	[HTTP_VERDICT_CLOCK_BOUND] = "clock-bound",
	[HTTP_VERDICT_PROTOCOL] = "protocol",
};

const char *http_verdict_class_name(enum http_verdict_class c)
{
	return (unsigned int)c < HTTP_VERDICT_MAX ? class_names[c] : "unknown";
}

/* ---- configuration ---- */

const struct config_section_def http_config_section = {
	"http", false, "dashboard page, JSON API, server-sent events, /metrics"
};

const struct config_option http_config_options[] = {
	{ "http", "enable", CONFIG_BOOL, "yes", 0, 0, NULL,
	  "serve the dashboard, API and metrics" },
	{ "http", "listen", CONFIG_STRING, "127.0.0.1", 0, 0, NULL,
	  "numeric address to listen on (::1, 0.0.0.0 exposes it: set a token)" },
	{ "http", "port", CONFIG_INT, "7480", 0, 65535, NULL,
	  "TCP port; 0 picks a free one (logged)" },
	{ "http", "token", CONFIG_STRING, NULL, 0, 0, NULL,
	  "bearer token required on /api, /events and /metrics" },
	{ "http", "token_file", CONFIG_STRING, NULL, 0, 0, NULL,
	  "file holding the bearer token (first line); overrides token" },
	{ "http", "sse_buffer", CONFIG_SIZE, "1M", 4096, 64 << 20, NULL,
	  "bytes queued to one /events subscriber before it is dropped" },
	{ "http", "sse_clients", CONFIG_INT, "64", 1, 4096, NULL,
	  "most /events subscribers at once" },
	{ "http", "sse_keepalive", CONFIG_DURATION, "15s", 0, 3600000000000LL,
	  NULL, "comment line sent to idle subscribers this often; 0: never" },
	{ NULL },
};

void http_config_default(struct http_config *out)
{
	memset(out, 0, sizeof(*out));
	out->address = "127.0.0.1";
	out->port = 7480;
	out->sse_max_buffer = 1 << 20;
	out->sse_max_clients = 64;
	out->sse_keepalive_s = 15;
}

static int http_read_token(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		pr_err("token_file %s: %m", path);
		return -1;
	}
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (!n) {
		pr_err("token_file %s: empty first line: put the token there",
		       path);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int http_config_from(const struct config *cfg, struct http_config *out,
		     char *token_buf, size_t token_buf_len)
{
	const char *tf = config_string(cfg, "http", "token_file");

	http_config_default(out);
	out->address = config_string(cfg, "http", "listen");
	out->port = config_int(cfg, "http", "port");
	out->token = config_string(cfg, "http", "token");
	out->sse_max_buffer = config_int(cfg, "http", "sse_buffer");
	out->sse_max_clients = config_int(cfg, "http", "sse_clients");
	out->sse_keepalive_s =
		config_int(cfg, "http", "sse_keepalive") / NSEC_PER_SEC;
	if (tf) {
		if (http_read_token(tf, token_buf, token_buf_len))
			return -1;
		out->token = token_buf;
	}
	if (out->token && !out->token[0])
		out->token = NULL;
	return 0;
}

/* ---- replies ---- */

static void http_common_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);

	evhttp_add_header(hd, "Content-Type", type);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
}

static void http_reply(struct evhttp_request *req, int code, const char *reason,
		       const char *type, struct evbuffer *body)
{
	http_common_headers(req, type);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD && body) {
		/* evhttp would send the body: keep only its length. */
		char len[24];

		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Content-Length", len);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason, body);
}

static void http_error(struct evhttp_request *req, int code, const char *reason,
		       const char *what)
{
	struct evbuffer *body = evbuffer_new();
	const char *path = evhttp_request_get_uri(req);
	struct json j;

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	json_init(&j, body);
	json_object_begin(&j);
	json_kv_str(&j, "error", what);
	json_kv_i64(&j, "status", code);
	json_kv_str(&j, "path", path);
	json_object_end(&j);
	http_reply(req, code, reason, "application/json; charset=utf-8", body);
	evbuffer_free(body);
}

static void http_reply_json(struct evhttp_request *req, struct evbuffer *body)
{
	http_reply(req, HTTP_OK, "OK", "application/json; charset=utf-8", body);
}

/* ---- authorisation ---- */

/* Compare in time that depends on the lengths only. */
static bool http_token_equal(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char diff = alen != blen;

	for (i = 0; i < alen; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i % blen];
	return !diff;
}

static bool http_authorized(struct http *h, struct evhttp_request *req)
{
	const char *auth;

	if (!h->token)
		return true;
	auth = evhttp_find_header(evhttp_request_get_input_headers(req),
				  "Authorization");
	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return http_token_equal(auth, strlen(auth), h->token);
}

/* ---- query parameters ---- */

static int http_parse_u64(const char *s, uint64_t min, uint64_t max,
			  uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Fill @q from the query string; -1 with a reply already sent. */
static int http_parse_query(struct evhttp_request *req, struct evkeyvalq *kv,
			    struct http_query *q)
{
	const char *query =
		evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *v;
	uint64_t n;

	memset(q, 0, sizeof(*q));
	q->limit = HTTP_DEFAULT_LIMIT;
	TAILQ_INIT(kv);
	if (!query)
		return 0;
	if (evhttp_parse_query_str(query, kv)) {
		http_error(req, HTTP_BADREQUEST, "Bad Request",
			   "malformed query string");
		return -1;
	}
	v = evhttp_find_header(kv, "limit");
	if (v) {
		if (http_parse_u64(v, 1, HTTP_MAX_LIMIT, &n)) {
			http_error(req, HTTP_BADREQUEST, "Bad Request",
				   "limit must be 1..1000");
			return -1;
		}
		q->limit = n;
	}
	v = evhttp_find_header(kv, "since");
	if (v && http_parse_u64(v, 0, UINT64_MAX, &q->since)) {
		http_error(req, HTTP_BADREQUEST, "Bad Request",
			   "since must be a verdict id");
		return -1;
	}
	v = evhttp_find_header(kv, "q");
	if (v && *v) {
		q->filter = v;
		q->filter_len = strlen(v);
	}
	return 0;
}

/* ---- endpoints ---- */

enum http_list { LIST_NODES, LIST_RESOURCES, LIST_VERDICTS };

static struct http_provider *http_find(struct http *h, enum http_list what)
{
	struct http_provider *p;

	for (p = h->providers; p; p = p->next) {
		if ((what == LIST_NODES && p->ops->nodes) ||
		    (what == LIST_RESOURCES && p->ops->resources) ||
		    (what == LIST_VERDICTS && p->ops->verdicts))
			return p;
	}
	return NULL;
}

static void http_answer(struct evhttp_request *req, struct evbuffer *body,
			int rc, const char *who)
{
	if (!rc) {
		http_reply_json(req, body);
	} else if (errno == ENOENT) {
		http_error(req, HTTP_NOTFOUND, "Not Found", "no such entry");
	} else {
		pr_err("provider %s failed: %m", who);
		http_error(req, HTTP_INTERNAL, "Internal Server Error",
			   "the collector could not produce this answer");
	}
}

static void http_list(struct http *h, struct evhttp_request *req,
		      enum http_list what)
{
	struct http_provider *p = http_find(h, what);
	struct evkeyvalq kv;
	struct http_query q;
	struct evbuffer *body;
	int rc;

	if (http_parse_query(req, &kv, &q))
		goto out_kv;
	body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		goto out_kv;
	}
	if (!p) {
		/* Nothing registered knows this yet: an empty list. */
		rc = evbuffer_add(body, "[]", 2);
	} else if (what == LIST_NODES) {
		rc = p->ops->nodes(p, body);
	} else if (what == LIST_RESOURCES) {
		rc = p->ops->resources(p, &q, body);
	} else {
		rc = p->ops->verdicts(p, &q, body);
	}
	http_answer(req, body, rc, p ? p->name : "server");
	evbuffer_free(body);
out_kv:
	evhttp_clear_headers(&kv);
}

static void http_verdict(struct http *h, struct evhttp_request *req,
			 const char *idstr)
{
	struct http_provider *p;
	struct evbuffer *body;
	uint64_t id;

	if (http_parse_u64(idstr, 1, UINT64_MAX, &id)) {
		http_error(req, HTTP_NOTFOUND, "Not Found",
			   "verdict ids are positive integers");
		return;
	}
	for (p = h->providers; p && !p->ops->verdict; p = p->next)
		;
	if (!p) {
		http_error(req, HTTP_NOTFOUND, "Not Found", "no such verdict");
		return;
	}
	body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	http_answer(req, body, p->ops->verdict(p, id, body), p->name);
	evbuffer_free(body);
}

static void http_summarize(struct http *h, struct http_summary *s)
{
	struct http_provider *p;

	memset(s, 0, sizeof(*s));
	s->now_tai_ns = clocks_now(CLOCK_TAI);
	for (p = h->providers; p; p = p->next)
		if (p->ops->summary)
			p->ops->summary(p, s);
}

static void http_status(struct http *h, struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();
	struct http_summary s;
	struct json j;
	int c;

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	http_summarize(h, &s);
	json_init(&j, body);
	json_object_begin(&j);
	json_kv_u64(&j, "now_tai_ns", s.now_tai_ns);
	if (s.verified_tai_ns) {
		json_kv_u64(&j, "verified_tai_ns", s.verified_tai_ns);
		json_kv_i64(&j, "lag_ns",
			    (int64_t)(s.now_tai_ns - s.verified_tai_ns));
	} else {
		json_kv_null(&j, "verified_tai_ns");
		json_kv_null(&j, "lag_ns");
	}
	json_kv_u64(&j, "nodes", s.nodes);
	json_kv_u64(&j, "nodes_up", s.nodes_up);
	json_kv_u64(&j, "incomplete", s.incomplete);
	json_key(&j, "verdicts");
	json_object_begin(&j);
	for (c = 0; c < HTTP_VERDICT_MAX; c++)
		json_kv_u64(&j, class_names[c], s.verdicts[c]);
	json_object_end(&j);
	json_kv_u64(&j, "sse_clients", h->stats.sse_clients);
	json_object_end(&j);
	if (j.err)
		http_error(req, HTTP_INTERNAL, "Internal Server Error",
			   "out of memory");
	else
		http_reply_json(req, body);
	evbuffer_free(body);
}

static void http_metrics_endpoint(struct http *h, struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();
	struct http_provider *p;
	struct http_summary s;
	struct http_metrics m;

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	http_summarize(h, &s);
	http_metrics_init(&m, body);
	http_metrics_server(h, &m, &s);
	for (p = h->providers; p; p = p->next)
		if (p->ops->metrics)
			p->ops->metrics(p, &m);
	if (m.err)
		http_error(req, HTTP_INTERNAL, "Internal Server Error",
			   "out of memory");
	else
		http_reply(req, HTTP_OK, "OK",
			   "text/plain; version=0.0.4; charset=utf-8", body);
	evbuffer_free(body);
}

static void http_asset(struct evhttp_request *req, const struct http_asset *a)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	/* Everything comes from this server; data never becomes markup. */
	evhttp_add_header(hd, "Content-Security-Policy",
			  "default-src 'self'; img-src 'self' data:; "
			  "object-src 'none'; base-uri 'none'; "
			  "frame-ancestors 'none'");
	evhttp_add_header(hd, "Referrer-Policy", "no-referrer");
	evbuffer_add_reference(body, a->data, a->len, NULL, NULL);
	http_reply(req, HTTP_OK, "OK", a->type, body);
	evbuffer_free(body);
}

static const struct http_asset *http_find_asset(const char *path)
{
	size_t i;

	for (i = 0; i < http_n_assets; i++)
		if (!strcmp(http_assets[i].path, path))
			return &http_assets[i];
	return NULL;
}

enum http_route {
	ROUTE_NONE,
	ROUTE_ASSET,
	ROUTE_NODES,
	ROUTE_RESOURCES,
	ROUTE_VERDICTS,
	ROUTE_VERDICT,
	ROUTE_STATUS,
	ROUTE_EVENTS,
	ROUTE_METRICS,
};

static const struct {
	const char *path;
	enum http_route route;
} http_routes[] = {
	{ "/api/nodes", ROUTE_NODES },
	{ "/api/resources", ROUTE_RESOURCES },
	{ "/api/verdicts", ROUTE_VERDICTS },
	{ "/api/status", ROUTE_STATUS },
	{ "/events", ROUTE_EVENTS },
	{ "/metrics", ROUTE_METRICS },
};

static void http_handle(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	enum http_route route = ROUTE_NONE;
	const struct http_asset *asset = NULL;
	const char *rest = NULL;
	size_t i;

	h->stats.requests++;
	if (!path || !*path)
		path = "/";
	asset = http_find_asset(path);
	if (asset)
		route = ROUTE_ASSET;
	for (i = 0; !asset && i < sizeof(http_routes) / sizeof(http_routes[0]);
	     i++)
		if (!strcmp(path, http_routes[i].path))
			route = http_routes[i].route;
	if (route == ROUTE_NONE && !strncmp(path, "/api/verdicts/", 14)) {
		route = ROUTE_VERDICT;
		rest = path + 14;
	}
	if (route == ROUTE_NONE) {
		http_error(req, HTTP_NOTFOUND, "Not Found", "no such page");
		return;
	}
	if (cmd != EVHTTP_REQ_GET &&
	    (cmd != EVHTTP_REQ_HEAD || route == ROUTE_EVENTS)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow",
				  route == ROUTE_EVENTS ? "GET" : "GET, HEAD");
		http_error(req, HTTP_BADMETHOD, "Method Not Allowed",
			   "only GET (and HEAD) are served");
		return;
	}
	if (route != ROUTE_ASSET && !http_authorized(h, req)) {
		h->stats.unauthorized++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "WWW-Authenticate", "Bearer realm=\"netrv\"");
		http_error(req, 401, "Unauthorized",
			   "a valid bearer token is required");
		return;
	}
	switch (route) {
	case ROUTE_ASSET:
		http_asset(req, asset);
		break;
	case ROUTE_NODES:
		http_list(h, req, LIST_NODES);
		break;
	case ROUTE_RESOURCES:
		http_list(h, req, LIST_RESOURCES);
		break;
	case ROUTE_VERDICTS:
		http_list(h, req, LIST_VERDICTS);
		break;
	case ROUTE_VERDICT:
		http_verdict(h, req, rest);
		break;
	case ROUTE_STATUS:
		http_status(h, req);
		break;
	case ROUTE_EVENTS:
		http_sse_subscribe(h, req);
		break;
	case ROUTE_METRICS:
		http_metrics_endpoint(h, req);
		break;
	case ROUTE_NONE:
		break;
	}
}

/* ---- life cycle ---- */

struct http *http_create(struct event_base *base, const struct http_config *cfg)
{
	struct http *h = calloc(1, sizeof(*h));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int saved;

	if (!h)
		return NULL;
	if (cfg->token && !cfg->token[0]) {
		pr_err("empty bearer token: set [http] token or leave it unset");
		free(h);
		errno = EINVAL;
		return NULL;
	}
	h->base = base;
	h->address = strdup(cfg->address ? cfg->address : "127.0.0.1");
	h->token = cfg->token ? strdup(cfg->token) : NULL;
	h->sse_max_buffer = cfg->sse_max_buffer ? cfg->sse_max_buffer : 1 << 20;
	h->sse_max_clients = cfg->sse_max_clients ? cfg->sse_max_clients : 64;
	h->scratch = evbuffer_new();
	h->evh = evhttp_new(base);
	if (!h->address || (cfg->token && !h->token) || !h->scratch || !h->evh)
		goto fail;
	/* Accept every method so that the wrong ones get our JSON 405. */
	evhttp_set_allowed_methods(
		h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->evh, 16384);
	evhttp_set_max_body_size(h->evh, 4096);
	evhttp_set_timeout(h->evh, 60);
	evhttp_set_gencb(h->evh, http_handle, h);
	h->sock = evhttp_bind_socket_with_handle(h->evh, h->address, cfg->port);
	if (!h->sock) {
		pr_err("cannot listen on %s port %u: %m (is the port taken? "
		       "set [http] listen/port)",
		       h->address, cfg->port);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(h->sock),
			(struct sockaddr *)&ss, &sl))
		goto fail;
	h->port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
	if (cfg->sse_keepalive_s) {
		struct timeval tv = { cfg->sse_keepalive_s, 0 };

		h->keepalive =
			event_new(base, -1, EV_PERSIST, http_sse_keepalive, h);
		if (!h->keepalive || event_add(h->keepalive, &tv))
			goto fail;
	}
	pr_info("dashboard on http://%s%s%s:%u/%s",
		strchr(h->address, ':') ? "[" : "", h->address,
		strchr(h->address, ':') ? "]" : "", h->port,
		h->token ? " (API needs the bearer token)" : "");
	return h;
fail:
	saved = errno ? errno : ENOMEM;
	http_destroy(h);
	errno = saved;
	return NULL;
}

void http_destroy(struct http *h)
{
	if (!h)
		return;
	if (h->keepalive)
		event_free(h->keepalive);
	http_sse_close_all(h);
	if (h->evh)
		evhttp_free(h->evh);
	if (h->scratch)
		evbuffer_free(h->scratch);
	free(h->address);
	free(h->token);
	free(h);
}

uint16_t http_port(const struct http *h)
{
	return h->port;
}

void http_add_provider(struct http *h, struct http_provider *p)
{
	struct http_provider **pp = &h->providers;

	while (*pp)
		pp = &(*pp)->next;
	p->next = NULL;
	*pp = p;
}

void http_remove_provider(struct http *h, struct http_provider *p)
{
	struct http_provider **pp;

	for (pp = &h->providers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
	}
}

void http_get_stats(const struct http *h, struct http_stats *st)
{
	*st = h->stats;
}
