/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * harness.h - run a real netrv-collector and talk to it over real TLS.
 *
 * Helpers for the collector's integration tests: a private temporary
 * directory with a PKI made by deploy/pki/netrv-pki, the collector started
 * as a child process (port 0, the port read back from its log), a blocking
 * TLS client that speaks frames, batches of the load generator's synthetic
 * event, and a reader for the JSON-lines event log.  Every wait is bounded.
 */
#ifndef NETRV_TESTS_COLLECTOR_HARNESS_H
#define NETRV_TESTS_COLLECTOR_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "evpack.h"
#include "loadgen_event.h"
#include "msg.h"

static char h_dir[256];

static inline uint64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void h_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static inline int h_sh(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline int h_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A private directory /tmp/netrv-TAG-PID-XXXXXX, removed by h_cleanup(). */
static inline int h_setup(const char *tag)
{
	snprintf(h_dir, sizeof(h_dir), "/tmp/netrv-%s-%d-XXXXXX", tag,
		 (int)getpid());
	if (!mkdtemp(h_dir))
		return -1;
	return h_sh("%s %s/pki ca && %s %s/pki collector", NETRV_PKI, h_dir,
		    NETRV_PKI, h_dir);
}

static inline void h_cleanup(void)
{
	if (h_dir[0] && !getenv("NETRV_KEEP"))
		h_sh("rm -rf '%s'", h_dir);
}

static char *h_read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 65536) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap + 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	buf[len] = 0;
	if (lenp)
		*lenp = len;
	return buf;
}

/* Wait up to @ms for @needle in file @path; return true if seen. */
static inline bool h_wait_for(const char *path, const char *needle,
			      unsigned int ms)
{
	uint64_t end = h_now_ms() + ms;

	do {
		char *t = h_read_file(path, NULL);
		bool found = t && strstr(t, needle);

		free(t);
		if (found)
			return true;
		h_sleep_ms(20);
	} while (h_now_ms() < end);
	return false;
}

struct h_proc {
	pid_t pid;
	char log[300];
	int port;
};

/*
 * Start netrv-collector with the PKI of h_dir, WAL h_dir/wal, event log
 * h_dir/events.jsonl, log in h_dir/collector-N.log, and NULL-terminated
 * extra "section.key=value" arguments.
 */
static inline int h_collector_start(struct h_proc *p, const char *listen, ...)
{
	static int runs;
	char *argv[64];
	char a[8][400];
	int argc = 0;
	va_list ap;
	char *t, *s;

	snprintf(p->log, sizeof(p->log), "%s/collector-%d.log", h_dir, runs++);
	argv[argc++] = NETRV_COLLECTOR;
	snprintf(a[0], sizeof(a[0]), "collector.listen=%s", listen);
	snprintf(a[1], sizeof(a[1]), "collector.ca=%s/pki/ca.crt", h_dir);
	snprintf(a[2], sizeof(a[2]), "collector.cert=%s/pki/collector.crt",
		 h_dir);
	snprintf(a[3], sizeof(a[3]), "collector.key=%s/pki/collector.key",
		 h_dir);
	snprintf(a[4], sizeof(a[4]), "wal.dir=%s/wal", h_dir);
	snprintf(a[5], sizeof(a[5]), "output.event_log=%s/events.jsonl", h_dir);
	snprintf(a[6], sizeof(a[6]), "output.stats_file=%s/stats.json", h_dir);
	/* the dashboard too, on a free port: tests run side by side */
	snprintf(a[7], sizeof(a[7]), "http.port=0");
	for (int i = 0; i < 8; i++)
		argv[argc++] = a[i];
	va_start(ap, listen);
	while ((s = va_arg(ap, char *)) && argc < 62)
		argv[argc++] = s;
	va_end(ap);
	argv[argc] = NULL;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (!p->pid) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (!h_wait_for(p->log, "(port ", 10000))
		return -1;
	t = h_read_file(p->log, NULL);
	s = t ? strstr(t, "(port ") : NULL;
	p->port = s ? atoi(s + 6) : 0;
	free(t);
	return p->port > 0 ? 0 : -1;
}

/* Signal @p and wait up to @ms for it; SIGKILL after. Return: status. */
static inline int h_stop(struct h_proc *p, int sig, unsigned int ms)
{
	uint64_t end = h_now_ms() + ms;
	int status = -1;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, sig);
	while (waitpid(p->pid, &status, WNOHANG) == 0) {
		if (h_now_ms() > end) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &status, 0);
			break;
		}
		h_sleep_ms(10);
	}
	p->pid = 0;
	return status;
}

/* A blocking TLS client. */
struct tclient {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	struct frame_decoder *dec;
	uint8_t buf[65536];
	size_t have, off;
};

static inline void tc_close(struct tclient *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->ctx)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	frame_decoder_destroy(c->dec);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/*
 * Connect with certificate @crt/@key (paths); the collector is not
 * verified (the tests are about what the collector accepts).
 * Return: 0 when the handshake completed on our side.
 */
static inline int tc_connect(struct tclient *c, int port, const char *crt,
			     const char *key)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 30, 0 };
	int one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->dec = frame_decoder_create(FRAME_HARD_MAX);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_use_certificate_chain_file(c->ctx, crt) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1)
		return -1;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (SSL_connect(c->ssl) != 1) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

static inline int tc_connect_node(struct tclient *c, int port, const char *dir,
				  const char *name)
{
	char crt[512], key[512];

	snprintf(crt, sizeof(crt), "%s/%s.crt", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	return tc_connect(c, port, crt, key);
}

static inline int tc_write(struct tclient *c, const void *buf, size_t len)
{
	return SSL_write(c->ssl, buf, (int)len) == (int)len ? 0 : -1;
}

static inline int tc_send(struct tclient *c, enum frame_type type,
			  const ProtobufCMessage *m)
{
	size_t len = msg_frame_size(m);
	uint8_t *buf = malloc(len);
	int r = (int)msg_pack(type, m, buf, len);

	r = r > 0 ? tc_write(c, buf, (size_t)r) : -1;
	free(buf);
	return r;
}

/*
 * The next frame from the collector, unpacked (caller frees with
 * protobuf_c_message_free_unpacked), or NULL on close/timeout/error.
 */
static ProtobufCMessage *tc_recv(struct tclient *c, enum frame_type *type)
{
	for (;;) {
		struct frame f;
		size_t used;
		enum frame_status st;
		int n;

		if (c->off < c->have) {
			st = frame_decoder_feed(c->dec, c->buf + c->off,
						c->have - c->off, &used, &f);
			c->off += used;
			if (st == FRAME_OK) {
				*type = f.type;
				return msg_unpack(&f, NULL);
			}
			if (st != FRAME_NEED_MORE)
				return NULL;
			continue;
		}
		n = SSL_read(c->ssl, c->buf, sizeof(c->buf));
		if (n <= 0) {
			ERR_clear_error();
			return NULL;
		}
		c->have = (size_t)n;
		c->off = 0;
	}
}

/* Receive until a frame of @want arrives (others dropped); NULL if none. */
static ProtobufCMessage *tc_expect(struct tclient *c, enum frame_type want)
{
	enum frame_type t;
	ProtobufCMessage *m;

	while ((m = tc_recv(c, &t))) {
		if (t == want)
			return m;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return NULL;
}

static inline int tc_hello(struct tclient *c, const char *node,
			   uint64_t *last_seq)
{
	Netrv__Hello h = NETRV__HELLO__INIT;
	Netrv__HelloAck *ack;

	h.node = (char *)node;
	h.trace_clock = "mono";
	h.agent_version = "test";
	if (tc_send(c, FRAME_HELLO, &h.base))
		return -1;
	ack = (Netrv__HelloAck *)tc_expect(c, FRAME_HELLO_ACK);
	if (!ack)
		return -1;
	if (last_seq)
		*last_seq = ack->last_seq;
	protobuf_c_message_free_unpacked(&ack->base, NULL);
	return 0;
}

/* The load generator's schema, as a frame payload message. */
static inline int tc_schema(struct tclient *c)
{
	Netrv__Field f[4], *fp[4];
	Netrv__EventType t = NETRV__EVENT_TYPE__INIT, *tp = &t;
	Netrv__Schema s = NETRV__SCHEMA__INIT;
	static const char *const names[4] = { "k", "h", "mode", "name" };

	for (int i = 0; i < 4; i++) {
		netrv__field__init(&f[i]);
		f[i].name = (char *)names[i];
		f[i].kind = i < 3 ? NETRV__FIELD_KIND__FIELD_INT :
				    NETRV__FIELD_KIND__FIELD_STRING;
		f[i].is_signed = i == 2;
		fp[i] = &f[i];
	}
	t.system = LOADGEN_SYSTEM;
	t.name = LOADGEN_EVENT;
	t.n_fields = 4;
	t.fields = fp;
	s.schema_id = LOADGEN_SCHEMA_ID;
	s.n_types = 1;
	s.types = &tp;
	return tc_send(c, FRAME_SCHEMA, &s.base);
}

/*
 * Fill @b (and the arrays behind it) with events k0..k0+n-1 of @node at
 * trace times t0, t0+1, ...: the load generator's content.
 */
struct tbatch {
	Netrv__Batch b;
	Netrv__ClockStatus clk;
	uint64_t deltas[256];
	uint32_t types[256], cpus[256];
	struct bytebuf fields;
};

static inline void tb_make(struct tbatch *tb, const char *node, uint64_t seq,
			   uint64_t k0, unsigned int n, uint64_t t0)
{
	char name[32];

	netrv__batch__init(&tb->b);
	netrv__clock_status__init(&tb->clk);
	tb->fields.len = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t k = k0 + i;
		int len = snprintf(name, sizeof(name), "res-%llu",
				   (unsigned long long)(k % 1000));

		tb->deltas[i] = i ? 1 : 0;
		tb->types[i] = 0;
		tb->cpus[i] = 0;
		evpack_put_u64(&tb->fields, k);
		evpack_put_u64(&tb->fields, loadgen_hash(node, k));
		evpack_put_s64(&tb->fields, loadgen_mode(k));
		evpack_put_bytes(&tb->fields, name, (size_t)len);
	}
	tb->clk.epsilon_ns = 1000;
	tb->b.seq = seq;
	tb->b.schema_id = LOADGEN_SCHEMA_ID;
	tb->b.base_ns = t0;
	tb->b.n_time_delta = tb->b.n_event_type = tb->b.n_cpu = n;
	tb->b.time_delta = tb->deltas;
	tb->b.event_type = tb->types;
	tb->b.cpu = tb->cpus;
	tb->b.fields.data = tb->fields.data;
	tb->b.fields.len = tb->fields.len;
	tb->b.watermark_ns = t0 + n;
	tb->b.clock = &tb->clk;
}

/* Wait for an Ack covering @seq; return the acked seq or 0. */
static inline uint64_t tc_wait_ack(struct tclient *c, uint64_t seq)
{
	/* A bound, not a timing: generous for a loaded machine under ASan. */
	uint64_t end = h_now_ms() + 60000, got = 0;

	while (got < seq && h_now_ms() < end) {
		Netrv__Ack *a = (Netrv__Ack *)tc_expect(c, FRAME_ACK);

		if (!a)
			return got;
		if (a->seq > got)
			got = a->seq;
		protobuf_c_message_free_unpacked(&a->base, NULL);
	}
	return got;
}

/*
 * Event log reader: calls @fn for each netrv:load event line with node,
 * seq, index, k and h.  Return: lines that are events, or -1 if a line
 * does not parse.
 */
typedef void (*h_event_fn)(void *arg, const char *node, uint64_t seq,
			   uint32_t index, uint64_t k, uint64_t h);

static inline long h_read_events(const char *path, h_event_fn fn, void *arg)
{
	char *t = h_read_file(path, NULL), *line, *save;
	long n = 0;

	if (!t)
		return -1;
	for (line = strtok_r(t, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char node[80];
		unsigned long long seq, k, h;
		unsigned int index;
		char *kp, *hp;

		if (!strstr(line, "\"event\":\"netrv:load\""))
			continue;
		kp = strstr(line, "\"k\":");
		hp = strstr(line, "\"h\":");
		if (sscanf(line,
			   "{\"node\":\"%79[^\"]\",\"seq\":%llu,\"index\":%u",
			   node, &seq, &index) != 3 ||
		    !kp || !hp || sscanf(kp + 4, "%llu", &k) != 1 ||
		    sscanf(hp + 4, "%llu", &h) != 1) {
			fprintf(stderr, "event log line does not parse: %s\n",
				line);
			n = -1;
			break;
		}
		fn(arg, node, seq, index, k, h);
		n++;
	}
	free(t);
	return n;
}

#endif
