// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_ingest.c - the collector refuses what it must, over real TLS on
 * loopback, and keeps serving a well-behaved node meanwhile.
 *
 * One collector runs for the whole test.  Node "good" stays connected and
 * gets a batch acknowledged after every case.  Each case opens its own
 * connection and misbehaves: a certificate from another CA, a certificate
 * whose CN is not a node name, a server certificate used as a client, a
 * Hello naming another node, an oversize frame, garbage, a truncated
 * frame, a malformed message, an inconsistent batch, a batch naming an
 * unknown schema.  The case passes when the refusal is in the log (and,
 * where the protocol allows, a Goodbye with the right code came back).
 * Last, "good" reconnects and replays batches it already sent: the
 * HelloAck names the last durable seq, and the event log holds every event
 * exactly once.
 */
#include "check.h"
#include "colpack.h"
#include "harness.h"

#define GOOD "good"
#define EV_PER_BATCH 50

static struct h_proc coll;
static struct tclient good;
static uint64_t good_seq; /* last batch sent by good */

/*
 * Even batches go in column form (Batch.columns_zstd, lib/colpack.h) as
 * the agent sends them to a collector that accepts it: the event checks
 * at the end prove the collector expands them exactly.
 */
static void tb_columns(struct tbatch *tb, struct bytebuf *z)
{
	static struct colpack *cp;
	Netrv__Field f[4], *fp[4];
	Netrv__EventType t = NETRV__EVENT_TYPE__INIT;
	const Netrv__EventType *tp = &t;

	if (tb->b.seq % 2 || (!cp && !(cp = colpack_create(-1))))
		return;
	for (int i = 0; i < 4; i++) { /* tc_schema()'s kinds */
		netrv__field__init(&f[i]);
		f[i].kind = i < 3 ? NETRV__FIELD_KIND__FIELD_INT :
				    NETRV__FIELD_KIND__FIELD_STRING;
		f[i].is_signed = i == 2;
		fp[i] = &f[i];
	}
	t.n_fields = 4;
	t.fields = fp;
	if (colpack_encode(cp, &tp, 1, tb->b.n_event_type, tb->deltas,
			   tb->types, tb->cpus, tb->fields.data, tb->fields.len,
			   z))
		return;
	tb->b.columns_zstd.data = z->data;
	tb->b.columns_zstd.len = z->len;
	tb->b.n_time_delta = tb->b.n_event_type = tb->b.n_cpu = 0;
	tb->b.fields.len = 0;
}

static int good_batch(void)
{
	struct tbatch tb = { 0 };
	struct bytebuf z = { 0 };
	uint64_t seq = ++good_seq;
	int ok;

	tb_make(&tb, GOOD, seq, (seq - 1) * EV_PER_BATCH, EV_PER_BATCH,
		1000000 + seq * 1000);
	tb_columns(&tb, &z);
	ok = !tc_send(&good, FRAME_BATCH, &tb.b.base) &&
	     tc_wait_ack(&good, seq) >= seq;
	bytebuf_release(&tb.fields);
	bytebuf_release(&z);
	return ok;
}

static bool pki_node(const char *dir, const char *name)
{
	return !h_sh("%s %s ca && %s %s node %s", NETRV_PKI, dir, NETRV_PKI,
		     dir, name);
}

/* Expect a Goodbye with @code on @c. */
static bool got_goodbye(struct tclient *c, Netrv__GoodbyeCode code)
{
	Netrv__Goodbye *g = (Netrv__Goodbye *)tc_expect(c, FRAME_GOODBYE);
	bool ok = g && g->code == code;

	if (g)
		protobuf_c_message_free_unpacked(&g->base, NULL);
	return ok;
}

static char pki[300];

static bool case_wrong_ca(void)
{
	char other[320];
	struct tclient c;

	snprintf(other, sizeof(other), "%s/other-pki", h_dir);
	if (!pki_node(other, "intruder"))
		return false;
	/* TLS 1.3: our side may finish before the server checks us */
	if (!tc_connect_node(&c, coll.port, other, "intruder")) {
		enum frame_type t;
		ProtobufCMessage *m;

		tc_hello(&c, "intruder", NULL);
		m = tc_recv(&c, &t);
		CHECK(!m); /* nothing but a closed connection */
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
	}
	tc_close(&c);
	return true;
}

static bool case_wrong_cn(void)
{
	struct tclient c;
	bool ok;

	/* netrv-pki refuses such names; make the certificate by hand */
	if (h_sh("cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout badcn.key -out badcn.csr -subj '/O=netrv/CN=evil name!' 2>/dev/null && "
		 "printf 'extendedKeyUsage=clientAuth\\n' > badcn.ext && "
		 "openssl x509 -req -in badcn.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-out badcn.crt -days 2 -extfile badcn.ext 2>/dev/null",
		 pki))
		return false;
	if (tc_connect_node(&c, coll.port, pki, "badcn"))
		return false;
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_IDENTITY);
	tc_close(&c);
	return ok;
}

static bool case_server_cert(void)
{
	struct tclient c;

	/* the collector's own certificate is for servers only */
	if (!tc_connect_node(&c, coll.port, pki, "collector")) {
		enum frame_type t;
		ProtobufCMessage *m = tc_recv(&c, &t);

		CHECK(!m);
		if (m)
			protobuf_c_message_free_unpacked(m, NULL);
	}
	tc_close(&c);
	return true;
}

static bool case_spoof(void)
{
	Netrv__Hello h = NETRV__HELLO__INIT;
	struct tclient c;
	bool ok;

	if (tc_connect_node(&c, coll.port, pki, "alpha"))
		return false;
	h.node = GOOD; /* alpha claims to be good */
	tc_send(&c, FRAME_HELLO, &h.base);
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_IDENTITY);
	tc_close(&c);
	return ok;
}

static bool connect_hello(struct tclient *c, const char *node)
{
	return !tc_connect_node(c, coll.port, pki, node) &&
	       !tc_hello(c, node, NULL);
}

static bool case_oversize(void)
{
	struct tclient c;
	uint8_t hdr[FRAME_HEADER_SIZE + 64] = { 0 };
	bool ok;

	if (!connect_hello(&c, "beta"))
		return false;
	/* announce 1 MiB with max_frame 64K: refused before any allocation */
	frame_header_put(hdr, FRAME_BATCH, 1u << 20);
	tc_write(&c, hdr, sizeof(hdr));
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL);
	tc_close(&c);
	return ok;
}

static bool case_garbage(void)
{
	struct tclient c;
	char junk[200];
	bool ok;

	if (tc_connect_node(&c, coll.port, pki, "beta"))
		return false;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 37 + 11);
	memcpy(junk, "GET / HTTP/1.1\r\n", 16);
	tc_write(&c, junk, sizeof(junk));
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL);
	tc_close(&c);
	return ok;
}

static bool case_truncated(void)
{
	struct tbatch tb = { 0 };
	struct tclient c;
	uint8_t buf[16384];
	long n;

	if (!connect_hello(&c, "beta") || tc_schema(&c))
		return false;
	tb_make(&tb, "beta", 1, 0, 20, 1000);
	n = msg_pack(FRAME_BATCH, &tb.b.base, buf, sizeof(buf));
	tc_write(&c, buf, (size_t)n / 2);
	SSL_shutdown(c.ssl);
	tc_close(&c);
	bytebuf_release(&tb.fields);
	return n > 0;
}

static bool case_malformed(void)
{
	struct tclient c;
	uint8_t buf[FRAME_HEADER_SIZE + 16];
	bool ok;

	if (!connect_hello(&c, "beta"))
		return false;
	frame_header_put(buf, FRAME_BATCH, 16);
	memset(buf + FRAME_HEADER_SIZE, 0xff, 16);
	tc_write(&c, buf, sizeof(buf));
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL);
	tc_close(&c);
	return ok;
}

static bool case_bad_batch(void)
{
	struct tbatch tb = { 0 };
	struct tclient c;
	bool ok;

	if (!connect_hello(&c, "beta") || tc_schema(&c))
		return false;
	tb_make(&tb, "beta", 1, 0, 20, 1000);
	tb.b.n_cpu = 19; /* columns disagree */
	tc_send(&c, FRAME_BATCH, &tb.b.base);
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL);
	tc_close(&c);
	bytebuf_release(&tb.fields);
	return ok;
}

static bool case_no_schema(void)
{
	struct tbatch tb = { 0 };
	struct tclient c;
	bool ok;

	if (!connect_hello(&c, "gamma"))
		return false;
	tb_make(&tb, "gamma", 1, 0, 20, 1000);
	tc_send(&c, FRAME_BATCH, &tb.b.base);
	ok = got_goodbye(&c, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL);
	tc_close(&c);
	bytebuf_release(&tb.fields);
	return ok;
}

static const struct {
	const char *name;
	bool (*run)(void);
	const char *log; /* what the collector's log must say */
} cases[] = {
	{ "wrong CA", case_wrong_ca,
	  "TLS handshake failed: client certificate rejected: unable to get local issuer certificate" },
	{ "wrong CN", case_wrong_cn,
	  "refused: certificate CN 'evil name!' has a character outside [A-Za-z0-9._-] at 4" },
	{ "server certificate as client", case_server_cert,
	  "client certificate rejected: unsuitable certificate purpose" },
	{ "name spoofing", case_spoof,
	  "(CN alpha): refused: hello names node 'good' but the certificate is for 'alpha'" },
	{ "oversize frame", case_oversize, "(CN beta): refused: bad frame: " },
	{ "garbage", case_garbage, "(CN beta): refused: bad frame: " },
	{ "truncated frame", case_truncated,
	  "(CN beta): refused: connection ended inside a frame (truncated)" },
	{ "malformed message", case_malformed,
	  "(CN beta): refused: malformed batch message" },
	{ "inconsistent batch", case_bad_batch,
	  "(CN beta): refused: batch 1: batch columns differ in length" },
	{ "unknown schema", case_no_schema,
	  "(CN gamma): refused: batch 1 names schema" },
};

struct seen {
	uint8_t once[64 * EV_PER_BATCH];
	long dup, bad;
};

static void on_event(void *arg, const char *node, uint64_t seq, uint32_t index,
		     uint64_t k, uint64_t h)
{
	struct seen *s = arg;

	if (strcmp(node, GOOD) || k >= sizeof(s->once) ||
	    h != loadgen_hash(node, k) ||
	    k != (seq - 1) * EV_PER_BATCH + index) {
		s->bad++;
		return;
	}
	if (s->once[k]++)
		s->dup++;
}

int main(int argc, char **argv)
{
	char log_tail[300];
	uint64_t last = 0;
	struct seen *seen = calloc(1, sizeof(*seen));
	long n;

	good.fd = -1;
	REQUIRE(!h_setup("ingest"));
	snprintf(pki, sizeof(pki), "%s/pki", h_dir);
	REQUIRE(!h_sh("%s %s node good alpha beta gamma", NETRV_PKI, pki));
	/* configuration errors name FILE:LINE; --check-config says so */
	CHECK(h_sh("printf '[collector]\\nlisten = 127.0.0.1:1\\nlisen = x\\n' > %s/bad.conf && "
		   "%s -c %s/bad.conf --check-config 2> %s/bad.out",
		   h_dir, NETRV_COLLECTOR, h_dir, h_dir) != 0);
	{
		char path[300];

		snprintf(path, sizeof(path), "%s/bad.out", h_dir);
		CHECK(h_wait_for(path, "bad.conf:3", 1000));
	}
	CHECK(!h_sh(
		"%s --check-config collector.listen=127.0.0.1:1 > /dev/null",
		NETRV_COLLECTOR));
	REQUIRE(!h_collector_start(&coll, "127.0.0.1:0",
				   "collector.max_frame=64K",
				   "collector.liveness_timeout=500ms",
				   "wal.checkpoint_interval=100ms", NULL));
	REQUIRE(!tc_connect_node(&good, coll.port, pki, GOOD));
	REQUIRE(!tc_hello(&good, GOOD, &last));
	CHECK_INT(last, 0);
	REQUIRE(!tc_schema(&good));
	CHECK(good_batch());

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ran = cases[i].run();

		if (!CHECK(ran))
			fprintf(stderr, "case '%s' could not run\n",
				cases[i].name);
		if (!CHECK(h_wait_for(coll.log, cases[i].log, 5000)))
			fprintf(stderr, "case '%s': no \"%s\" in %s\n",
				cases[i].name, cases[i].log, coll.log);
		/* the good node is still served */
		if (!CHECK(good_batch()))
			fprintf(stderr,
				"case '%s': good node not served after it\n",
				cases[i].name);
	}

	/* replay: reconnect, resend everything, add one batch */
	tc_close(&good);
	REQUIRE(!tc_connect_node(&good, coll.port, pki, GOOD));
	REQUIRE(!tc_hello(&good, GOOD, &last));
	CHECK_INT(last, good_seq);
	REQUIRE(!tc_schema(&good));
	{
		uint64_t sent = good_seq;

		for (good_seq = 0; good_seq < sent;) {
			struct tbatch tb = { 0 };
			struct bytebuf z = { 0 };

			good_seq++;
			tb_make(&tb, GOOD, good_seq,
				(good_seq - 1) * EV_PER_BATCH, EV_PER_BATCH,
				1000000 + good_seq * 1000);
			tb_columns(&tb, &z);
			tc_send(&good, FRAME_BATCH, &tb.b.base);
			bytebuf_release(&tb.fields);
			bytebuf_release(&z);
		}
		CHECK(good_batch());
	}
	/* release everything: good promises nothing older than 1 s of trace time */
	{
		Netrv__Heartbeat hb = NETRV__HEARTBEAT__INIT;
		Netrv__ClockStatus clk = NETRV__CLOCK_STATUS__INIT;

		hb.watermark_ns = 1000000000ull;
		hb.clock = &clk;
		tc_send(&good, FRAME_HEARTBEAT, &hb.base);
		tc_wait_ack(&good, 0);
	}
	/* the refused nodes that said Hello block the merge until unreachable */
	REQUIRE(h_wait_for(coll.log, "(CN gamma): refused", 5000));
	h_sleep_ms(1500);
	tc_close(&good);
	{
		int st = h_stop(&coll, SIGTERM, 10000);

		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	snprintf(log_tail, sizeof(log_tail), "%s/events.jsonl", h_dir);
	n = h_read_events(log_tail, on_event, seen);
	CHECK_INT(n, (long)good_seq * EV_PER_BATCH);
	CHECK_INT(seen->dup, 0);
	CHECK_INT(seen->bad, 0);
	for (uint64_t k = 0; k < good_seq * EV_PER_BATCH; k++)
		if (!CHECK(seen->once[k] == 1)) {
			fprintf(stderr, "event k=%llu seen %u times\n",
				(unsigned long long)k, seen->once[k]);
			break;
		}
out:
	tc_close(&good);
	if (coll.pid > 0)
		h_stop(&coll, SIGKILL, 1000);
	if (check_failed)
		fprintf(stderr,
			"collector log: %s (set NETRV_KEEP=1 to keep it)\n",
			coll.log);
	free(seen);
	h_cleanup();
	return check_summary(argv[0]);
}
