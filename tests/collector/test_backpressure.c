// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_backpressure.c - one node cannot make the collector queue without
 * bound: above queue_events the collector stops reading that connection.
 *
 * Node "slow" holds the merge back (its watermark stays low).  Node "fast"
 * sends 50 batches of 100 events with queue_events = 1000: the collector
 * reads and acknowledges until its queue for "fast" passes 1000 events (11
 * batches) and then stops reading it, however long we wait.  When "slow"
 * moves its watermark, the merge releases, reading resumes and all 50
 * batches are acknowledged; the event log has all 5,000 events once.
 */
#include "check.h"
#include "harness.h"

#define BATCHES 50
#define PER 100

static uint8_t once[BATCHES * PER];
static long dups, bad;

static void on_event(void *arg, const char *node, uint64_t seq, uint32_t index,
		     uint64_t k, uint64_t h)
{
	if (strcmp(node, "fast"))
		return;
	if (k >= BATCHES * PER || h != loadgen_hash(node, k)) {
		bad++;
		return;
	}
	if (once[k]++)
		dups++;
}

static uint64_t drain_acks(struct tclient *c, unsigned int ms)
{
	struct timeval tv = { 0, 200000 };
	uint64_t end = h_now_ms() + ms, got = 0;

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (h_now_ms() < end) {
		enum frame_type t;
		ProtobufCMessage *m = tc_recv(c, &t);

		if (!m)
			continue; /* timeout: keep waiting until @ms */
		if (t == FRAME_ACK && ((Netrv__Ack *)m)->seq > got)
			got = ((Netrv__Ack *)m)->seq;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return got;
}

int main(int argc, char **argv)
{
	struct h_proc coll = { 0 };
	struct tclient fast = { .fd = -1 }, slow = { .fd = -1 };
	struct tbatch tb = { 0 };
	char pki[300], path[300];
	uint64_t acked;

	REQUIRE(!h_setup("backpressure"));
	snprintf(pki, sizeof(pki), "%s/pki", h_dir);
	REQUIRE(!h_sh("%s %s node fast slow", NETRV_PKI, pki));
	REQUIRE(!h_collector_start(&coll, "127.0.0.1:0",
				   "collector.queue_events=1000",
				   "collector.liveness_timeout=60s", NULL));
	REQUIRE(!tc_connect_node(&slow, coll.port, pki, "slow"));
	REQUIRE(!tc_hello(&slow, "slow", NULL) && !tc_schema(&slow));
	tb_make(&tb, "slow", 1, 0, 1, 1000); /* watermark 1001 */
	REQUIRE(!tc_send(&slow, FRAME_BATCH, &tb.b.base));
	REQUIRE(tc_wait_ack(&slow, 1) == 1);

	REQUIRE(!tc_connect_node(&fast, coll.port, pki, "fast"));
	REQUIRE(!tc_hello(&fast, "fast", NULL) && !tc_schema(&fast));
	for (uint64_t s = 1; s <= BATCHES; s++) {
		tb_make(&tb, "fast", s, (s - 1) * PER, PER, 1000000 + s * 1000);
		REQUIRE(!tc_send(&fast, FRAME_BATCH, &tb.b.base));
	}
	/* queue_events / PER batches fit, the one crossing the limit too */
	acked = drain_acks(&fast, 1500);
	CHECK_INT(acked, 1000 / PER + 1);

	/* slow moves on: the merge drains, reading resumes */
	{
		Netrv__Heartbeat hb = NETRV__HEARTBEAT__INIT;
		Netrv__ClockStatus clk = NETRV__CLOCK_STATUS__INIT;

		hb.watermark_ns = 1ull << 40;
		hb.clock = &clk;
		REQUIRE(!tc_send(&slow, FRAME_HEARTBEAT, &hb.base));
	}
	CHECK_INT(tc_wait_ack(&fast, BATCHES), BATCHES);
	{
		Netrv__Goodbye g = NETRV__GOODBYE__INIT;

		tc_send(&fast, FRAME_GOODBYE, &g.base);
		tc_send(&slow, FRAME_GOODBYE, &g.base);
		ProtobufCMessage *m1 = tc_expect(&fast, FRAME_GOODBYE);
		ProtobufCMessage *m2 = tc_expect(&slow, FRAME_GOODBYE);

		CHECK(m1 && m2);
		if (m1)
			protobuf_c_message_free_unpacked(m1, NULL);
		if (m2)
			protobuf_c_message_free_unpacked(m2, NULL);
	}
	{
		int st = h_stop(&coll, SIGTERM, 10000);

		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	snprintf(path, sizeof(path), "%s/events.jsonl", h_dir);
	h_read_events(path, on_event, NULL);
	CHECK_INT(dups, 0);
	CHECK_INT(bad, 0);
	for (int k = 0; k < BATCHES * PER; k++)
		if (!CHECK(once[k] == 1)) {
			fprintf(stderr, "event %d seen %u times\n", k, once[k]);
			break;
		}
out:
	bytebuf_release(&tb.fields);
	tc_close(&fast);
	tc_close(&slow);
	if (coll.pid > 0)
		h_stop(&coll, SIGKILL, 1000);
	if (check_failed)
		fprintf(stderr, "logs in %s (set NETRV_KEEP=1 to keep them)\n",
			h_dir);
	h_cleanup();
	return check_summary(argv[0]);
}
