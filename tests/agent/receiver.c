// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * receiver.c - a small collector for the agent's tests: a real TLS peer of
 * the protocol (libevent + OpenSSL, mutual auth, lib/frame.h + lib/msg.h)
 * that answers Hello with the last batch it holds, acknowledges batches,
 * drops duplicates by seq, and writes everything it gets as text lines:
 *
 *   hello node=N cn=CN clock=C session=S
 *   schema id=ID types=N
 *   batch seq=S n=N wm=W
 *   event seq=S ts=T cpu=C SYSTEM:NAME field=value ...
 *   loss seq=S reason=R cpu=C count=N from=F to=T
 *   clock in=batch|heartbeat source=S synced=0|1 eps=E offset=O delay=D state=P
 *         tai=T gm=GRANDMASTER_ID_HEX
 *   heartbeat wm=W last_seq=S
 *   dup seq=S / gap expected=S got=S / goodbye code=C
 *   stats bytes=B events=N      (at exit: bytes of frames received)
 *
 * Integers print in decimal, strings quoted with \xNN escapes, byte arrays
 * in hex.  Usage: receiver --ca F --cert F --key F --port-file F --out F
 * [--ack-delay-ms N] [--state FILE] [--port N] [--deflate] [--columns]
 * [--dump FILE] [--max-frame N].  --max-frame announces N as HelloAck.max_frame
 * and refuses larger frames, as the collector does.  --deflate accepts zlib-compressed fields, --columns
 * batches in column form (lib/colpack.h; expanded before printing), --dump
 * appends every Schema and Batch payload as received to FILE (u8 frame
 * type, u32 length, payload) for tests/agent/test_colpack.  It listens on 127.0.0.1
 * (port 0 unless --port) and writes the port.  --state keeps the last batch seq in FILE, so a
 * receiver killed and restarted resumes like a durable collector.
 */
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "colpack.h"
#include "evpack.h"
#include "frame.h"
#include "msg.h"

struct conn {
	struct bufferevent *bev;
	struct frame_decoder *dec;
};

static SSL_CTX *ctx;
static FILE *out;
static uint64_t last_seq;
static Netrv__Schema *schema;
static struct evpack_value vals[256];
static int ack_delay_ms;
static uint64_t total_bytes, total_events;
static bool accept_deflate, accept_columns;
static uint32_t max_frame = FRAME_DEFAULT_MAX;
static struct colpack *colpack;
static FILE *dump;
static struct bytebuf inflated;
static int state_fd = -1; /* --state: last_seq survives a kill -9 */

static void print_clock(const char *in, const Netrv__ClockStatus *c)
{
	if (!c)
		return;
	fprintf(out,
		"clock in=%s source=%d synced=%d eps=%" PRIu64
		" offset=%" PRId64 " delay=%" PRId64 " state=%u tai=%" PRId64
		" gm=",
		in, c->source, c->synced, c->epsilon_ns, c->master_offset_ns,
		c->path_delay_ns, c->port_state, c->tai_offset_ns);
	for (size_t i = 0; i < c->gm_identity.len; i++)
		fprintf(out, "%02x", c->gm_identity.data[i]);
	fputc('\n', out);
}

static void print_value(const Netrv__Field *f, const struct evpack_value *v)
{
	if (f->kind == NETRV__FIELD_KIND__FIELD_INT) {
		if (f->is_signed)
			fprintf(out, "%" PRId64, v->s);
		else
			fprintf(out, "%" PRIu64, v->u);
		return;
	}
	if (f->kind == NETRV__FIELD_KIND__FIELD_STRING) {
		fputc('"', out);
		for (size_t i = 0; i < v->len; i++) {
			uint8_t c = v->bytes[i];

			if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
				fprintf(out, "\\x%02x", c);
			else
				fputc(c, out);
		}
		fputc('"', out);
		return;
	}
	for (size_t i = 0; i < v->len; i++)
		fprintf(out, "%02x", v->bytes[i]);
	if (!v->len)
		fputs("-", out);
}

static void on_batch(const Netrv__Batch *b)
{
	struct evpack_reader r = { b->fields.data,
				   b->fields.data + b->fields.len };

	if (b->fields_deflate.len) {
		uLongf n;
		int zr = Z_BUF_ERROR;

		for (size_t cap = 4 * b->fields_deflate.len;
		     zr == Z_BUF_ERROR && cap < FRAME_HARD_MAX; cap *= 2) {
			inflated.len = 0;
			bytebuf_reserve(&inflated, cap);
			n = inflated.cap;
			zr = uncompress(inflated.data, &n,
					b->fields_deflate.data,
					b->fields_deflate.len);
		}
		if (!accept_deflate || zr != Z_OK) {
			fprintf(out, "error seq=%" PRIu64 " bad deflate\n",
				b->seq);
			return;
		}
		r.p = inflated.data;
		r.end = inflated.data + n;
	}
	uint64_t ts = b->base_ns;

	if (b->seq <= last_seq) {
		fprintf(out, "dup seq=%" PRIu64 "\n", b->seq);
		return;
	}
	if (b->seq != last_seq + 1)
		fprintf(out, "gap expected=%" PRIu64 " got=%" PRIu64 "\n",
			last_seq + 1, b->seq);
	last_seq = b->seq;
	fprintf(out, "batch seq=%" PRIu64 " n=%zu wm=%" PRIu64 "\n", b->seq,
		b->n_event_type, b->watermark_ns);
	print_clock("batch", b->clock);
	for (size_t i = 0; i < b->n_losses; i++)
		fprintf(out,
			"loss seq=%" PRIu64 " reason=%d cpu=%u count=%" PRIu64
			" from=%" PRIu64 " to=%" PRIu64 "\n",
			b->seq, b->losses[i]->reason, b->losses[i]->cpu,
			b->losses[i]->count, b->losses[i]->from_ns,
			b->losses[i]->to_ns);
	if (!schema || schema->schema_id != b->schema_id) {
		fprintf(out, "error seq=%" PRIu64 " unknown schema\n", b->seq);
		return;
	}
	total_events += b->n_event_type;
	for (size_t i = 0; i < b->n_event_type; i++) {
		const Netrv__EventType *t;

		ts += b->time_delta[i];
		if (b->event_type[i] >= schema->n_types) {
			fprintf(out, "error bad type\n");
			return;
		}
		t = schema->types[b->event_type[i]];
		if (t->n_fields > 256 || evpack_decode(&r, t, vals)) {
			fprintf(out, "error seq=%" PRIu64 " malformed fields\n",
				b->seq);
			return;
		}
		fprintf(out,
			"event seq=%" PRIu64 " ts=%" PRIu64 " cpu=%u %s:%s",
			b->seq, ts, b->cpu[i], t->system, t->name);
		for (size_t k = 0; k < t->n_fields; k++) {
			fprintf(out, " %s=", t->fields[k]->name);
			print_value(t->fields[k], &vals[k]);
		}
		fputc('\n', out);
	}
}

static void send_msg(struct conn *c, enum frame_type type,
		     const ProtobufCMessage *m)
{
	uint8_t buf[256];
	long len = msg_pack(type, m, buf, sizeof(buf));

	if (len > 0)
		bufferevent_write(c->bev, buf, (size_t)len);
}

static void close_conn(struct conn *c)
{
	bufferevent_free(c->bev);
	frame_decoder_destroy(c->dec);
	free(c);
	fflush(out);
}

static char *peer_cn(struct conn *c)
{
	static char cn[256];
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	X509 *x = SSL_get1_peer_certificate(ssl);

	cn[0] = '\0';
	if (x) {
		X509_NAME_get_text_by_NID(X509_get_subject_name(x),
					  NID_commonName, cn, sizeof(cn));
		X509_free(x);
	}
	return cn;
}

static int on_frame(struct conn *c, const struct frame *f)
{
	ProtobufCMessage *m = msg_unpack(f, NULL);

	if (dump && (f->type == FRAME_SCHEMA || f->type == FRAME_BATCH)) {
		uint8_t t = (uint8_t)f->type;

		fwrite(&t, 1, 1, dump);
		fwrite(&f->len, 4, 1, dump);
		fwrite(f->payload, 1, f->len, dump);
		fflush(dump);
	}

	total_bytes += FRAME_HEADER_SIZE + f->len;
	if (!m) {
		fprintf(out, "error malformed %s\n", frame_type_str(f->type));
		return -1;
	}
	switch (f->type) {
	case FRAME_HELLO: {
		Netrv__Hello *h = (Netrv__Hello *)m;
		Netrv__HelloAck a = NETRV__HELLO_ACK__INIT;

		fprintf(out,
			"hello node=%s cn=%s clock=%s session=%" PRIu64 "\n",
			h->node, peer_cn(c), h->trace_clock, h->session_id);
		a.last_seq = last_seq;
		a.collector_version = "test-receiver";
		a.accepts_deflate = accept_deflate;
		a.accepts_columns = accept_columns;
		a.max_frame = max_frame;
		send_msg(c, FRAME_HELLO_ACK, &a.base);
		break;
	}
	case FRAME_SCHEMA:
		if (schema)
			protobuf_c_message_free_unpacked(&schema->base, NULL);
		schema = (Netrv__Schema *)m;
		fprintf(out, "schema id=%" PRIu64 " types=%zu\n",
			schema->schema_id, schema->n_types);
		for (size_t i = 0; i < schema->n_types; i++) {
			const Netrv__EventType *t = schema->types[i];

			fprintf(out, "type %u %s:%s", t->id, t->system,
				t->name);
			for (size_t k = 0; k < t->n_fields; k++)
				fprintf(out, " %s/%d/%u/%d/%d",
					t->fields[k]->name, t->fields[k]->kind,
					t->fields[k]->size,
					t->fields[k]->is_signed,
					t->fields[k]->is_dynamic);
			fputc('\n', out);
		}
		return 0;
	case FRAME_BATCH: {
		Netrv__Ack a = NETRV__ACK__INIT;

		Netrv__Batch *b = (Netrv__Batch *)m;
		char err[128];

		if (b->columns_zstd.len &&
		    (!accept_columns || !schema ||
		     colpack_expand_batch(
			     colpack, b,
			     (const Netrv__EventType *const *)schema->types,
			     schema->n_types, err, sizeof(err)))) {
			fprintf(out, "error seq=%" PRIu64 " bad columns\n",
				b->seq);
			break;
		}
		on_batch(b);
		fflush(out);
		if (state_fd >= 0) {
			char st[24];

			snprintf(st, sizeof(st), "%20" PRIu64 "\n", last_seq);
			if (pwrite(state_fd, st, 21, 0) != 21)
				fprintf(out, "error state write\n");
		}
		a.seq = last_seq;
		if (ack_delay_ms) {
			struct timespec d = { ack_delay_ms / 1000,
					      ack_delay_ms % 1000 * 1000000L };
			nanosleep(&d, NULL);
		}
		send_msg(c, FRAME_ACK, &a.base);
		break;
	}
	case FRAME_HEARTBEAT: {
		Netrv__Heartbeat *h = (Netrv__Heartbeat *)m;

		fprintf(out, "heartbeat wm=%" PRIu64 " last_seq=%" PRIu64 "\n",
			h->watermark_ns, h->last_seq);
		print_clock("heartbeat", h->clock);
		break;
	}
	case FRAME_GOODBYE:
		fprintf(out, "goodbye code=%d\n", ((Netrv__Goodbye *)m)->code);
		break;
	default:
		fprintf(out, "error unexpected %s\n", frame_type_str(f->type));
	}
	protobuf_c_message_free_unpacked(m, NULL);
	fflush(out);
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in)) {
		size_t len = evbuffer_get_length(in), used = 0;
		const uint8_t *data = evbuffer_pullup(in, -1);
		struct frame f;
		enum frame_status st =
			frame_decoder_feed(c->dec, data, len, &used, &f);

		if (st == FRAME_OK) {
			int r = on_frame(c, &f);

			evbuffer_drain(in, used);
			if (r) {
				close_conn(c);
				return;
			}
			continue;
		}
		evbuffer_drain(in, used);
		if (st == FRAME_NEED_MORE)
			return;
		fprintf(out, "error stream %s\n", frame_status_str(st));
		close_conn(c);
		return;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		fprintf(out, "closed\n");
		close_conn(arg);
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	struct conn *c = calloc(1, sizeof(*c));
	SSL *ssl = SSL_new(ctx);

	c->dec = frame_decoder_create(max_frame);
	c->bev = bufferevent_openssl_socket_new(evconnlistener_get_base(l), fd,
						ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void on_signal(evutil_socket_t s, short w, void *arg)
{
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	const char *ca = NULL, *cert = NULL, *key = NULL, *port_file = NULL;
	const char *out_file = NULL;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);
	struct event_base *base;
	struct evconnlistener *l;
	struct event *sig;
	FILE *pf;
	int opt;

	static const struct option o[] = {
		{ "ca", 1, NULL, 'a' },
		{ "cert", 1, NULL, 'c' },
		{ "key", 1, NULL, 'k' },
		{ "port-file", 1, NULL, 'p' },
		{ "out", 1, NULL, 'o' },
		{ "ack-delay-ms", 1, NULL, 'd' },
		{ "state", 1, NULL, 's' },
		{ "port", 1, NULL, 'P' },
		{ "deflate", 0, NULL, 'z' },
		{ "columns", 0, NULL, 'C' },
		{ "dump", 1, NULL, 'D' },
		{ "max-frame", 1, NULL, 'M' },
		{ NULL },
	};
	while ((opt = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (opt) {
		case 'a':
			ca = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'o':
			out_file = optarg;
			break;
		case 'd':
			ack_delay_ms = atoi(optarg);
			break;
		case 'z':
			accept_deflate = true;
			break;
		case 'C':
			accept_columns = true;
			colpack = colpack_create(1);
			if (!colpack)
				return 1;
			break;
		case 'M':
			max_frame = (uint32_t)strtoul(optarg, NULL, 0);
			if (max_frame < 64 || max_frame > FRAME_HARD_MAX) {
				fprintf(stderr, "--max-frame: 64..%u\n",
					FRAME_HARD_MAX);
				return 1;
			}
			break;
		case 'D':
			dump = fopen(optarg, "ae");
			if (!dump) {
				perror(optarg);
				return 1;
			}
			break;
		case 'P':
			sin.sin_port = htons((uint16_t)atoi(optarg));
			break;
		case 's': {
			char st[24] = "";

			state_fd = open(optarg, O_RDWR | O_CREAT, 0600);
			if (state_fd < 0 || pread(state_fd, st, 21, 0) < 0) {
				perror(optarg);
				return 1;
			}
			last_seq = strtoull(st, NULL, 10);
			break;
		}
		default:
			return 2;
		}
	}
	if (!ca || !cert || !key || !port_file || !out_file) {
		fprintf(stderr,
			"usage: receiver --ca F --cert F --key F --port-file F --out F\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	out = fopen(out_file, "a");
	ctx = SSL_CTX_new(TLS_server_method());
	if (!out || !ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(
		ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	base = event_base_new();
	sin.sin_addr.s_addr = htonl(0x7f000001);
	l = evconnlistener_new_bind(base, on_accept, NULL,
				    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
				    16, (struct sockaddr *)&sin, sizeof(sin));
	if (!l) {
		perror("listen");
		return 1;
	}
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);
	pf = fopen(port_file, "w");
	fprintf(pf, "%d\n", ntohs(sin.sin_port));
	fclose(pf);
	sig = evsignal_new(base, SIGTERM, on_signal, base);
	event_add(sig, NULL);
	event_base_dispatch(base);
	fprintf(out, "stats bytes=%" PRIu64 " events=%" PRIu64 "\n",
		total_bytes, total_events);
	event_free(sig);
	evconnlistener_free(l);
	event_base_free(base);
	if (schema)
		protobuf_c_message_free_unpacked(&schema->base, NULL);
	SSL_CTX_free(ctx);
	bytebuf_release(&inflated);
	fclose(out);
	return 0;
}
