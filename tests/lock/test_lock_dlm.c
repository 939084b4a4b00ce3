// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_lock_dlm.c - the DLM adapter on realistic tracepoint sequences.
 *
 * Event types carry the field names of include/trace/events/dlm.h (6.12:
 * dlm_send_message/dlm_recv_message with dst and h_seq; 6.1: seq, no dst).
 * Each case is a table of events on two nodes; the expected verdicts are
 * derived by hand from DLM semantics and written next to the case.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "harness.h"

#define LKF_NOQUEUE 0x1
#define LKF_CANCEL 0x2
#define LKF_CONVERT 0x4
#define LKF_CONVDEADLK 0x40
#define EUNLOCK (-0x10002)
#define ECANCEL (-0x10001)
enum { NL, CR, CW, PR, PW, EX };

static struct th_type t_start, t_end, t_ast, t_ustart, t_uend, t_send, t_recv,
	t_send61, t_recv61;
static struct cnode nodes[3];

static void types(void)
{
	static const char *const f_start[] = { "ls_id", "lkb_id", "mode",
					       "flags", "res_name" };
	static const char *const f_end[] = { "ls_id", "lkb_id", "mode",
					     "flags", "error",	"res_name" };
	static const char *const f_ast[] = { "ls_id", "lkb_id", "sb_flags",
					     "sb_status", "res_name" };
	static const char *const f_ustart[] = { "ls_id", "lkb_id", "flags",
						"res_name" };
	static const char *const f_uend[] = { "ls_id", "lkb_id", "flags",
					      "error", "res_name" };
	static const char *const f_msg[] = { "dst",	  "h_seq",
					     "h_version", "h_lockspace",
					     "h_nodeid",  "m_type",
					     "res_name" };
	static const char *const f_msg61[] = { "seq",	      "h_version",
					       "h_lockspace", "h_nodeid",
					       "m_type",      "m_lkid" };

	th_type_init(&t_start, "dlm", "dlm_lock_start", "iiiib", f_start);
	th_type_init(&t_end, "dlm", "dlm_lock_end", "iiiiib", f_end);
	th_type_init(&t_ast, "dlm", "dlm_ast", "iiiib", f_ast);
	th_type_init(&t_ustart, "dlm", "dlm_unlock_start", "iiib", f_ustart);
	th_type_init(&t_uend, "dlm", "dlm_unlock_end", "iiiib", f_uend);
	th_type_init(&t_send, "dlm", "dlm_send_message", "iiiiiib", f_msg);
	th_type_init(&t_recv, "dlm", "dlm_recv_message", "iiiiiib", f_msg);
	th_type_init(&t_send61, "dlm", "dlm_send_message", "iiiiii", f_msg61);
	th_type_init(&t_recv61, "dlm", "dlm_recv_message", "iiiiii", f_msg61);
	th_node_init(&nodes[0], 0, "node-a", 1000);
	th_node_init(&nodes[1], 1, "node-b", 1000);
	th_node_init(&nodes[2], 2, "node-c", 1000);
}

struct ctx {
	struct lock_engine *e;
	struct consumer *c;
	struct th_sink *sink;
	const char *name;
	size_t name_len;
};

static void open_ctx(struct ctx *x)
{
	struct lock_engine_conf conf;

	lock_conf_defaults(&conf);
	conf.eps_floor_ns = 1000;
	x->e = lock_engine_create(&conf);
	if (!x->e)
		abort();
	x->sink = th_sink_new();
	lock_engine_add_sink(x->e, &x->sink->sink);
	x->c = lock_engine_consumer(x->e);
	x->name = "resource-1";
	x->name_len = strlen(x->name);
}

/* TAI in microseconds, eps 1 us on every node */
#define US 1000ULL

static void start(struct ctx *x, int n, uint64_t us, int ls, int lkb, int mode,
		  int flags)
{
	struct evpack_value v[] = { th_int(ls), th_int(lkb), th_int(mode),
				    th_int(flags),
				    th_bytes(x->name, x->name_len) };

	th_send(x->c, &nodes[n], &t_start, us * US, US, v);
}

static void end(struct ctx *x, int n, uint64_t us, int ls, int lkb, int err)
{
	struct evpack_value v[] = {
		th_int(ls), th_int(lkb), th_int(0),
		th_int(0),  th_int(err), th_bytes(x->name, x->name_len)
	};

	th_send(x->c, &nodes[n], &t_end, us * US, US, v);
}

static void ast_flags(struct ctx *x, int n, uint64_t us, int ls, int lkb,
		      int status, int sb_flags)
{
	struct evpack_value v[] = { th_int(ls), th_int(lkb), th_int(sb_flags),
				    th_int(status),
				    th_bytes(x->name, x->name_len) };

	th_send(x->c, &nodes[n], &t_ast, us * US, US, v);
}

static void ast(struct ctx *x, int n, uint64_t us, int ls, int lkb, int status)
{
	struct evpack_value v[] = { th_int(ls), th_int(lkb), th_int(0),
				    th_int(status),
				    th_bytes(x->name, x->name_len) };

	th_send(x->c, &nodes[n], &t_ast, us * US, US, v);
}

static void unlock(struct ctx *x, int n, uint64_t us, int ls, int lkb,
		   int flags)
{
	struct evpack_value v[] = { th_int(ls), th_int(lkb), th_int(flags),
				    th_bytes(x->name, x->name_len) };

	th_send(x->c, &nodes[n], &t_ustart, us * US, US, v);
}

/* nodeids are the DLM's: node-a 1, node-b 2, node-c 3 */
static void msg(struct ctx *x, bool recv, int n, uint64_t us, int from, int to,
		int seq)
{
	struct evpack_value v[] = { th_int(to + 1),
				    th_int(seq),
				    th_int(0x30002),
				    th_int(7),
				    th_int(from + 1),
				    th_int(1),
				    th_bytes(x->name, x->name_len) };

	th_send(x->c, &nodes[n], recv ? &t_recv : &t_send, us * US, US, v);
}

static void msg61_lkid(struct ctx *x, bool recv, int n, uint64_t us, int from,
		       int seq, int lkid)
{
	struct evpack_value v[] = { th_int(seq), th_int(0x30002),
				    th_int(7),	 th_int(from + 1),
				    th_int(1),	 th_int(lkid) };

	th_send(x->c, &nodes[n], recv ? &t_recv61 : &t_send61, us * US, US, v);
}

static void msg61(struct ctx *x, bool recv, int n, uint64_t us, int from,
		  int seq)
{
	msg61_lkid(x, recv, n, us, from, seq, 0x10);
}

static void flush(struct ctx *x)
{
	x->c->ops->watermark(x->c, 1000000 * US);
}

static void close_ctx(struct ctx *x)
{
	lock_engine_destroy(x->e);
}

static struct lock_stats stats(struct ctx *x)
{
	struct lock_stats st;

	lock_engine_stats(x->e, &st);
	return st;
}

/* Hand-off through the lock master: a unlocks, b is granted after the
 * messages; clocks alone could not order it (40 us apart is enough, but 1
 * us is not), the messages do. */
static void test_handoff(void)
{
	struct ctx x;

	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 102, 1, 0x20, EX, 0); /* waits */
	unlock(&x, 0, 200, 1, 0x10, 0);
	msg(&x, false, 0, 200, 0, 1, 5); /* unlock -> master (b) */
	msg(&x, true, 1, 200, 0, 1, 5); /* same TAI: within eps */
	ast(&x, 1, 201, 1, 0x20, 0); /* b granted EX */
	ast(&x, 0, 201, 1, 0x10, EUNLOCK);
	unlock(&x, 1, 300, 1, 0x20, 0);
	ast(&x, 1, 301, 1, 0x20, EUNLOCK);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	CHECK_INT(stats(&x).safe_causal, 1);
	CHECK_INT(stats(&x).messages_matched, 1);
	CHECK_INT(stats(&x).resources, 0); /* free again: state released */
	CHECK_INT(stats(&x).holds, 0);
	close_ctx(&x);

	/* the same without the message: 1 us apart with eps 1 us: possible */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 102, 1, 0x20, EX, 0);
	unlock(&x, 0, 200, 1, 0x10, 0);
	ast(&x, 1, 201, 1, 0x20, 0);
	unlock(&x, 1, 300, 1, 0x20, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 1);
	CHECK_INT(th_count(x.sink, VERDICT_POSSIBLE), 1);
	close_ctx(&x);
}

static void test_overlap(void)
{
	struct ctx x;

	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 150, 1, 0x20, PW, 0);
	ast(&x, 1, 151, 1, 0x20, 0); /* PW granted while a holds EX */
	unlock(&x, 0, 200, 1, 0x10, 0);
	unlock(&x, 1, 250, 1, 0x20, 0);
	flush(&x);
	REQUIRE(x.sink->n == 1);
	CHECK_INT(x.sink->v[0].cls, VERDICT_DEFINITE);
	CHECK(strstr(x.sink->v[0].json, "\"mode\":\"EX\""));
	CHECK(strstr(x.sink->v[0].json, "\"mode\":\"PW\""));
	CHECK(strstr(x.sink->v[0].json, "\"name\":\"resource-1\""));
out:
	close_ctx(&x);

	/* still held by both: reported as soon as the merge is far enough */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 150, 1, 0x20, EX, 0);
	ast(&x, 1, 151, 1, 0x20, 0);
	x.c->ops->watermark(x.c, 400 * US);
	CHECK_INT(th_count(x.sink, VERDICT_DEFINITE), 1);
	if (x.sink->n)
		CHECK(x.sink->v[0].open[0] && x.sink->v[0].open[1]);
	unlock(&x, 0, 500, 1, 0x10, 0);
	unlock(&x, 1, 500, 1, 0x20, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 1); /* not twice */
	close_ctx(&x);

	/* compatible modes never conflict: PR + PR, CR + PW, NL + EX */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, PR, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 110, 1, 0x20, PR, 0);
	ast(&x, 1, 111, 1, 0x20, 0);
	start(&x, 2, 120, 1, 0x30, NL, 0);
	ast(&x, 2, 121, 1, 0x30, 0);
	unlock(&x, 0, 200, 1, 0x10, 0);
	unlock(&x, 1, 200, 1, 0x20, 0);
	start(&x, 0, 300, 1, 0x11, CR, 0);
	ast(&x, 0, 301, 1, 0x11, 0);
	start(&x, 1, 310, 1, 0x21, PW, 0);
	ast(&x, 1, 311, 1, 0x21, 0);
	start(&x, 0, 320, 1, 0x12, EX, 0); /* EX vs NL on c: fine */
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	close_ctx(&x);
}

static void test_convert(void)
{
	struct ctx x;

	/* down-convert EX -> PR: b's PR after the convert request is fine,
	 * although the convert's ast comes later */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 0, 200, 1, 0x10, PR, LKF_CONVERT);
	start(&x, 1, 250, 1, 0x20, PR, 0);
	ast(&x, 1, 251, 1, 0x20, 0);
	ast(&x, 0, 260, 1, 0x10, 0);
	unlock(&x, 0, 300, 1, 0x10, 0);
	unlock(&x, 1, 300, 1, 0x20, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	close_ctx(&x);

	/* up-convert PR -> EX: the EX is relied on from its grant, while b
	 * still holds PR: definite */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, PR, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 110, 1, 0x20, PR, 0);
	ast(&x, 1, 111, 1, 0x20, 0);
	start(&x, 0, 200, 1, 0x10, EX, LKF_CONVERT); /* pending: fine */
	ast(&x, 0, 210, 1, 0x10, 0); /* granted while b holds PR */
	unlock(&x, 1, 300, 1, 0x20, 0);
	unlock(&x, 0, 400, 1, 0x10, 0);
	flush(&x);
	REQUIRE(x.sink->n == 1);
	CHECK_INT(x.sink->v[0].cls, VERDICT_DEFINITE);
	CHECK(strstr(x.sink->v[0].json, "\"what\":\"request\""));
out:
	close_ctx(&x);

	/* a convert up that is cancelled keeps the old mode (PR): b's EX
	 * granted meanwhile conflicts with it */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, PR, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 0, 200, 1, 0x10, EX, LKF_CONVERT);
	unlock(&x, 0, 210, 1, 0x10, LKF_CANCEL);
	ast(&x, 0, 211, 1, 0x10, ECANCEL);
	start(&x, 1, 300, 1, 0x20, EX, 0);
	ast(&x, 1, 301, 1, 0x20, 0);
	unlock(&x, 1, 400, 1, 0x20, 0);
	unlock(&x, 0, 500, 1, 0x10, 0);
	flush(&x);
	CHECK_INT(th_count(x.sink, VERDICT_DEFINITE), 1);
	CHECK_INT(x.sink->n, 1);
	close_ctx(&x);
}

static void test_nothing_granted(void)
{
	struct ctx x;

	/* NOQUEUE: -EAGAIN grants nothing; cancel of a request neither;
	 * an error at dlm_lock_end neither */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 150, 1, 0x20, EX, LKF_NOQUEUE);
	ast(&x, 1, 151, 1, 0x20, -11);
	start(&x, 1, 160, 1, 0x21, EX, 0);
	unlock(&x, 1, 170, 1, 0x21, LKF_CANCEL);
	ast(&x, 1, 171, 1, 0x21, ECANCEL);
	start(&x, 1, 180, 1, 0x22, EX, 0);
	end(&x, 1, 180, 1, 0x22, -22);
	ast(&x, 1, 190, 1, 0x22, 0); /* stray ast: the request failed */
	unlock(&x, 0, 200, 1, 0x10, 0);
	ast(&x, 0, 201, 1, 0x10, EUNLOCK);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	CHECK_INT(stats(&x).resources, 0);
	close_ctx(&x);

	/* -DLM_EUNLOCK alone ends the lock (force unlock, no unlock_start) */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	ast(&x, 0, 200, 1, 0x10, EUNLOCK);
	start(&x, 1, 300, 1, 0x20, EX, 0);
	ast(&x, 1, 301, 1, 0x20, 0);
	unlock(&x, 1, 400, 1, 0x20, 0);
	ast(&x, 1, 401, 1, 0x20, EUNLOCK);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	CHECK_INT(stats(&x).resources, 0);
	close_ctx(&x);

	/* an ast for a lock never seen requested is counted, not guessed */
	open_ctx(&x);
	ast(&x, 0, 100, 1, 0x99, 0);
	CHECK_INT(stats(&x).unknown_lkb, 1);
	CHECK_INT(stats(&x).holds, 0);
	close_ctx(&x);
}

static void test_lockspaces(void)
{
	struct ctx x;

	/* same name, two lockspaces: two resources */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 150, 2, 0x10, EX, 0);
	ast(&x, 1, 151, 2, 0x10, 0);
	unlock(&x, 0, 200, 1, 0x10, 0);
	unlock(&x, 1, 200, 2, 0x10, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	close_ctx(&x);

	/* resource names are bytes: a NUL and high bytes are kept, escaped */
	open_ctx(&x);
	x.name = "res\0\xff\"x";
	x.name_len = 7;
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 150, 1, 0x20, EX, 0);
	ast(&x, 1, 151, 1, 0x20, 0);
	flush(&x);
	REQUIRE(x.sink->n == 1);
	CHECK(strstr(x.sink->v[0].json, "\"name\":\"res\\u0000\\u00ff\\\"x\""));
	CHECK(strstr(x.sink->v[0].json, "\"name_hex\":\"72657300ff2278\""));
	CHECK(strstr(x.sink->v[0].json, "\"lockspace\":1"));
out:
	close_ctx(&x);
}

/* 6.1's message events: "seq", no "dst"; and a receive merged before its
 * send (the receiver's clock is behind, within eps) */
static void test_messages(void)
{
	struct ctx x;

	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	start(&x, 1, 102, 1, 0x20, EX, 0);
	unlock(&x, 0, 200, 1, 0x10, 0);
	msg61(&x, true, 1, 199, 0, 9); /* released first by TAI */
	ast(&x, 1, 200, 1, 0x20, 0); /* held back until the send */
	msg61(&x, false, 0, 200, 0, 9);
	unlock(&x, 1, 300, 1, 0x20, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	CHECK_INT(stats(&x).safe_causal, 1);
	CHECK_INT(stats(&x).messages_matched, 1);
	close_ctx(&x);

	/*
	 * 6.1 counts seq per destination: node-a's requests to node-b and
	 * to node-c may both be seq 9.  Their lock ids tell them apart, so
	 * each receive pairs with its own send (not one orphan receive).
	 */
	open_ctx(&x);
	msg61_lkid(&x, false, 0, 100, 0, 9, 0x10);
	msg61_lkid(&x, false, 0, 101, 0, 9, 0x11);
	msg61_lkid(&x, true, 1, 102, 0, 9, 0x10);
	msg61_lkid(&x, true, 2, 103, 0, 9, 0x11);
	flush(&x);
	CHECK_INT(stats(&x).messages_matched, 2);
	CHECK_INT(stats(&x).recv_orphans, 0);
	close_ctx(&x);

	/* a relay through a third node is a chain too: a -> c -> b */
	open_ctx(&x);
	start(&x, 0, 100, 1, 0x10, EX, 0);
	ast(&x, 0, 101, 1, 0x10, 0);
	unlock(&x, 0, 200, 1, 0x10, 0);
	msg(&x, false, 0, 200, 0, 2, 1);
	msg(&x, true, 2, 200, 0, 2, 1);
	msg(&x, false, 2, 201, 2, 1, 1);
	msg(&x, true, 1, 201, 2, 1, 1);
	start(&x, 1, 201, 1, 0x20, EX, 0);
	ast(&x, 1, 201, 1, 0x20, 0);
	unlock(&x, 1, 300, 1, 0x20, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 0);
	CHECK_INT(stats(&x).safe_causal, 1);
	close_ctx(&x);
}

/* ALTPR: a CW request may be granted PR instead (sb_flags ALTMODE) */
static void test_altmode(void)
{
	struct ctx x;

	for (int alt = 0; alt < 2; alt++) {
		open_ctx(&x);
		start(&x, 0, 100, 1, 0x10, CW, 0);
		ast(&x, 0, 101, 1, 0x10, 0);
		start(&x, 1, 150, 1, 0x20, CW, 0x8000 /* ALTPR */);
		ast_flags(&x, 1, 151, 1, 0x20, 0, alt ? 0x04 : 0);
		unlock(&x, 0, 200, 1, 0x10, 0);
		unlock(&x, 1, 200, 1, 0x20, 0);
		flush(&x);
		/* CW + CW are compatible, PR + CW are not */
		CHECK_INT(th_count(x.sink, VERDICT_DEFINITE), alt);
		close_ctx(&x);
	}
}

/* after lost events, an unlock of a lock never seen granted says that
 * the resource's history is incomplete; before any loss it is just a lock
 * taken before tracing began */
static void test_lost_grant(void)
{
	struct ctx x;

	open_ctx(&x);
	unlock(&x, 0, 100, 1, 0x10, 0);
	CHECK_INT(x.sink->n, 0);
	x.c->ops->loss(x.c, &nodes[0], 150 * US, 160 * US, 3);
	CHECK_INT(th_count(x.sink, VERDICT_INCOMPLETE), 1);
	unlock(&x, 0, 200, 1, 0x11, 0);
	CHECK_INT(th_count(x.sink, VERDICT_INCOMPLETE), 2);
	if (x.sink->n == 2)
		CHECK(strstr(x.sink->v[1].json, "\"name\":\"resource-1\""));
	close_ctx(&x);
}

/*
 * Arbitrary event sequences (any order, any mode, flag and status, stray
 * messages, names in two lockspaces): nothing breaks, and once every lock
 * is unlocked and its EUNLOCK seen, every hold and resource is freed.
 */
static void test_random(void)
{
	static const int statuses[] = { 0, 0, 0, -11, ECANCEL, EUNLOCK, -35 };
	static const char *const names[] = { "a", "b", "c" };
	uint64_t rng = 0x2545F4914F6CDD1DULL;
	struct ctx x;

	open_ctx(&x);
	for (int i = 0; i < 20000; i++) {
		int n, lkb, r;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		n = (int)(rng % 3);
		lkb = (int)((rng >> 8) % 6);
		r = (int)((rng >> 16) % 8);
		x.name = names[(rng >> 24) % 3];
		x.name_len = 1;
		switch (r) {
		case 0:
		case 1:
			start(&x, n, 1000 + (uint64_t)i,
			      1 + (int)((rng >> 30) % 2), lkb,
			      (int)((rng >> 32) % 7) - 1,
			      (int)((rng >> 40) % 8));
			break;
		case 2:
		case 3:
			ast_flags(&x, n, 1000 + (uint64_t)i,
				  1 + (int)((rng >> 30) % 2), lkb,
				  statuses[(rng >> 32) % 7],
				  (int)((rng >> 40) % 8));
			break;
		case 4:
			unlock(&x, n, 1000 + (uint64_t)i,
			       1 + (int)((rng >> 30) % 2), lkb,
			       (int)((rng >> 40) % 4));
			break;
		case 5:
			end(&x, n, 1000 + (uint64_t)i,
			    1 + (int)((rng >> 30) % 2), lkb,
			    (rng >> 40) % 2 ? -11 : 0);
			break;
		default:
			msg(&x, r == 7, n, 1000 + (uint64_t)i,
			    (int)((rng >> 44) % 3), n, (int)((rng >> 48) % 16));
			break;
		}
		if (i % 50 == 0)
			x.c->ops->watermark(x.c, (500 + (uint64_t)i) * US);
	}
	/* unlock everything that might be held, everywhere */
	for (int n = 0; n < 3; n++)
		for (int ls = 1; ls <= 2; ls++)
			for (int lkb = 0; lkb < 6; lkb++) {
				unlock(&x, n, 100000, ls, lkb, 0);
				ast(&x, n, 100001, ls, lkb, EUNLOCK);
			}
	x.c->ops->watermark(x.c, 10000000 * US);
	CHECK(x.sink->n > 0); /* random grants do conflict */
	CHECK_INT(stats(&x).holds, 0);
	CHECK_INT(stats(&x).resources, 0);
	close_ctx(&x);
}

/*
 * CONVDEADLK: the DLM may demote a converting lock's granted mode to NL to
 * break a conversion deadlock (the real DLM did, in the VM tier: a PW->EX
 * and a CR->PR convert; CR->PR was granted next to the demoted PW), so
 * reliance on the old mode ends at such a convert's request.
 */
static void test_convdeadlk(void)
{
	struct ctx x;

	for (int dl = 0; dl < 2; dl++) {
		open_ctx(&x);
		start(&x, 0, 100, 1, 0x10, PW, 0);
		ast(&x, 0, 101, 1, 0x10, 0);
		start(&x, 1, 110, 1, 0x20, CR, 0);
		ast(&x, 1, 111, 1, 0x20, 0);
		start(&x, 0, 200, 1, 0x10, EX,
		      LKF_CONVERT | (dl ? LKF_CONVDEADLK : 0));
		start(&x, 1, 210, 1, 0x20, PR, LKF_CONVERT | LKF_CONVDEADLK);
		ast(&x, 1, 300, 1, 0x20, 0); /* PR next to a's PW */
		unlock(&x, 1, 400, 1, 0x20, 0);
		ast_flags(&x, 0, 410, 1, 0x10, 0, 0x01 /* DEMOTED */);
		unlock(&x, 0, 500, 1, 0x10, 0);
		flush(&x);
		/* without CONVDEADLK, a's PW was still relied on */
		CHECK_INT(th_count(x.sink, VERDICT_DEFINITE), !dl);
		CHECK_INT(x.sink->n, !dl);
		close_ctx(&x);
	}
}

/*
 * Linux 6.12 records the ast of a user-space lock with sb_status and
 * sb_flags swapped: flags in sb_status, the status' low byte in sb_flags.
 * Read back, a NOQUEUE refusal grants nothing, an unlock ends the lock and
 * a demoted grant is a grant; the same run in 6.1's shape agrees.
 */
static void test_ast_swapped(void)
{
	const char *holds, *end_holds, *pw, *ex;
	struct ctx x;

	for (int swapped = 0; swapped < 2; swapped++) {
		open_ctx(&x);
		start(&x, 0, 100, 1, 0x10, EX, 0);
		ast(&x, 0, 101, 1, 0x10, 0);
		start(&x, 1, 150, 1, 0x20, EX, LKF_NOQUEUE);
		if (swapped)
			ast_flags(&x, 1, 151, 1, 0x20, 0, 0xf5); /* -EAGAIN */
		else
			ast(&x, 1, 151, 1, 0x20, -11);
		unlock(&x, 0, 200, 1, 0x10, 0);
		if (swapped)
			ast_flags(&x, 0, 201, 1, 0x10, 0, 0xfe); /* EUNLOCK */
		else
			ast(&x, 0, 201, 1, 0x10, EUNLOCK);
		start(&x, 1, 300, 1, 0x21, PW, 0);
		if (swapped)
			ast_flags(&x, 1, 301, 1, 0x21, 0x01, 0); /* DEMOTED */
		else
			ast_flags(&x, 1, 301, 1, 0x21, 0, 0x01);
		start(&x, 0, 350, 1, 0x11, PR, 0);
		ast(&x, 0, 351, 1, 0x11, 0); /* PR next to b's PW */
		unlock(&x, 0, 400, 1, 0x11, 0);
		unlock(&x, 1, 400, 1, 0x21, 0);
		flush(&x);
		CHECK_INT(th_count(x.sink, VERDICT_DEFINITE), 1);
		REQUIRE(x.sink->n == 1);
		/* the PW grant next to the PR, not the refused EX */
		holds = strstr(x.sink->v[0].json, "\"holds\":");
		REQUIRE(holds);
		end_holds = strstr(holds, "\"happens_before\"");
		REQUIRE(end_holds);
		pw = strstr(holds, "\"mode\":\"PW\"");
		ex = strstr(holds, "\"mode\":\"EX\"");
		CHECK(pw && pw < end_holds);
		CHECK(!ex || ex > end_holds);
out:
		close_ctx(&x);
	}
}

/*
 * A hot resource: two nodes hand it off in EX 2000 times, 10 us apart, with
 * eps 1 us and lock.eps_floor 10 ms while the watermark lags 5 ms, so
 * hundreds of released holds are kept.  A grant must compare itself only
 * with the holds that can still conflict (the open one and the last few
 * released within eps), not with every one kept; 2000 PR grants (all
 * compatible) compare with none.  The verdicts stay right: one overlap
 * injected at the end is definite.
 */
static void test_hot_resource(void)
{
	struct lock_engine_conf conf;
	struct lock_stats st;
	struct ctx x;
	uint64_t t = 1000;
	int i;

	lock_conf_defaults(&conf);
	conf.eps_floor_ns = 10000000;
	x.e = lock_engine_create(&conf);
	if (!x.e)
		abort();
	x.sink = th_sink_new();
	lock_engine_add_sink(x.e, &x.sink->sink);
	x.c = lock_engine_consumer(x.e);
	x.name = "hot";
	x.name_len = 3;
	for (i = 0; i < 2000; i++, t += 10) {
		int n = i % 2, lkb = 0x100 + i;

		start(&x, n, t, 1, lkb, EX, 0);
		ast(&x, n, t + 1, 1, lkb, 0);
		unlock(&x, n, t + 5, 1, lkb, 0);
		ast(&x, n, t + 6, 1, lkb, EUNLOCK);
		if (i % 10 == 0 && t > 5000)
			x.c->ops->watermark(x.c, (t - 5000) * US);
	}
	st = stats(&x);
	CHECK(st.holds > 400); /* released holds are kept for eps_floor */
	CHECK_INT(x.sink->n, 0);
	/*
	 * each grant: at most the previous hold (released 5 us before, so
	 * clock-separated); scanning the kept holds would be > 400 per grant
	 */
	CHECK(st.holds_examined <= 2000);

	/* compatible grants compare with nothing */
	x.name = "hot-pr";
	x.name_len = 6;
	for (i = 0; i < 2000; i++, t += 10) {
		int n = i % 2, lkb = 0x10000 + i;

		start(&x, n, t, 1, lkb, PR, 0);
		ast(&x, n, t + 1, 1, lkb, 0);
		unlock(&x, n, t + 5, 1, lkb, 0);
		ast(&x, n, t + 6, 1, lkb, EUNLOCK);
	}
	CHECK_INT(stats(&x).holds_examined, st.holds_examined);

	/* an overlap among the kept holds is still found */
	x.name = "hot";
	x.name_len = 3;
	start(&x, 0, t, 1, 0x50000, EX, 0);
	ast(&x, 0, t + 1, 1, 0x50000, 0);
	start(&x, 1, t + 2, 1, 0x50001, EX, 0);
	ast(&x, 1, t + 3, 1, 0x50001, 0);
	unlock(&x, 0, t + 20, 1, 0x50000, 0);
	unlock(&x, 1, t + 21, 1, 0x50001, 0);
	flush(&x);
	CHECK_INT(x.sink->n, 1);
	CHECK_INT(th_count(x.sink, VERDICT_DEFINITE), 1);
	CHECK(stats(&x).holds_examined > st.holds_examined);
	CHECK_INT(stats(&x).holds, 0);
	close_ctx(&x);
}

int main(int argc, char **argv)
{
	types();
	test_handoff();
	test_overlap();
	test_convert();
	test_nothing_granted();
	test_lockspaces();
	test_messages();
	test_altmode();
	test_convdeadlk();
	test_ast_swapped();
	test_hot_resource();
	test_lost_grant();
	test_random();
	return check_summary(argv[0]);
}
