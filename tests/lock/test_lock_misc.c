// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_lock_misc.c - the flock and user adapters, configuration, clock-bound
 * verdicts, lost events and unreachable nodes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "harness.h"

#define US 1000ULL

static struct cnode nodes[2];

static struct lock_engine *engine(struct lock_engine_conf *conf,
				  struct th_sink **sink)
{
	struct lock_engine *e;

	conf->eps_floor_ns = US;
	e = lock_engine_create(conf);
	if (!e)
		abort();
	*sink = th_sink_new();
	lock_engine_add_sink(e, &(*sink)->sink);
	return e;
}

/* --- flock: the real format's fields (see the format file) --- */
static struct th_type t_flock;

static void flock_ev(struct consumer *c, int n, uint64_t us, uint64_t owner,
		     int type, int ret, int flags)
{
	struct evpack_value v[] = {
		th_int(0xffff0001),
		th_int(1234),
		th_int((8 << 20) | 2),
		th_int(0),
		th_int((int64_t)owner),
		th_int(77),
		th_int(flags),
		th_int(type),
		th_int(0),
		th_int(-1),
		th_int(ret),
		th_int(77),
	};

	th_send(c, &nodes[n], &t_flock, us * US, US, v);
}

static void test_flock(void)
{
	static const char *const f[] = { "fl",	    "i_ino", "s_dev",
					 "blocker", "owner", "pid",
					 "flags",   "type",  "fl_start",
					 "fl_end",  "ret",   "common_pid" };
	struct lock_engine_conf conf;
	struct lock_engine *e;
	struct th_sink *s;
	struct consumer *c;

	th_type_init(&t_flock, "filelock", "flock_lock_inode", "iiiiiiiiiiii",
		     f);
	lock_conf_defaults(&conf);
	e = engine(&conf, &s);
	c = lock_engine_consumer(e);
	flock_ev(c, 0, 100, 0xa, 1, 0, 2); /* a: LOCK_EX */
	flock_ev(c, 1, 110, 0xb, 1, -11, 2); /* b: EX, EWOULDBLOCK */
	flock_ev(c, 1, 120, 0xb, 0, 0, 2 | 8); /* FL_ACCESS: a probe */
	flock_ev(c, 0, 200, 0xa, 0, 0, 2); /* a: convert to SH */
	flock_ev(c, 1, 210, 0xb, 0, 0, 2); /* b: SH: fine */
	flock_ev(c, 1, 300, 0xb, 2, 0, 2); /* b: UN */
	flock_ev(c, 0, 300, 0xa, 2, 0, 2);
	c->ops->watermark(c, 10000 * US);
	CHECK_INT(s->n, 0);
	/*
	 * and now a real conflict: two files on two nodes, both EX.  Without
	 * the flock(2) entries (test_lock_flock_exact) a release event says
	 * only that the lock was dropped at some time after its grant: the
	 * overlap is possible, not certain.
	 */
	flock_ev(c, 0, 20000, 0xa, 1, 0, 2);
	flock_ev(c, 1, 20100, 0xb, 1, 0, 2);
	flock_ev(c, 0, 20200, 0xa, 2, 0, 2);
	flock_ev(c, 1, 20300, 0xb, 2, 0, 2);
	c->ops->watermark(c, 30000 * US);
	REQUIRE(s->n == 1);
	CHECK_INT(s->v[0].cls, VERDICT_POSSIBLE);
	CHECK(strstr(s->v[0].json, "\"domain\":\"flock\""));
	CHECK(strstr(s->v[0].json, "\"name\":\"08:02:1234\""));
	CHECK(strstr(s->v[0].json, "\"mode\":\"exclusive\""));
	/* two files on one node: local order decides, definite */
	th_sink_clear(s);
	flock_ev(c, 0, 40000, 0xa, 1, 0, 2);
	flock_ev(c, 0, 40100, 0xc, 1, 0, 2);
	CHECK_INT(th_count(s, VERDICT_DEFINITE), 1);
out:
	lock_engine_destroy(e);
}

/* --- user adapter, configured from a file --- */
static const char user_conf[] =
	"[lock]\n"
	"adapters = user\n"
	"user_modes = shared, update, exclusive\n"
	"user_compatible = shared:shared, shared:update\n"
	"[lock_user acquired]\n"
	"event = uprobes:lock_acquired\n"
	"name_field = name\n"
	"mode_field = mode\n"
	"[lock_user releasing]\n"
	"event = uprobes:lock_releasing\n"
	"action = release\n"
	"name_field = name\n"
	"[lock_user marker]\n"
	"event = ftrace:raw_data\n"
	"match_field = id\n"
	"match_value = 7\n"
	"name_field = buf\n"
	"prefix = svc/\n"
	"[lock_pair rpc]\n"
	"send = app:rpc_send\n"
	"recv = app:rpc_recv\n"
	"send_key = call_id, from\n"
	"recv_key = call_id, from\n";

static struct config *read_conf(const char *text, char *path, size_t len)
{
	struct config *cfg =
		config_create(lock_config_sections, lock_config_options);
	FILE *f;

	snprintf(path, len, "/tmp/netrv-lock-test-%d.conf", (int)getpid());
	f = fopen(path, "w");
	if (!f || !cfg)
		abort();
	fputs(text, f);
	fclose(f);
	if (config_read(cfg, path) < 0) {
		fprintf(stderr, "config: %s\n", config_error(cfg));
		config_destroy(cfg);
		cfg = NULL;
	}
	unlink(path);
	return cfg;
}

static void test_user(void)
{
	static const char *const f_acq[] = { "name", "mode", "common_pid" };
	static const char *const f_rel[] = { "name", "common_pid" };
	static const char *const f_raw[] = { "id", "buf", "common_pid" };
	struct th_type t_acq, t_rel, t_raw;
	struct lock_engine_conf conf;
	struct lock_engine *e = NULL;
	struct config *cfg;
	struct th_sink *s;
	struct consumer *c;
	char path[128], err[256];

	th_type_init(&t_acq, "uprobes", "lock_acquired", "ssi", f_acq);
	th_type_init(&t_rel, "uprobes", "lock_releasing", "si", f_rel);
	th_type_init(&t_raw, "ftrace", "raw_data", "ibi", f_raw);
	cfg = read_conf(user_conf, path, sizeof(path));
	REQUIRE(cfg);
	REQUIRE(lock_conf_from_config(cfg, &conf, err, sizeof(err)) == 0);
	CHECK(!conf.dlm && !conf.flock && conf.user);
	CHECK_INT(conf.n_user_rules, 3);
	CHECK_INT(conf.n_pair_rules, 1);
	CHECK_INT(conf.user_n_modes, 3);
	e = engine(&conf, &s);
	c = lock_engine_consumer(e);

	/* shared + update are compatible; update + update are not */
	struct evpack_value a1[] = { th_str("orders"), th_str("shared"),
				     th_int(100) };
	struct evpack_value b1[] = { th_str("orders"), th_str("update"),
				     th_int(200) };
	struct evpack_value b2[] = { th_str("orders"), th_int(200) };
	struct evpack_value a2[] = { th_str("orders"), th_str("update"),
				     th_int(100) };
	struct evpack_value a3[] = { th_str("orders"), th_int(100) };

	th_send(c, &nodes[0], &t_acq, 100 * US, US, a1);
	th_send(c, &nodes[1], &t_acq, 110 * US, US, b1);
	CHECK_INT(s->n, 0);
	th_send(c, &nodes[0], &t_acq, 120 * US, US, a2); /* upgrade */
	th_send(c, &nodes[1], &t_rel, 200 * US, US, b2);
	th_send(c, &nodes[0], &t_rel, 210 * US, US, a3);
	c->ops->watermark(c, 1000 * US);
	REQUIRE(s->n == 1);
	CHECK_INT(s->v[0].cls, VERDICT_DEFINITE);
	CHECK(strstr(s->v[0].json, "\"mode\":\"update\""));
	CHECK(strstr(s->v[0].json, "\"domain\":\"user\""));

	/* trace_marker_raw: id 7 only, the name prefixed */
	th_sink_clear(s);
	uint8_t name[] = { 'q', 'u', 'e', 'u', 'e' };
	struct evpack_value m1[] = { th_int(7), th_bytes(name, 5), th_int(1) };
	struct evpack_value m2[] = { th_int(8), th_bytes(name, 5), th_int(2) };
	struct evpack_value m3[] = { th_int(7), th_bytes(name, 5), th_int(3) };

	th_send(c, &nodes[0], &t_raw, 2000 * US, US, m1);
	th_send(c, &nodes[1], &t_raw, 2100 * US, US, m2); /* not id 7 */
	CHECK_INT(s->n, 0);
	th_send(c, &nodes[1], &t_raw, 2200 * US, US, m3);
	REQUIRE(s->n == 0);
	c->ops->watermark(c, 100000 * US);
	CHECK_INT(th_count(s, VERDICT_DEFINITE), 1);
	if (s->n)
		CHECK(strstr(s->v[0].json, "\"name\":\"svc/queue\""));
out:
	lock_engine_destroy(e);
	lock_conf_release(&conf);
	if (cfg)
		config_destroy(cfg);
}

static void test_conf_errors(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[lock]\nadapters = dlm, nfs\n", "unknown adapter \"nfs\"" },
		{ "[lock]\nuser_compatible = shared:upgrade\n",
		  "\"shared:upgrade\" is not MODE:MODE" },
		{ "[lock_user x]\nevent = nocolon\nname_field = n\n",
		  "[lock_user x] event: give SYSTEM:EVENT" },
		{ "[lock_user x]\nevent = a:b\n", "name_field is required" },
		{ "[lock_pair p]\nsend = a:b\nrecv = a:c\nsend_key = x,y\nrecv_key = x\n",
		  "as many on both sides" },
	};
	char path[128], err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lock_engine_conf conf;
		struct config *cfg =
			read_conf(cases[i].text, path, sizeof(path));

		if (!CHECK(cfg))
			continue;
		err[0] = '\0';
		CHECK(lock_conf_from_config(cfg, &conf, err, sizeof(err)) < 0);
		if (!CHECK(strstr(err, cases[i].want)))
			fprintf(stderr, "  got \"%s\"\n", err);
		lock_conf_release(&conf);
		config_destroy(cfg);
	}
}

/* --- clock bounds, loss, liveness (user adapter + a declared pair) --- */
static struct th_type t_a, t_r, t_s, t_v;
static struct lock_user_rule urules[2];
static struct lock_pair_rule prule;

static struct lock_engine *plain_k(struct th_sink **s, unsigned int k)
{
	static const char *const f_lock[] = { "res", "holder" };
	static const char *const f_msg[] = { "id" };
	struct lock_engine_conf conf;

	th_type_init(&t_a, "t", "acq", "si", f_lock);
	th_type_init(&t_r, "t", "rel", "si", f_lock);
	th_type_init(&t_s, "t", "send", "i", f_msg);
	th_type_init(&t_v, "t", "recv", "i", f_msg);
	urules[0] = (struct lock_user_rule){ .system = "t",
					     .event = "acq",
					     .name_field = "res",
					     .holder_field = "holder" };
	urules[1] = urules[0];
	urules[1].event = "rel";
	urules[1].action = LOCK_USER_RELEASE;
	prule = (struct lock_pair_rule){ .send_system = "t",
					 .send_event = "send",
					 .recv_system = "t",
					 .recv_event = "recv",
					 .n_keys = 1,
					 .send_key = { "id" },
					 .recv_key = { "id" } };
	lock_conf_defaults(&conf);
	conf.user_rules = urules;
	conf.n_user_rules = 2;
	conf.pair_rules = &prule;
	conf.n_pair_rules = 1;
	conf.history = k;
	return engine(&conf, s);
}

static struct lock_engine *plain(struct th_sink **s)
{
	return plain_k(s, 16);
}

static void ev(struct consumer *c, int n, const struct th_type *t, uint64_t us,
	       int64_t a)
{
	struct evpack_value v[] = { th_str("r"), th_int(a) };
	struct evpack_value m[] = { th_int(a) };

	th_send(c, &nodes[n], t, us * US, US, t == &t_s || t == &t_v ? m : v);
}

static void test_clock_bound(void)
{
	struct lock_engine *e;
	struct th_sink *s;
	struct consumer *c;

	/* the send comes first: the receive 500 us earlier is impossible */
	e = plain(&s);
	c = lock_engine_consumer(e);
	ev(c, 0, &t_s, 1000, 1);
	ev(c, 1, &t_v, 500, 1);
	REQUIRE(s->n == 1);
	CHECK_INT(s->v[0].cls, VERDICT_CLOCK_BOUND);
	CHECK(strstr(s->v[0].json, "\"excess_ns\":498000"));
	CHECK(strstr(s->v[0].json, "\"node\":\"n0\",\"source\":\"ptp\""));
	CHECK(strstr(s->v[0].json, "\"node\":\"n1\",\"source\":\"ptp\""));
	lock_engine_destroy(e);

	/* the receive comes first (TAI order): held back, given up when no
	 * honest send can come, and the late send is still reported */
	e = plain(&s);
	c = lock_engine_consumer(e);
	ev(c, 1, &t_v, 500, 2);
	ev(c, 1, &t_a, 501, 5); /* held back behind the receive */
	c->ops->watermark(c, 600 * US);
	CHECK_INT(s->n, 0);
	ev(c, 0, &t_s, 1000, 2);
	CHECK_INT(th_count(s, VERDICT_CLOCK_BOUND), 1);
	{
		struct lock_stats st;

		lock_engine_stats(e, &st);
		CHECK_INT(st.recv_orphans, 1);
		CHECK_INT(st.holds,
			  1); /* the held-back acquire was delivered */
	}
	/* within eps: no verdict */
	th_sink_clear(s);
	ev(c, 0, &t_s, 2000, 3);
	ev(c, 1, &t_v, 1999, 3);
	CHECK_INT(s->n, 0);
out:
	lock_engine_destroy(e);
}

static void test_incomplete(void)
{
	struct lock_engine *e;
	struct th_sink *s;
	struct consumer *c;

	/* n0 holds r and loses events: its hold may have ended in the gap;
	 * n1's conflicting hold is then incomplete, not a violation */
	e = plain(&s);
	c = lock_engine_consumer(e);
	ev(c, 0, &t_a, 100, 1);
	c->ops->loss(c, &nodes[0], 150 * US, 160 * US, 42);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 2); /* node + resource */
	if (s->n == 2) {
		CHECK(strstr(s->v[0].json, "\"lost\":42"));
		CHECK(strstr(s->v[1].json, "\"name\":\"r\""));
	}
	th_sink_clear(s);
	ev(c, 1, &t_a, 200, 2);
	ev(c, 1, &t_r, 300, 2);
	ev(c, 0, &t_r, 400, 1);
	c->ops->watermark(c, 10000 * US);
	CHECK_INT(s->n, 1);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 1);
	CHECK_INT(th_count(s, VERDICT_DEFINITE), 0);
	lock_engine_destroy(e);

	/* a loss report for a node whose events are held back (a receive
	 * waits for its send) applies after those events, in its place */
	e = plain(&s);
	c = lock_engine_consumer(e);
	ev(c, 0, &t_v, 100, 9); /* its send is stamped later */
	ev(c, 0, &t_a, 101, 1); /* held back */
	c->ops->loss(c, &nodes[0], 102 * US, 110 * US, 1); /* lost: release */
	ev(c, 1, &t_s, 101, 9); /* the send: n0 goes on */
	ev(c, 1, &t_a, 200, 2);
	ev(c, 1, &t_r, 300, 2);
	c->ops->watermark(c, 10000 * US);
	CHECK_INT(th_count(s, VERDICT_DEFINITE), 0);
	CHECK_INT(th_count(s, VERDICT_POSSIBLE), 0);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 3); /* node, r, pair */
	lock_engine_destroy(e);

	/*
	 * unreachable while holding: incomplete at once (node and resource);
	 * back: only the loss the merge reports for the unknown interval
	 */
	e = plain(&s);
	c = lock_engine_consumer(e);
	ev(c, 0, &t_a, 100, 1);
	c->ops->node_state(c, &nodes[0], CNODE_UNREACHABLE, 150 * US);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 2);
	c->ops->node_state(c, &nodes[0], CNODE_UP, 250 * US);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 2);
	c->ops->loss(c, &nodes[0], 140 * US, 240 * US, 0);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 3); /* node; r: known */
	CHECK(strstr(s->v[2].json,
		     "\"from_tai_ns\":140000,\"to_tai_ns\":240000"));
	lock_engine_destroy(e);

	/*
	 * Goodbye after the last batch: no verdict for the node or what it
	 * held; its hold may end unseen, so a conflict with it is incomplete,
	 * not definite; and a node that left without holding anything leaves
	 * no trace in the verdicts
	 */
	e = plain(&s);
	c = lock_engine_consumer(e);
	ev(c, 0, &t_a, 100, 1);
	c->ops->node_state(c, &nodes[0], CNODE_DOWN, 150 * US);
	CHECK_INT(s->n, 0);
	ev(c, 1, &t_a, 200, 2);
	ev(c, 1, &t_r, 300, 2);
	c->ops->node_state(c, &nodes[1], CNODE_DOWN, 400 * US);
	c->ops->watermark(c, 10000 * US);
	CHECK_INT(th_count(s, VERDICT_DEFINITE), 0);
	CHECK_INT(th_count(s, VERDICT_INCOMPLETE), 1);
	CHECK(s->n == 1 && strstr(s->v[0].json, "\"holds\":[{"));
	lock_engine_destroy(e);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* a verdict shows each node's last K events of the resource, merged */
static void test_history(void)
{
	struct lock_engine *e;
	struct th_sink *s;
	struct consumer *c;
	const char *j;

	e = plain_k(&s, 2);
	c = lock_engine_consumer(e);
	ev(c, 1, &t_a, 100, 2);
	for (int i = 0; i < 3; i++) {
		ev(c, 0, &t_a, 200 + 20 * (uint64_t)i, 1);
		ev(c, 0, &t_r, 210 + 20 * (uint64_t)i, 1);
	}
	ev(c, 1, &t_r, 300, 2);
	c->ops->watermark(c, 10000 * US);
	REQUIRE(s->n == 3);
	j = strstr(s->v[2].json, "\"history\":");
	REQUIRE(j);
	CHECK_INT(count(j, "{\"node\":\"n0\",\"what\""), 2);
	CHECK_INT(count(j, "{\"node\":\"n1\",\"what\""), 2);
	/* merged: n0's last two (grant 240, release 250) before n1's release */
	CHECK(strstr(j, "\"tai_ns\":240000,") <
	      strstr(j, "\"tai_ns\":250000,"));
	CHECK(strstr(j, "\"tai_ns\":250000,") <
	      strstr(j, "\"tai_ns\":300000,"));
	CHECK(!strstr(j, "\"tai_ns\":230000,"));
	lock_engine_destroy(e);

	/* K = 16: a node's ring grows past its first 4 entries in order */
	e = plain_k(&s, 16);
	c = lock_engine_consumer(e);
	ev(c, 1, &t_a, 100, 2);
	for (int i = 0; i < 3; i++) {
		ev(c, 0, &t_a, 200 + 20 * (uint64_t)i, 1);
		ev(c, 0, &t_r, 210 + 20 * (uint64_t)i, 1);
	}
	ev(c, 1, &t_r, 300, 2);
	c->ops->watermark(c, 10000 * US);
	REQUIRE(s->n == 3);
	j = strstr(s->v[2].json, "\"history\":");
	REQUIRE(j);
	CHECK_INT(count(j, "{\"node\":\"n0\",\"what\""), 6);
	CHECK(strstr(j, "\"tai_ns\":200000,") <
	      strstr(j, "\"tai_ns\":230000,"));
	CHECK(strstr(j, "\"tai_ns\":230000,") <
	      strstr(j, "\"tai_ns\":250000,"));
out:
	lock_engine_destroy(e);
}

int main(int argc, char **argv)
{
	th_node_init(&nodes[0], 0, "n0", US);
	th_node_init(&nodes[1], 1, "n1", US);
	test_flock();
	test_user();
	test_conf_errors();
	test_clock_bound();
	test_incomplete();
	test_history();
	return check_summary(argv[0]);
}
