// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ingest.c - see ingest.h.
 *
 * A session lives from accept() to close: TLS handshake (the peer must
 * present a certificate the cluster CA signed), then frames.  The first
 * frame must be Hello; the pipeline checks that it names the certificate's
 * CN.  Input is decoded straight out of the bufferevent's chunks; only a
 * frame split across chunks is copied, by the frame decoder, into a buffer
 * no larger than the checked length.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define LOG_SUBSYS "ingest"
#include "escape.h"
#include "ingest.h"
#include "log.h"
#include "pipeline.h"

#define NODE_NAME_MAX 64

struct session {
	struct ingest *ing;
	struct session *prev, *next;
	struct bufferevent *bev;
	struct frame_decoder *dec;
	struct pnode *node; /* after Hello */
	char cn[NODE_NAME_MAX + 1];
	char addr[NI_MAXHOST + NI_MAXSERV + 2];
	char peer[NODE_NAME_MAX + NI_MAXHOST + NI_MAXSERV + 16];
	bool tls_up, closing, paused;
};

struct ingest {
	struct event_base *base;
	struct ingest_config cfg;
	struct pipeline *p;
	SSL_CTX *ctx;
	struct evconnlistener *lst;
	struct session *sessions;
	int port;
};

static void log_ssl_errors(const char *peer, const char *what)
{
	unsigned long e;
	char buf[256];
	int n = 0;

	while ((e = ERR_get_error())) {
		ERR_error_string_n(e, buf, sizeof(buf));
		pr_warning("%s: %s: %s", peer, what, buf);
		n++;
	}
	(void)n;
}

static void session_free(struct session *s)
{
	struct ingest *ing = s->ing;

	if (s->node)
		pipeline_session_gone(ing->p, s->node, s);
	if (s->prev)
		s->prev->next = s->next;
	else
		ing->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->bev)
		bufferevent_free(s->bev);
	frame_decoder_destroy(s->dec);
	free(s);
}

/* Drain libevent's OpenSSL error queue for this connection into the log. */
static void drain_bev_errors(struct session *s, const char *what)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	unsigned long e;
	char buf[256];
	bool any = false;

	if (!s->tls_up && vr != X509_V_OK) {
		pr_warning("%s: %s: client certificate rejected: %s", s->peer,
			   what, X509_verify_cert_error_string(vr));
		any = true;
	}
	while ((e = bufferevent_get_openssl_error(s->bev))) {
		if (!ERR_GET_LIB(e))
			continue; /* not an OpenSSL library error */
		ERR_error_string_n(e, buf, sizeof(buf));
		pr_warning("%s: %s: %s", s->peer, what, buf);
		any = true;
	}
	if (!any && errno)
		pr_warning("%s: %s: %s", s->peer, what, strerror(errno));
	ERR_clear_error();
}

static void set_peer(struct session *s)
{
	snprintf(s->peer, sizeof(s->peer), "%s (CN %s)", s->addr, s->cn);
}

/*
 * The CN is untrusted: accept only what netrv-pki issues (letters, digits,
 * '.', '_', '-'; not starting with '.'), since it names WAL directories
 * and log lines.
 */
static int peer_cn(struct session *s, char *why, size_t whylen)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	X509 *cert = SSL_get1_peer_certificate(ssl);
	X509_NAME *name;
	unsigned char *utf8 = NULL;
	char esc[200];
	int idx, len, ret = -1;

	if (!cert) {
		snprintf(why, whylen, "no client certificate");
		return -1;
	}
	name = X509_get_subject_name(cert);
	idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (idx < 0) {
		snprintf(why, whylen, "certificate has no CN");
		goto out;
	}
	len = ASN1_STRING_to_UTF8(
		&utf8,
		X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (len <= 0 || len > NODE_NAME_MAX || utf8[0] == '.') {
		snprintf(
			why, whylen,
			"certificate CN '%s' is not a node name (1-%d bytes, not starting with '.')",
			len > 0 ? escape_bytes(utf8, (size_t)len, esc,
					       sizeof(esc)) :
				  "",
			NODE_NAME_MAX);
		goto out;
	}
	for (int i = 0; i < len; i++) {
		unsigned char c = utf8[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '.' && c != '_' &&
		    c != '-') {
			snprintf(
				why, whylen,
				"certificate CN '%s' has a character outside [A-Za-z0-9._-] at %d",
				escape_bytes(utf8, (size_t)len, esc,
					     sizeof(esc)),
				i);
			goto out;
		}
	}
	memcpy(s->cn, utf8, (size_t)len);
	s->cn[len] = 0;
	ret = 0;
out:
	OPENSSL_free(utf8);
	X509_free(cert);
	return ret;
}

int session_send(struct session *s, enum frame_type type,
		 const ProtobufCMessage *msg)
{
	uint8_t stackbuf[256], *buf = stackbuf;
	size_t len = msg_frame_size(msg);
	long n;
	int ret = -1;

	if (s->closing && type != FRAME_GOODBYE)
		return -1;
	if (len > sizeof(stackbuf) && !(buf = malloc(len)))
		return -1;
	n = msg_pack(type, msg, buf, len);
	if (n > 0 && !bufferevent_write(s->bev, buf, (size_t)n))
		ret = 0;
	if (buf != stackbuf)
		free(buf);
	return ret;
}

/*
 * A refused connection is closed gracefully: once the Goodbye is written,
 * shut down our sending side and read (discarding) until the peer closes,
 * so that closing with unread input does not reset the connection and
 * destroy the Goodbye in flight.  Bounded by the timeouts set below.
 */
static void closing_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void closing_write_cb(struct bufferevent *bev, void *arg)
{
	if (!evbuffer_get_length(bufferevent_get_output(bev)))
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void closing_event_cb(struct bufferevent *bev, short what, void *arg)
{
	session_free(arg);
}

void session_refuse(struct session *s, Netrv__GoodbyeCode code, const char *fmt,
		    ...)
{
	Netrv__Goodbye bye = NETRV__GOODBYE__INIT;
	struct timeval tv = { 2, 0 };
	char reason[512];
	va_list ap;

	if (s->closing)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (code == NETRV__GOODBYE_CODE__GOODBYE_NORMAL ||
	    code == NETRV__GOODBYE_CODE__GOODBYE_SHUTDOWN)
		pr_info("%s: closing: %s", s->peer, reason);
	else
		pr_warning("%s: refused: %s", s->peer, reason);
	bye.code = code;
	bye.reason = reason;
	if (s->tls_up)
		session_send(s, FRAME_GOODBYE, &bye.base);
	s->closing = true;
	if (s->node) {
		pipeline_session_gone(s->ing->p, s->node, s);
		s->node = NULL;
	}
	if (!s->tls_up) {
		session_free(s);
		return;
	}
	bufferevent_setwatermark(s->bev, EV_READ, 0, 0);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_setcb(s->bev, closing_read_cb, closing_write_cb,
			  closing_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	closing_write_cb(s->bev, s);
}

void session_pause(struct session *s, bool pause)
{
	if (s->closing || s->paused == pause)
		return;
	s->paused = pause;
	if (pause) {
		bufferevent_disable(s->bev, EV_READ);
	} else {
		bufferevent_enable(s->bev, EV_READ);
		/* bytes already buffered raise no new read event */
		if (evbuffer_get_length(bufferevent_get_input(s->bev)))
			bufferevent_trigger(s->bev, EV_READ,
					    BEV_TRIG_IGNORE_WATERMARKS |
						    BEV_TRIG_DEFER_CALLBACKS);
	}
}

const char *session_peer(const struct session *s)
{
	return s->peer;
}

/* Return: 0 to go on, -1 when the session was closed (do not touch it). */
static int handle_frame(struct session *s, const struct frame *f)
{
	struct ingest *ing = s->ing;

	pr_debug("%s: %s frame, %u bytes", s->peer, frame_type_str(f->type),
		 f->len);
	if (!s->node) {
		if (f->type != FRAME_HELLO) {
			session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
				       "first frame is %s, expected hello",
				       frame_type_str(f->type));
			return -1;
		}
		s->node = pipeline_hello(ing->p, s, s->cn, f);
		return s->node ? 0 : -1;
	}
	return pipeline_frame(ing->p, s->node, s, f);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct pipeline *p = s->ing->p;

	while (!s->paused && evbuffer_get_length(in)) {
		struct evbuffer_iovec v;
		enum frame_status st;
		struct frame f;
		size_t used;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		st = frame_decoder_feed(s->dec, v.iov_base, v.iov_len, &used,
					&f);
		if (st == FRAME_OK) {
			int r = handle_frame(s, &f);

			if (r < 0)
				goto out; /* s is closing or gone */
			evbuffer_drain(in, used);
		} else if (st == FRAME_NEED_MORE) {
			evbuffer_drain(in, used);
		} else {
			session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
				       "bad frame: %s (max_frame %u)",
				       frame_status_str(st),
				       s->ing->cfg.max_frame);
			goto out;
		}
	}
out:
	pipeline_read_done(p);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		char why[128];

		s->tls_up = true;
		if (peer_cn(s, why, sizeof(why))) {
			session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_IDENTITY,
				       "%s", why);
			return;
		}
		set_peer(s);
		pr_info("%s: TLS up", s->peer);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		pr_warning(
			"%s: closing: silent for longer than the idle timeout",
			s->peer);
	} else if (what & BEV_EVENT_EOF) {
		if (frame_decoder_finish(s->dec) == FRAME_ERR_TRUNCATED)
			pr_warning(
				"%s: refused: connection ended inside a frame (truncated)",
				s->peer);
		else
			pr_info("%s: connection closed by peer", s->peer);
		drain_bev_errors(s, "TLS");
	} else if (what & BEV_EVENT_ERROR) {
		drain_bev_errors(s, s->tls_up ? "connection error" :
						"TLS handshake failed");
	}
	session_free(s);
}

static void accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct ingest *ing = arg;
	struct session *s = calloc(1, sizeof(*s));
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
	struct timeval idle = { (time_t)(ing->cfg.idle_ns / 1000000000ull),
				(suseconds_t)(ing->cfg.idle_ns % 1000000000ull /
					      1000) };
	SSL *ssl;

	getnameinfo(sa, (socklen_t)salen, host, sizeof(host), serv,
		    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
	if (!s || !(s->dec = frame_decoder_create(ing->cfg.max_frame)) ||
	    !(ssl = SSL_new(ing->ctx))) {
		pr_err("%s:%s: out of memory, connection dropped", host, serv);
		evutil_closesocket(fd);
		if (s)
			frame_decoder_destroy(s->dec);
		free(s);
		return;
	}
	snprintf(s->addr, sizeof(s->addr), "%s:%s", host, serv);
	snprintf(s->peer, sizeof(s->peer), "%s", s->addr);
	s->ing = ing;
	s->bev = bufferevent_openssl_socket_new(ing->base, fd, ssl,
						BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		pr_err("%s: cannot make a TLS bufferevent", s->peer);
		SSL_free(ssl);
		evutil_closesocket(fd);
		frame_decoder_destroy(s->dec);
		free(s);
		return;
	}
	s->next = ing->sessions;
	if (s->next)
		s->next->prev = s;
	ing->sessions = s;
	bufferevent_setcb(s->bev, read_cb, NULL, event_cb, s);
	/* read at most a few frames ahead of what was processed */
	bufferevent_setwatermark(s->bev, EV_READ, 0,
				 2 * (size_t)ing->cfg.max_frame + 4096);
	if (ing->cfg.idle_ns)
		bufferevent_set_timeouts(s->bev, &idle, NULL);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void listener_error_cb(struct evconnlistener *lst, void *arg)
{
	pr_err("accept: %m (connections are refused until this clears)");
}

/* "HOST:PORT" or "[V6]:PORT"; port 0 is allowed (any free port). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
			int *sslen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res;
	char host[256];
	const char *colon = strrchr(listen, ':');
	size_t hl;

	if (!colon || colon == listen)
		return -1;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (getaddrinfo(host, colon + 1, &hints, &res))
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static SSL_CTX *tls_context(const struct ingest_config *cfg)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
		log_ssl_errors(cfg->cert,
			       "cannot load the collector certificate");
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		log_ssl_errors(cfg->key, "cannot load the collector key");
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca, NULL) != 1) {
		log_ssl_errors(cfg->ca, "cannot load the cluster CA");
		goto fail;
	}
	SSL_CTX_set_verify(
		ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

struct ingest *ingest_create(struct event_base *base,
			     const struct ingest_config *cfg,
			     struct pipeline *p)
{
	struct ingest *ing = calloc(1, sizeof(*ing));
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int sslen;

	if (!ing)
		return NULL;
	ing->base = base;
	ing->cfg = *cfg;
	ing->p = p;
	if (parse_listen(cfg->listen, &ss, &sslen)) {
		pr_err("listen address '%s' is not HOST:PORT", cfg->listen);
		goto fail;
	}
	ing->ctx = tls_context(cfg);
	if (!ing->ctx)
		goto fail;
	ing->lst = evconnlistener_new_bind(base, accept_cb, ing,
					   LEV_OPT_CLOSE_ON_FREE |
						   LEV_OPT_REUSEABLE |
						   LEV_OPT_CLOSE_ON_EXEC,
					   128, (struct sockaddr *)&ss, sslen);
	if (!ing->lst) {
		pr_err("cannot listen on %s: %m", cfg->listen);
		goto fail;
	}
	evconnlistener_set_error_cb(ing->lst, listener_error_cb);
	if (!getsockname(evconnlistener_get_fd(ing->lst),
			 (struct sockaddr *)&ss, &len))
		ing->port =
			ntohs(ss.ss_family == AF_INET6 ?
				      ((struct sockaddr_in6 *)&ss)->sin6_port :
				      ((struct sockaddr_in *)&ss)->sin_port);
	pr_notice("listening on %s (port %d)", cfg->listen, ing->port);
	return ing;
fail:
	ingest_destroy(ing);
	return NULL;
}

int ingest_port(const struct ingest *ing)
{
	return ing->port;
}

void ingest_close_all(struct ingest *ing, Netrv__GoodbyeCode code,
		      const char *reason)
{
	struct session *s = ing->sessions, *next;

	for (; s; s = next) {
		next = s->next;
		if (!s->closing)
			session_refuse(s, code, "%s", reason);
	}
}

void ingest_destroy(struct ingest *ing)
{
	if (!ing)
		return;
	while (ing->sessions)
		session_free(ing->sessions);
	if (ing->lst)
		evconnlistener_free(ing->lst);
	SSL_CTX_free(ing->ctx);
	free(ing);
}
