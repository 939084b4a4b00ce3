// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * loadgen.c - netrv-loadgen: N agents speaking the real protocol over
 * mutual TLS to a collector, for benchmarks and tests.
 *
 *   netrv-loadgen -C HOST:PORT -p PKI_DIR -n NODES -e EVENTS [options]
 *
 * Every agent connects with its own certificate (PKI_DIR/NAME.crt, made by
 * deploy/pki/netrv-pki), sends Hello, the schema, then batches of a
 * synthetic event "netrv:load" whose fields are a pure function of (node,
 * k): k, a 64-bit hash of both, a small mode and a resource name.  A test
 * can therefore check the content of every event it finds in the
 * collector's event log.  Like a real agent it keeps every unacknowledged
 * batch in a spool (at most --window batches in flight), reconnects when
 * the collector goes away and resends what the HelloAck says is missing.
 * When every event is acknowledged it keeps sending heartbeats for
 * --linger, so the merge can release the tail, then says Goodbye.
 *
 * With --locks P every P-th event is a DLM-shaped lock event instead
 * (dlm:dlm_lock_start, dlm:dlm_ast, dlm:dlm_unlock_start with the fields
 * of the kernel's tracepoints): each node cycles request PR, grant,
 * unlock, -DLM_EUNLOCK over 16 shared resources "res-0".."res-15", all
 * compatible.  --conflict NAME injects a violation: the first two nodes
 * both take NAME in EX from a quarter to three quarters of their events
 * (paced with --rate, the holds overlap in time: a definite violation).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define LOG_SUBSYS "loadgen"
#include "clocks.h"
#include "evpack.h"
#include "log.h"
#include "msg.h"

#include "loadgen_event.h"

struct spooled {
	uint64_t seq;
	uint8_t *frame;
	size_t len;
};

struct agent {
	struct lg *lg;
	char name[64];
	SSL_CTX *ctx;
	struct bufferevent *bev;
	struct frame_decoder *dec;
	struct event *retry_ev;
	bool up; /* HelloAck seen */
	uint64_t next_k; /* next event to generate */
	uint64_t next_seq; /* seq of the next new batch */
	uint64_t acked;
	struct spooled *spool; /* ring of window entries, seq order */
	size_t sp_head, sp_len;
	uint64_t last_t; /* trace time of the last event generated */
	uint64_t done_ns; /* when everything was acked, 0 before */
	uint64_t resent, reconnects;
	bool finished;
	/* the last Ack with an echo: its echo_sent_ns, our TAI on arrival */
	uint64_t echo_sent, echo_recv;
};

struct lg {
	struct event_base *base;
	const char *connect, *pki, *prefix;
	unsigned int nodes, first, batch, window;
	uint64_t events, rate, eps_ns, linger_ns, deadline_ns, hb_ns;
	struct agent *agents;
	unsigned int finished;
	struct event *tick_ev;
	uint64_t start_ns;
	int64_t tai_off; /* CLOCK_TAI - CLOCK_MONOTONIC */
	int64_t skew; /* --skew: the agents' TAI is off by this much */
	bool ptp; /* --ptp: claim a synchronised PTP clock */
	uint8_t *schema_frame;
	size_t schema_len;
	/* batch building, shared: one agent builds at a time */
	uint64_t *deltas;
	uint32_t *types, *cpus;
	struct bytebuf fields;
	uint64_t sent_batches;
	uint64_t schema_id;
	unsigned int lock_period; /* --locks: every P-th event is a lock step */
	const char *conflict; /* --conflict: resource both node 0 and 1 take */
};

/* Event type ids of the schema with lock events. */
enum { LG_LOAD, LG_LOCK_START, LG_AST, LG_UNLOCK_START };
#define LG_EUNLOCK (-0x10002)
#define LG_CONFLICT_LKB 1000000u

static uint64_t now_mono(void)
{
	return clocks_now(CLOCK_MONOTONIC);
}

static void int_field(Netrv__Field *f, const char *name, unsigned int size,
		      bool is_signed)
{
	netrv__field__init(f);
	f->name = (char *)name;
	f->kind = NETRV__FIELD_KIND__FIELD_INT;
	f->size = size;
	f->is_signed = is_signed;
	f->type = is_signed ? "int" : size == 1 ? "u8" : "unsigned int";
}

/* The DLM-shaped types, after dlm:* in include/trace/events/dlm.h. */
static void build_lock_types(Netrv__EventType *t, Netrv__Field *f,
			     Netrv__Field **fp)
{
	/* lock_start: ls_id lkb_id mode flags res_name */
	int_field(&f[0], "ls_id", 4, false);
	int_field(&f[1], "lkb_id", 4, false);
	int_field(&f[2], "mode", 4, true);
	int_field(&f[3], "flags", 4, false);
	/* ast: ls_id lkb_id sb_flags sb_status res_name */
	int_field(&f[5], "ls_id", 4, false);
	int_field(&f[6], "lkb_id", 4, false);
	int_field(&f[7], "sb_flags", 1, false);
	int_field(&f[8], "sb_status", 4, true);
	/* unlock_start: ls_id lkb_id flags res_name */
	int_field(&f[10], "ls_id", 4, false);
	int_field(&f[11], "lkb_id", 4, false);
	int_field(&f[12], "flags", 4, false);
	for (int i = 4; i <= 13; i += i == 4 ? 5 : 4) {
		netrv__field__init(&f[i]);
		f[i].name = "res_name";
		f[i].kind = NETRV__FIELD_KIND__FIELD_BYTES;
		f[i].size = 1;
		f[i].type = "__u8[]";
	}
	for (int i = 0; i < 14; i++)
		fp[i] = &f[i];
	for (int i = 0; i < 3; i++) {
		netrv__event_type__init(&t[i]);
		t[i].id = (uint32_t)(LG_LOCK_START + i);
		t[i].system = "dlm";
	}
	t[0].name = "dlm_lock_start";
	t[0].n_fields = 5;
	t[0].fields = &fp[0];
	t[1].name = "dlm_ast";
	t[1].n_fields = 5;
	t[1].fields = &fp[5];
	t[2].name = "dlm_unlock_start";
	t[2].n_fields = 4;
	t[2].fields = &fp[10];
}

static void build_schema(struct lg *lg)
{
	Netrv__Field f[4], *fp[4];
	Netrv__EventType t = NETRV__EVENT_TYPE__INIT, *tp[4] = { &t };
	Netrv__EventType lt[3];
	Netrv__Field lf[14], *lfp[14];
	Netrv__Schema s = NETRV__SCHEMA__INIT;
	static const char *const names[4] = { "k", "h", "mode", "name" };

	for (int i = 0; i < 4; i++) {
		netrv__field__init(&f[i]);
		f[i].name = (char *)names[i];
		f[i].kind = i < 3 ? NETRV__FIELD_KIND__FIELD_INT :
				    NETRV__FIELD_KIND__FIELD_STRING;
		f[i].size = i < 2 ? 8 : 4;
		f[i].is_signed = i == 2;
		f[i].type = i < 2 ? "u64" : i == 2 ? "int" : "char[]";
		fp[i] = &f[i];
	}
	t.id = 0;
	t.system = LOADGEN_SYSTEM;
	t.name = LOADGEN_EVENT;
	t.n_fields = 4;
	t.fields = fp;
	s.schema_id = LOADGEN_SCHEMA_ID;
	s.n_types = 1;
	s.types = tp;
	if (lg->lock_period || lg->conflict) {
		build_lock_types(lt, lf, lfp);
		for (int i = 0; i < 3; i++)
			tp[i + 1] = &lt[i];
		s.n_types = 4;
		s.schema_id = LOADGEN_SCHEMA_ID + 1;
	}
	lg->schema_id = s.schema_id;
	lg->schema_len = msg_frame_size(&s.base);
	lg->schema_frame = malloc(lg->schema_len);
	msg_pack(FRAME_SCHEMA, &s.base, lg->schema_frame, lg->schema_len);
}

static void send_msg(struct agent *a, enum frame_type type,
		     const ProtobufCMessage *m)
{
	uint8_t buf[512];
	long n = msg_pack(type, m, buf, sizeof(buf));

	if (n > 0)
		bufferevent_write(a->bev, buf, (size_t)n);
}

/* The agents' TAI estimate: CLOCK_TAI, off by --skew. */
static uint64_t agent_tai(const struct lg *lg)
{
	return (uint64_t)((int64_t)clocks_now(CLOCK_TAI) + lg->skew);
}

static void clock_status(struct lg *lg, Netrv__ClockStatus *c)
{
	netrv__clock_status__init(c);
	c->source = lg->ptp ? NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP :
			      NETRV__CLOCK_SOURCE__CLOCK_SOURCE_NONE;
	c->synced = lg->ptp;
	if (lg->ptp)
		c->port_state = 9;
	c->tai_offset_ns = lg->tai_off + lg->skew;
	c->epsilon_ns = lg->eps_ns;
}

static int put_lock(struct lg *lg, unsigned int type, uint32_t ls, uint32_t lkb,
		    int64_t val, const char *res)
{
	struct bytebuf *b = &lg->fields;
	int r = evpack_put_u64(b, ls) || evpack_put_u64(b, lkb);

	switch (type) {
	case LG_LOCK_START: /* mode, flags */
		r = r || evpack_put_s64(b, val) || evpack_put_u64(b, 0);
		break;
	case LG_AST: /* sb_flags, sb_status */
		r = r || evpack_put_u64(b, 0) || evpack_put_s64(b, val);
		break;
	default: /* unlock: flags */
		r = r || evpack_put_u64(b, 0);
		break;
	}
	return r || evpack_put_bytes(b, res, strlen(res)) ? -1 : 0;
}

/*
 * If event @k of @a is a lock step, append its fields, set *@type and
 * return 1; 0: a load event; -1: out of memory.
 */
static int lock_step(struct agent *a, uint64_t k, uint32_t *type)
{
	static const unsigned int types[4] = { LG_LOCK_START, LG_AST,
					       LG_UNLOCK_START, LG_AST };
	static const int64_t vals[4] = { 3 /* PR */, 0, 0, LG_EUNLOCK };
	struct lg *lg = a->lg;
	uint64_t q1 = lg->events / 4, q3 = 3 * lg->events / 4, c;
	char res[32];

	if (lg->lock_period) {
		/* between two lock steps: no cycle of the node is cut */
		q1 = q1 - q1 % lg->lock_period + 1;
		q3 = q3 - q3 % lg->lock_period + 1;
	}
	if (lg->conflict && a - lg->agents < 2 && lg->events >= 8 &&
	    (k == q1 || k == q1 + 1 || k == q3 || k == q3 + 1)) {
		unsigned int step = (k == q1)	  ? 0 :
				    (k == q1 + 1) ? 1 :
				    (k == q3)	  ? 2 :
						    3;

		*type = types[step];
		return put_lock(lg, types[step], 2, LG_CONFLICT_LKB,
				step == 0 ? 5 /* EX */ : vals[step],
				lg->conflict) ?
			       -1 :
			       1;
	}
	if (!lg->lock_period || k % lg->lock_period)
		return 0;
	c = k / lg->lock_period;
	snprintf(res, sizeof(res), "res-%" PRIu64, (c / 4) % 16);
	*type = types[c % 4];
	return put_lock(lg, types[c % 4], 1, (uint32_t)(c / 4 + 1), vals[c % 4],
			res) ?
		       -1 :
		       1;
}

/* Make the next batch of @a and put it in the spool. */
static int make_batch(struct agent *a)
{
	struct lg *lg = a->lg;
	Netrv__Batch b = NETRV__BATCH__INIT;
	Netrv__ClockStatus clk;
	uint64_t n = lg->events - a->next_k, now = now_mono(), prev;
	struct spooled *sp;
	char name[32];

	if (n > lg->batch)
		n = lg->batch;
	lg->fields.len = 0;
	prev = a->last_t;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k = a->next_k + i, t = now > prev ? now : prev + 1;
		int len =
			snprintf(name, sizeof(name), "res-%" PRIu64, k % 1000);

		lg->deltas[i] = i ? t - prev : t - (prev ? prev : t);
		prev = t;
		lg->types[i] = 0;
		lg->cpus[i] = (uint32_t)(k % 4);
		switch (lock_step(a, k, &lg->types[i])) {
		case -1:
			return -1;
		case 1:
			continue;
		}
		if (evpack_put_u64(&lg->fields, k) ||
		    evpack_put_u64(&lg->fields, loadgen_hash(a->name, k)) ||
		    evpack_put_s64(&lg->fields, loadgen_mode(k)) ||
		    evpack_put_bytes(&lg->fields, name, (size_t)len))
			return -1;
	}
	b.seq = a->next_seq;
	b.schema_id = lg->schema_id;
	b.base_ns = a->last_t ? a->last_t : now;
	if (!a->last_t)
		lg->deltas[0] = 0;
	b.n_time_delta = b.n_event_type = b.n_cpu = n;
	b.time_delta = lg->deltas;
	b.event_type = lg->types;
	b.cpu = lg->cpus;
	b.fields.data = lg->fields.data;
	b.fields.len = lg->fields.len;
	b.watermark_ns = prev;
	clock_status(lg, &clk);
	b.clock = &clk;
	sp = &a->spool[(a->sp_head + a->sp_len) % lg->window];
	sp->seq = b.seq;
	sp->len = msg_frame_size(&b.base);
	sp->frame = malloc(sp->len);
	if (!sp->frame)
		return -1;
	msg_pack(FRAME_BATCH, &b.base, sp->frame, sp->len);
	a->sp_len++;
	a->last_t = prev;
	a->next_k += n;
	a->next_seq++;
	return 0;
}

static uint64_t allowed_events(struct agent *a)
{
	struct lg *lg = a->lg;
	uint64_t el;

	if (!lg->rate)
		return lg->events;
	el = now_mono() - lg->start_ns;
	return (uint64_t)((double)el * (double)lg->rate / 1e9) + lg->batch;
}

static void pump(struct agent *a)
{
	struct lg *lg = a->lg;

	if (!a->up)
		return;
	while (a->sp_len < lg->window && a->next_k < lg->events &&
	       a->next_k < allowed_events(a) &&
	       evbuffer_get_length(bufferevent_get_output(a->bev)) <
		       (4u << 20)) {
		struct spooled *sp;

		if (make_batch(a)) {
			pr_err("%s: out of memory", a->name);
			return;
		}
		sp = &a->spool[(a->sp_head + a->sp_len - 1) % lg->window];
		bufferevent_write(a->bev, sp->frame, sp->len);
		lg->sent_batches++;
	}
}

static void on_ack(struct agent *a, uint64_t seq)
{
	struct lg *lg = a->lg;

	if (seq > a->acked)
		a->acked = seq;
	while (a->sp_len && a->spool[a->sp_head].seq <= a->acked) {
		free(a->spool[a->sp_head].frame);
		a->spool[a->sp_head].frame = NULL;
		a->sp_head = (a->sp_head + 1) % lg->window;
		a->sp_len--;
	}
	if (!a->done_ns && a->next_k >= lg->events && !a->sp_len)
		a->done_ns = now_mono();
}

static void agent_connect(struct agent *a);

static void agent_down(struct agent *a, const char *why)
{
	struct timeval tv = { 0, 100000 };

	if (a->bev) {
		unsigned long e;

		while ((e = bufferevent_get_openssl_error(a->bev))) {
			char buf[256];

			ERR_error_string_n(e, buf, sizeof(buf));
			pr_debug("%s: %s", a->name, buf);
		}
		bufferevent_free(a->bev);
		a->bev = NULL;
	}
	frame_decoder_destroy(a->dec);
	a->dec = NULL;
	a->up = false;
	if (a->finished)
		return;
	pr_debug("%s: connection lost (%s); reconnecting", a->name, why);
	a->reconnects++;
	evtimer_add(a->retry_ev, &tv);
}

static void finish(struct agent *a)
{
	Netrv__Goodbye g = NETRV__GOODBYE__INIT;

	if (a->finished)
		return;
	g.reason = "load generated";
	if (a->bev)
		send_msg(a, FRAME_GOODBYE, &g.base);
	a->finished = true;
	a->lg->finished++;
	if (a->lg->finished == a->lg->nodes)
		event_base_loopexit(a->lg->base,
				    &(struct timeval){ 0, 200000 });
}

static void on_frame(struct agent *a, const struct frame *f)
{
	ProtobufCMessage *m = msg_unpack(f, NULL);

	if (!m) {
		agent_down(a, "malformed frame from the collector");
		return;
	}
	switch (f->type) {
	case FRAME_HELLO_ACK: {
		Netrv__HelloAck *h = (Netrv__HelloAck *)m;

		a->up = true;
		bufferevent_write(a->bev, a->lg->schema_frame,
				  a->lg->schema_len);
		on_ack(a, h->last_seq);
		/* resend what the collector does not hold */
		for (size_t i = 0; i < a->sp_len; i++) {
			struct spooled *sp =
				&a->spool[(a->sp_head + i) % a->lg->window];

			bufferevent_write(a->bev, sp->frame, sp->len);
			a->resent++;
		}
		if (!a->acked && a->next_seq == 1 && h->last_seq)
			a->next_seq = h->last_seq + 1;
		pump(a);
		break;
	}
	case FRAME_ACK:
		if (((Netrv__Ack *)m)->echo_sent_ns) {
			/* the agent's side of the round-trip timing */
			a->echo_recv = agent_tai(a->lg);
			a->echo_sent = ((Netrv__Ack *)m)->echo_sent_ns;
		}
		on_ack(a, ((Netrv__Ack *)m)->seq);
		pump(a);
		break;
	case FRAME_GOODBYE: {
		Netrv__Goodbye *g = (Netrv__Goodbye *)m;

		pr_info("%s: collector said goodbye (code %d): %s", a->name,
			g->code, g->reason);
		break;
	}
	default:
		break;
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (a->bev && evbuffer_get_length(in)) {
		struct evbuffer_iovec v;
		struct frame f;
		size_t used;
		enum frame_status st;

		evbuffer_peek(in, -1, NULL, &v, 1);
		st = frame_decoder_feed(a->dec, v.iov_base, v.iov_len, &used,
					&f);
		if (st == FRAME_OK) {
			on_frame(a, &f);
			if (!a->bev)
				return;
		} else if (st != FRAME_NEED_MORE) {
			agent_down(a, frame_status_str(st));
			return;
		}
		evbuffer_drain(in, used);
	}
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	pump(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct agent *a = arg;
	Netrv__Hello h = NETRV__HELLO__INIT;

	if (what & BEV_EVENT_CONNECTED) {
		h.node = a->name;
		h.boot_id = "loadgen";
		h.agent_version = "netrv-loadgen " NETRV_VERSION;
		h.session_id = ((uint64_t)rand() << 32) | (uint64_t)rand();
		h.trace_clock = "mono";
		send_msg(a, FRAME_HELLO, &h.base);
		return;
	}
	agent_down(a, what & BEV_EVENT_EOF ? "closed" : "error");
}

static void agent_connect(struct agent *a)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	SSL *ssl = SSL_new(a->ctx);

	if (!ssl)
		return;
	evutil_parse_sockaddr_port(a->lg->connect, (struct sockaddr *)&ss,
				   &len);
	a->dec = frame_decoder_create(FRAME_HARD_MAX);
	a->bev = bufferevent_openssl_socket_new(a->lg->base, -1, ssl,
						BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(a->bev, read_cb, write_cb, event_cb, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(a->bev, (struct sockaddr *)&ss, len))
		agent_down(a, "connect failed");
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	agent_connect(arg);
}

/* Every tick: rate pacing, heartbeats, finishing. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lg *lg = arg;
	uint64_t now = now_mono();
	static uint64_t last_hb;
	bool hb = now - last_hb >= lg->hb_ns;

	if (hb)
		last_hb = now;
	if (lg->deadline_ns && now > lg->deadline_ns) {
		pr_err("deadline reached with %u of %u agents done",
		       lg->finished, lg->nodes);
		event_base_loopbreak(lg->base);
		return;
	}
	for (unsigned int i = 0; i < lg->nodes; i++) {
		struct agent *a = &lg->agents[i];

		if (a->finished || !a->up)
			continue;
		pump(a);
		if (hb) {
			Netrv__Heartbeat h = NETRV__HEARTBEAT__INIT;
			Netrv__ClockStatus clk;

			clock_status(lg, &clk);
			/* nothing older than now will be generated */
			h.watermark_ns = now > a->last_t ? now : a->last_t;
			h.clock = &clk;
			h.last_seq = a->next_seq - 1;
			h.echo_sent_ns = a->echo_sent;
			h.echo_recv_ns = a->echo_recv;
			h.sent_ns = agent_tai(lg);
			send_msg(a, FRAME_HEARTBEAT, &h.base);
		}
		if (a->done_ns && now - a->done_ns >= lg->linger_ns)
			finish(a);
	}
}

static SSL_CTX *agent_ctx(struct lg *lg, const char *name)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char crt[4096], key[4096], ca[4096];

	snprintf(crt, sizeof(crt), "%s/%s.crt", lg->pki, name);
	snprintf(key, sizeof(key), "%s/%s.key", lg->pki, name);
	snprintf(ca, sizeof(ca), "%s/ca.crt", lg->pki);
	if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
		pr_err("cannot load %s / %s / %s (make them with deploy/pki/netrv-pki)",
		       crt, key, ca);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static void usage(FILE *out)
{
	fputs("usage: netrv-loadgen -C HOST:PORT -p PKI_DIR -n NODES -e EVENTS [options]\n"
	      "  -C, --connect HOST:PORT  the collector\n"
	      "  -p, --pki DIR            CA and node certificates (deploy/pki/netrv-pki)\n"
	      "  -n, --nodes N            agents, named PREFIX<first>..PREFIX<first+N-1>\n"
	      "  -P, --prefix NAME        node name prefix (default \"node\")\n"
	      "  -f, --first I            number of the first node (default 0)\n"
	      "  -e, --events E           events per agent\n"
	      "  -b, --batch B            events per batch (default 1000)\n"
	      "  -w, --window W           unacknowledged batches in flight (default 64)\n"
	      "  -r, --rate R             events/s per agent (default 0: as fast as possible)\n"
	      "      --eps NS             epsilon the agents claim (default 1000)\n"
	      "      --skew NS            the agents' clocks (TAI, heartbeat times) are off by NS\n"
	      "      --ptp                claim a synchronised PTP clock (default: source none)\n"
	      "  -l, --linger MS          heartbeats after the last ack (default 500)\n"
	      "  -H, --heartbeat MS       heartbeat (watermark) interval (default 100)\n"
	      "  -t, --timeout S          give up after S seconds (default 600)\n"
	      "  -L, --locks P            every P-th event is a DLM-shaped lock step (compatible PR holds)\n"
	      "  -X, --conflict NAME      nodes 0 and 1 both hold NAME in EX from 1/4 to 3/4 of the run\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'C' },
		{ "pki", required_argument, NULL, 'p' },
		{ "nodes", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "first", required_argument, NULL, 'f' },
		{ "events", required_argument, NULL, 'e' },
		{ "batch", required_argument, NULL, 'b' },
		{ "window", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ "eps", required_argument, NULL, 'E' },
		{ "linger", required_argument, NULL, 'l' },
		{ "heartbeat", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "locks", required_argument, NULL, 'L' },
		{ "conflict", required_argument, NULL, 'X' },
		{ "skew", required_argument, NULL, 'S' },
		{ "ptp", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL },
	};
	struct lg lg = { .prefix = "node",
			 .batch = 1000,
			 .window = 64,
			 .eps_ns = 1000,
			 .linger_ns = 500000000ull,
			 .hb_ns = 100000000ull };
	struct clocks_pair pair;
	uint64_t timeout_s = 600, resent = 0, reconnects = 0, acked = 0;
	struct timeval tick = { 0, 20000 };
	int opt, ret = 1;

	log_setup("netrv-loadgen", LOG_INFO);
	while ((opt = getopt_long(argc, argv, "C:p:n:P:f:e:b:w:r:l:H:t:L:X:h",
				  opts, NULL)) != -1) {
		switch (opt) {
		case 'C':
			lg.connect = optarg;
			break;
		case 'p':
			lg.pki = optarg;
			break;
		case 'n':
			lg.nodes = (unsigned int)atoi(optarg);
			break;
		case 'P':
			lg.prefix = optarg;
			break;
		case 'f':
			lg.first = (unsigned int)atoi(optarg);
			break;
		case 'e':
			lg.events = strtoull(optarg, NULL, 0);
			break;
		case 'b':
			lg.batch = (unsigned int)atoi(optarg);
			break;
		case 'w':
			lg.window = (unsigned int)atoi(optarg);
			break;
		case 'r':
			lg.rate = strtoull(optarg, NULL, 0);
			break;
		case 'E':
			lg.eps_ns = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			lg.linger_ns = strtoull(optarg, NULL, 0) * 1000000ull;
			break;
		case 'H':
			lg.hb_ns = strtoull(optarg, NULL, 0) * 1000000ull;
			break;
		case 't':
			timeout_s = strtoull(optarg, NULL, 0);
			break;
		case 'L':
			lg.lock_period = (unsigned int)atoi(optarg);
			break;
		case 'X':
			lg.conflict = optarg;
			break;
		case 'S':
			lg.skew = strtoll(optarg, NULL, 0);
			break;
		case 'T':
			lg.ptp = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (lg.conflict && lg.lock_period && lg.lock_period < 3) {
		fprintf(stderr,
			"netrv-loadgen: --conflict needs --locks 3 or more\n");
		return 2;
	}
	if (!lg.connect || !lg.pki || !lg.nodes || !lg.batch || !lg.window) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	srand((unsigned int)getpid());
	if (clocks_pair(CLOCK_MONOTONIC, CLOCK_TAI, 5, &pair))
		return 1;
	lg.tai_off = pair.offset_ns;
	lg.base = event_base_new();
	lg.agents = calloc(lg.nodes, sizeof(*lg.agents));
	lg.deltas = calloc(lg.batch, sizeof(*lg.deltas));
	lg.types = calloc(lg.batch, sizeof(*lg.types));
	lg.cpus = calloc(lg.batch, sizeof(*lg.cpus));
	if (!lg.base || !lg.agents || !lg.deltas || !lg.types || !lg.cpus)
		return 1;
	build_schema(&lg);
	lg.start_ns = now_mono();
	lg.deadline_ns = lg.start_ns + timeout_s * 1000000000ull;
	for (unsigned int i = 0; i < lg.nodes; i++) {
		struct agent *a = &lg.agents[i];

		a->lg = &lg;
		snprintf(a->name, sizeof(a->name), "%s%u", lg.prefix,
			 lg.first + i);
		a->next_seq = 1;
		a->spool = calloc(lg.window, sizeof(*a->spool));
		a->ctx = agent_ctx(&lg, a->name);
		a->retry_ev = evtimer_new(lg.base, retry_cb, a);
		if (!a->ctx || !a->spool || !a->retry_ev)
			return 1;
		if (!lg.events)
			a->done_ns = lg.start_ns;
		agent_connect(a);
	}
	if (lg.hb_ns < 20000000ull)
		tick.tv_usec =
			(suseconds_t)(lg.hb_ns / 1000 ? lg.hb_ns / 1000 : 1000);
	lg.tick_ev = event_new(lg.base, -1, EV_PERSIST, tick_cb, &lg);
	event_add(lg.tick_ev, &tick);
	event_base_dispatch(lg.base);

	for (unsigned int i = 0; i < lg.nodes; i++) {
		struct agent *a = &lg.agents[i];

		resent += a->resent;
		reconnects += a->reconnects;
		acked += a->acked;
		if (a->bev)
			bufferevent_free(a->bev);
		frame_decoder_destroy(a->dec);
		for (size_t j = 0; j < a->sp_len; j++)
			free(a->spool[(a->sp_head + j) % lg.window].frame);
		free(a->spool);
		event_free(a->retry_ev);
		SSL_CTX_free(a->ctx);
	}
	printf("loadgen: agents %u finished %u events/agent %" PRIu64
	       " batches %" PRIu64 " resent %" PRIu64 " reconnects %" PRIu64
	       " wall %.3f s\n",
	       lg.nodes, lg.finished, lg.events, lg.sent_batches, resent,
	       reconnects, (double)(now_mono() - lg.start_ns) / 1e9);
	ret = lg.finished == lg.nodes ? 0 : 1;
	event_free(lg.tick_ev);
	event_base_free(lg.base);
	free(lg.agents);
	free(lg.deltas);
	free(lg.types);
	free(lg.cpus);
	free(lg.schema_frame);
	bytebuf_release(&lg.fields);
	(void)acked;
	return ret;
}
