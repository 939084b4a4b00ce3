// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * transport.c - the agent's side of the session with the collector.
 *
 * One TLS connection (OpenSSL on a libevent bufferevent, mutual auth: we
 * check the collector against our CA and name, it checks our certificate).
 * Hello -> HelloAck(last_seq) -> Schema -> batches from the spool after
 * last_seq, then new ones as they are spooled.  The spool is the only
 * source: a batch is sent by reading it back, so resending after a
 * reconnect or restart is the same path as sending live.  At most
 * max_unacked bytes (or 256 batches) are in flight; beyond that batches
 * simply wait in the spool - a slow collector costs disk, not events.
 * Acks drop spool segments.  Batches are compressed when the collector's
 * HelloAck accepts it (and the config allows); one spooled compressed and
 * resent to a collector that does not accept it is inflated on the way.
 * The batches one pump sends go out in one write, so in one TLS record
 * (or a few, at 16 KB each): each record costs a syscall and a cipher
 * set-up whatever its size.  Heartbeats carry the watermark and clock
 * status when nothing else was sent for a heartbeat period and the
 * watermark moved past what the collector has (an idle node), and at least
 * once a second (round-trip timing, liveness).  A lost
 * connection is retried after a back-off that doubles up to a limit, with
 * +-25% jitter so a restarted collector is not hit by all nodes at once.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define LOG_SUBSYS "transport"
#include "agent.h"
#include "clocks.h"
#include "log.h"
#include "msg.h"

#define MAX_INFLIGHT_BATCHES 256

enum tstate { T_DOWN, T_CONNECTING, T_HELLO, T_STREAMING };

struct transport {
	struct event_base *base;
	struct transport_params p;
	struct spool *spool;
	const struct schema *schema;
	struct transport_source *src;
	SSL_CTX *ctx;
	struct bufferevent *bev;
	struct frame_decoder *dec;
	enum tstate state;
	uint64_t next_send, acked, sent_wm;
	/* the watermark the collector has from us in this session */
	uint64_t told_wm;
	/* the newest spooled batch and its watermark (transport_kick) */
	uint64_t kick_seq, kick_wm;
	uint64_t backoff_ns;
	uint64_t last_tx_ns;
	uint64_t last_hb_ns; /* monotonic: last heartbeat sent */
	/* the last echoed heartbeat: its sent_ns, and our TAI at the Ack */
	uint64_t echo_sent_ns, echo_recv_ns;
	uint64_t session_id;
	char boot_id[64];
	struct event *retry, *hb;
	struct bytebuf buf, plain, burst;
	uint32_t max_frame;
	bool peer_deflate, peer_columns;
};

static void connect_now(evutil_socket_t fd, short what, void *arg);

static void log_ssl_errors(struct transport *t)
{
	unsigned long e;

	while ((e = bufferevent_get_openssl_error(t->bev))) {
		char s[256];

		ERR_error_string_n(e, s, sizeof(s));
		pr_err("TLS: %s (check collector.ca/cert/key and that the collector trusts our CA)",
		       s);
	}
}

static void schedule_retry(struct transport *t)
{
	uint64_t d = t->backoff_ns, r = 0;
	struct timeval tv;

	getrandom(&r, sizeof(r), 0);
	d = d * 3 / 4 + (d / 2 ? r % (d / 2) : 0); /* +-25% */
	tv.tv_sec = d / NSEC_PER_SEC;
	tv.tv_usec = d % NSEC_PER_SEC / 1000;
	evtimer_add(t->retry, &tv);
	t->backoff_ns *= 2;
	if (t->backoff_ns > t->p.backoff_max_ns)
		t->backoff_ns = t->p.backoff_max_ns;
	pr_info("reconnecting in %llu ms", (unsigned long long)d / 1000000);
}

static void drop_conn(struct transport *t, bool retry)
{
	if (t->bev) {
		log_ssl_errors(t);
		bufferevent_free(t->bev);
		t->bev = NULL;
	}
	if (t->dec) {
		frame_decoder_destroy(t->dec);
		t->dec = NULL;
	}
	t->state = T_DOWN;
	if (retry)
		schedule_retry(t);
}

static int send_msg(struct transport *t, enum frame_type type,
		    const ProtobufCMessage *m)
{
	long len;

	t->buf.len = 0;
	if (bytebuf_reserve(&t->buf, msg_frame_size(m)))
		return -1;
	len = msg_pack(type, m, t->buf.data, t->buf.cap);
	if (len < 0 || bufferevent_write(t->bev, t->buf.data, (size_t)len))
		return -1;
	t->last_tx_ns = clocks_now(CLOCK_MONOTONIC);
	return 0;
}

/*
 * Queue what pump() gathered in t->burst, batches @first.. up to
 * t->next_send, as one write; if that fails they are sent again later.
 */
static void pump_flush(struct transport *t, uint64_t first, uint64_t told_wm)
{
	if (!t->burst.len)
		return;
	if (bufferevent_write(t->bev, t->burst.data, t->burst.len)) {
		pr_err("cannot queue batches: %m");
		t->next_send = first;
		t->told_wm = told_wm;
	} else {
		t->last_tx_ns = clocks_now(CLOCK_MONOTONIC);
	}
	t->burst.len = 0;
}

static void pump(struct transport *t)
{
	struct evbuffer *out;
	struct spool_info info;
	uint64_t first = t->next_send, told_wm = t->told_wm;

	if (t->state != T_STREAMING)
		return;
	out = bufferevent_get_output(t->bev);
	t->burst.len = 0;
	while (t->next_send < spool_next_seq(t->spool) &&
	       evbuffer_get_length(out) + t->burst.len <
		       t->p.max_unacked_bytes &&
	       t->next_send - t->acked <= MAX_INFLIGHT_BATCHES) {
		const struct bytebuf *frame = &t->buf;
		int r = spool_read(t->spool, t->next_send, &t->buf, &info);

		if (r < 0) {
			pr_err("spool read of batch %llu: %m",
			       (unsigned long long)t->next_send);
			break;
		}
		if (r == 0) { /* dropped: the spool was full */
			uint64_t first = spool_first_seq(t->spool);

			t->next_send =
				first > t->next_send ? first : t->next_send + 1;
			continue;
		}
		if (((info.flags & SPOOL_DEFLATED) && !t->peer_deflate) ||
		    ((info.flags & SPOOL_COLUMNS) && !t->peer_columns)) {
			/* spooled compressed for an earlier collector */
			if (encoder_inflate_frame(t->schema, t->buf.data,
						  t->buf.len, &t->plain)) {
				pr_err("batch %llu in the spool is damaged: %m",
				       (unsigned long long)t->next_send);
				t->next_send++;
				continue;
			}
			frame = &t->plain;
		}
		if (bytebuf_reserve(&t->burst, frame->len)) {
			pr_err("cannot queue batch: %m");
			break;
		}
		memcpy(t->burst.data + t->burst.len, frame->data, frame->len);
		t->burst.len += frame->len;
		t->sent_wm = info.last_ns;
		if (t->next_send == t->kick_seq && t->kick_wm > t->told_wm)
			t->told_wm = t->kick_wm;
		t->next_send++;
	}
	pump_flush(t, first, told_wm);
}

bool transport_idle(const struct transport *t)
{
	return t->state == T_STREAMING &&
	       t->next_send == spool_next_seq(t->spool) &&
	       t->acked + 1 >= t->next_send;
}

static void on_hello_ack(struct transport *t, const Netrv__HelloAck *a)
{
	uint64_t first = spool_first_seq(t->spool);

	if (a->last_seq >= spool_next_seq(t->spool))
		pr_warning(
			"collector holds seq %llu but our spool ends before %llu: was the spool deleted?",
			(unsigned long long)a->last_seq,
			(unsigned long long)spool_next_seq(t->spool));
	t->acked = a->last_seq;
	t->told_wm = 0;
	spool_ack(t->spool, a->last_seq);
	t->next_send = a->last_seq + 1;
	if (t->next_send < first)
		t->next_send = first;
	if (t->next_send > spool_next_seq(t->spool))
		t->next_send = spool_next_seq(t->spool);
	if (a->max_frame && a->max_frame < FRAME_HARD_MAX)
		t->max_frame = a->max_frame;
	t->peer_deflate = a->accepts_deflate;
	t->peer_columns = a->accepts_columns;
	if (t->src->peer_codec)
		t->src->peer_codec(t->src, t->p.deflate && a->accepts_deflate,
				   t->p.deflate && a->accepts_columns,
				   a->max_frame);
	if (send_msg(t, FRAME_SCHEMA, &t->schema->pb.base)) {
		pr_err("cannot send schema: %m");
		drop_conn(t, true);
		return;
	}
	pr_info("session up: collector %s holds up to seq %llu, resending from %llu",
		a->collector_version ? a->collector_version : "?",
		(unsigned long long)a->last_seq,
		(unsigned long long)t->next_send);
	t->state = T_STREAMING;
	t->backoff_ns = t->p.backoff_min_ns;
	pump(t);
}

/* Returns false when the connection was dropped. */
static bool on_frame(struct transport *t, const struct frame *f)
{
	ProtobufCMessage *m = msg_unpack(f, NULL);

	if (!m) {
		pr_err("malformed %s frame from the collector",
		       frame_type_str(f->type));
		drop_conn(t, true);
		return false;
	}
	switch (f->type) {
	case FRAME_HELLO_ACK:
		if (t->state == T_HELLO)
			on_hello_ack(t, (Netrv__HelloAck *)m);
		break;
	case FRAME_ACK: {
		Netrv__Ack *a = (Netrv__Ack *)m;

		if (a->echo_sent_ns) {
			/* round-trip timing for the collector (heartbeat) */
			t->echo_recv_ns = clocks_now(CLOCK_TAI);
			t->echo_sent_ns = a->echo_sent_ns;
		}
		if (a->seq > t->acked && a->seq < t->next_send) {
			t->acked = a->seq;
			spool_ack(t->spool, a->seq);
		}
		pump(t);
		break;
	}
	case FRAME_GOODBYE: {
		Netrv__Goodbye *g = (Netrv__Goodbye *)m;

		pr_warning("collector said goodbye (%d): %s", g->code,
			   g->reason ? g->reason : "");
		protobuf_c_message_free_unpacked(m, NULL);
		drop_conn(t, true);
		return false;
	}
	default:
		pr_warning("unexpected %s frame ignored",
			   frame_type_str(f->type));
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return t->state != T_DOWN;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct transport *t = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in)) {
		size_t len = evbuffer_get_length(in), used = 0;
		const uint8_t *data = evbuffer_pullup(in, -1);
		struct frame f;
		enum frame_status st;

		st = frame_decoder_feed(t->dec, data, len, &used, &f);
		if (st == FRAME_OK) {
			bool alive = on_frame(t, &f);

			if (!alive)
				return;
			evbuffer_drain(in, used);
			continue;
		}
		evbuffer_drain(in, used);
		if (st == FRAME_NEED_MORE)
			return;
		pr_err("bad stream from the collector: %s",
		       frame_status_str(st));
		drop_conn(t, true);
		return;
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	pump(arg);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct transport *t = arg;

	if (what & BEV_EVENT_CONNECTED) {
		Netrv__Hello h = NETRV__HELLO__INIT;

		h.node = (char *)t->p.node;
		h.boot_id = t->boot_id;
		h.agent_version = NETRV_VERSION;
		h.session_id = t->session_id;
		h.trace_clock = (char *)t->p.trace_clock;
		t->dec = frame_decoder_create(FRAME_DEFAULT_MAX);
		if (!t->dec || send_msg(t, FRAME_HELLO, &h.base)) {
			drop_conn(t, true);
			return;
		}
		t->state = T_HELLO;
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		if (what & BEV_EVENT_ERROR)
			pr_warning("connection to %s:%s failed: %s", t->p.host,
				   t->p.port,
				   evutil_socket_error_to_string(
					   EVUTIL_SOCKET_ERROR()));
		else
			pr_warning("collector closed the connection");
		drop_conn(t, true);
	}
}

static void connect_now(evutil_socket_t fd, short what, void *arg)
{
	struct transport *t = arg;
	SSL *ssl = SSL_new(t->ctx);
	X509_VERIFY_PARAM *vp;

	if (!ssl)
		goto fail;
	vp = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, t->p.host) != 1) {
		SSL_set_tlsext_host_name(ssl, t->p.host);
		SSL_set1_host(ssl, t->p.host);
	}
	t->bev = bufferevent_openssl_socket_new(
		t->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!t->bev) {
		SSL_free(ssl);
		goto fail;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(t->bev, 1);
	bufferevent_setcb(t->bev, on_read, on_write, on_event, t);
	bufferevent_setwatermark(t->bev, EV_WRITE, t->p.max_unacked_bytes / 2,
				 0);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	t->state = T_CONNECTING;
	if (bufferevent_socket_connect_hostname(
		    t->bev, NULL, AF_UNSPEC, t->p.host, atoi(t->p.port)) == 0)
		return;
fail:
	pr_warning("cannot connect to %s:%s", t->p.host, t->p.port);
	drop_conn(t, true);
}

/*
 * One-shot timer, re-armed for when the heartbeat is due: heartbeat after
 * the last frame sent (a timer polling 4x per period woke the agent
 * 50 times a second for nothing).
 */
static void hb_arm(struct transport *t, uint64_t in_ns)
{
	struct timeval tv = { .tv_sec = in_ns / NSEC_PER_SEC,
			      .tv_usec = in_ns % NSEC_PER_SEC / 1000 };

	if (event_add(t->hb, &tv))
		pr_err("cannot arm the heartbeat timer");
}

/* The watermark a heartbeat may carry now, with the clock status. */
static uint64_t hb_watermark(struct transport *t, Netrv__ClockStatus *cs)
{
	uint64_t wm = 0;

	t->src->status(t->src, &wm, cs);
	/* Never promise past what is still waiting in the spool. */
	if (t->next_send < spool_next_seq(t->spool) && wm > t->sent_wm)
		wm = t->sent_wm;
	return wm;
}

/*
 * Arm the heartbeat for when it is due: a heartbeat period after the last
 * frame if the collector lacks our watermark (@news: an idle node's drains
 * move it without sending batches), else 1 s after the last heartbeat
 * (round-trip timing).  Only a drain makes news (transport_kick), so a
 * busy node is not woken in between for nothing.
 */
static void hb_schedule(struct transport *t, uint64_t now, bool news)
{
	uint64_t due = t->last_hb_ns + NSEC_PER_SEC;

	if (news && t->last_tx_ns + t->p.heartbeat_ns < due)
		due = t->last_tx_ns + t->p.heartbeat_ns;
	hb_arm(t, due > now ? due - now : 0);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct transport *t = arg;
	Netrv__Heartbeat hb = NETRV__HEARTBEAT__INIT;
	Netrv__ClockStatus cs;
	uint64_t wm, now = clocks_now(CLOCK_MONOTONIC);
	uint64_t since = now - t->last_tx_ns, since_hb = now - t->last_hb_ns;
	bool news;

	if (t->state != T_STREAMING) {
		hb_arm(t, t->p.heartbeat_ns);
		return;
	}
	wm = hb_watermark(t, &cs);
	news = wm > t->told_wm;
	if (since_hb < (uint64_t)NSEC_PER_SEC &&
	    (since < t->p.heartbeat_ns || !news)) {
		hb_schedule(t, now, news);
		return;
	}
	t->last_hb_ns = now;
	hb_schedule(t, now, false);
	if (news)
		t->told_wm = wm;
	hb.watermark_ns = wm;
	hb.clock = &cs;
	hb.last_seq = t->next_send - 1;
	hb.echo_sent_ns = t->echo_sent_ns;
	hb.echo_recv_ns = t->echo_recv_ns;
	hb.sent_ns = clocks_now(CLOCK_TAI);
	if (send_msg(t, FRAME_HEARTBEAT, &hb.base))
		pr_warning("cannot queue heartbeat: %m");
}

void transport_kick(struct transport *t, uint64_t batch_wm)
{
	Netrv__ClockStatus cs;

	t->kick_seq = spool_next_seq(t->spool) - 1;
	t->kick_wm = batch_wm;
	pump(t);
	if (t->state == T_STREAMING && hb_watermark(t, &cs) > t->told_wm)
		hb_schedule(t, clocks_now(CLOCK_MONOTONIC), true);
}

static SSL_CTX *make_ctx(const struct transport_params *p)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, p->ca, NULL) != 1) {
		pr_err("cannot load CA %s", p->ca);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, p->cert) != 1) {
		pr_err("cannot load certificate %s", p->cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, p->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		pr_err("cannot load key %s or it does not match %s", p->key,
		       p->cert);
		goto fail;
	}
	return ctx;
fail:
	for (unsigned long e; (e = ERR_get_error());) {
		char s[256];

		ERR_error_string_n(e, s, sizeof(s));
		pr_err("  %s", s);
	}
	SSL_CTX_free(ctx);
	return NULL;
}

struct transport *transport_create(struct event_base *base,
				   const struct transport_params *p,
				   struct spool *spool,
				   const struct schema *schema,
				   struct transport_source *src)
{
	struct transport *t = calloc(1, sizeof(*t));
	struct timeval tv;
	FILE *f;

	if (!t)
		return NULL;
	t->base = base;
	t->p = *p;
	t->spool = spool;
	t->schema = schema;
	t->src = src;
	t->backoff_ns = p->backoff_min_ns;
	t->next_send = spool_first_seq(spool);
	getrandom(&t->session_id, sizeof(t->session_id), 0);
	f = fopen("/proc/sys/kernel/random/boot_id", "r");
	if (f) {
		if (fgets(t->boot_id, sizeof(t->boot_id), f))
			t->boot_id[strcspn(t->boot_id, "\n")] = '\0';
		fclose(f);
	}
	t->ctx = make_ctx(p);
	if (!t->ctx)
		goto fail;
	t->retry = evtimer_new(base, connect_now, t);
	t->hb = event_new(base, -1, 0, on_heartbeat, t);
	tv.tv_sec = p->heartbeat_ns / NSEC_PER_SEC;
	tv.tv_usec = p->heartbeat_ns % NSEC_PER_SEC / 1000;
	if (!t->retry || !t->hb || event_add(t->hb, &tv))
		goto fail;
	connect_now(-1, 0, t);
	return t;
fail:
	transport_destroy(t);
	return NULL;
}

void transport_destroy(struct transport *t)
{
	if (!t)
		return;
	if (t->bev && t->state == T_STREAMING) {
		Netrv__Goodbye g = NETRV__GOODBYE__INIT;

		g.code = NETRV__GOODBYE_CODE__GOODBYE_SHUTDOWN;
		g.reason = "agent stopping";
		send_msg(t, FRAME_GOODBYE, &g.base);
		/* best effort: flush what the socket takes now */
		bufferevent_flush(t->bev, EV_WRITE, BEV_FINISHED);
	}
	drop_conn(t, false);
	if (t->retry)
		event_free(t->retry);
	if (t->hb)
		event_free(t->hb);
	SSL_CTX_free(t->ctx);
	bytebuf_release(&t->buf);
	bytebuf_release(&t->plain);
	bytebuf_release(&t->burst);
	free(t);
}
