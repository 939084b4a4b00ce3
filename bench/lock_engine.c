// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lock_engine.c - how many merged events per second one core of the lock
 * engine takes, on DLM lock hand-offs between N nodes.
 *
 * Each hand-off of a resource from node h to node n is six events, as the
 * DLM traces them: n dlm_lock_start EX, h dlm_unlock_start, h
 * dlm_send_message to n, n dlm_recv_message, n dlm_ast 0 (granted), h
 * dlm_ast -DLM_EUNLOCK.  Events are 200 ns apart with eps 1 us, so only
 * the message orders release and grant: every hand-off is a pair decided
 * by the vector clocks.  Watermarks follow every 64 events.  Events are made
 * on the fly (included in the time).  EPS_FLOOR (ns, default 1000) is
 * lock.eps_floor: released holds are kept until the watermark passes them
 * by that much, so 10000000 (the collector's default, 10 ms) with a few
 * resources gives hot resources with thousands of kept holds each.
 *
 *   lock_engine_bench [EVENTS] [RESOURCES] [FIRST SIZE INDEX 0..3] [EPS_FLOOR]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lock/harness.h"

static struct th_type t_start, t_ast, t_ustart, t_send, t_recv;

static void types(void)
{
	static const char *const f_start[] = { "ls_id", "lkb_id", "mode",
					       "flags", "res_name" };
	static const char *const f_ast[] = { "ls_id", "lkb_id", "sb_flags",
					     "sb_status", "res_name" };
	static const char *const f_ustart[] = { "ls_id", "lkb_id", "flags",
						"res_name" };
	static const char *const f_msg[] = { "dst", "h_seq", "h_nodeid",
					     "m_type" };

	th_type_init(&t_start, "dlm", "dlm_lock_start", "iiiib", f_start);
	th_type_init(&t_ast, "dlm", "dlm_ast", "iiiib", f_ast);
	th_type_init(&t_ustart, "dlm", "dlm_unlock_start", "iiib", f_ustart);
	th_type_init(&t_send, "dlm", "dlm_send_message", "iiii", f_msg);
	th_type_init(&t_recv, "dlm", "dlm_recv_message", "iiii", f_msg);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct cnode *snap_nodes;
static unsigned int snap_n;

static const struct cnode *snap_find(void *arg, const char *name)
{
	(void)arg;
	for (unsigned int i = 0; i < snap_n; i++)
		if (!strcmp(snap_nodes[i].name, name))
			return &snap_nodes[i];
	return NULL;
}

/*
 * NETRV_BENCH_SNAPSHOT=DIR: the cost of a checkpoint's lock state (written
 * on the merge's thread) and of loading it at start, for the table now.
 */
static void snapshot(struct lock_engine *e, const struct lock_engine_conf *conf,
		     struct cnode *nodes, unsigned int n_nodes)
{
	const char *dir = getenv("NETRV_BENCH_SNAPSHOT");
	char path[4096], err[256];
	struct lock_engine *b;
	struct stat sb;
	double t0, ts, tl;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/.lock-state.bench", dir);
	t0 = now();
	if (lock_engine_save(e, path))
		return;
	ts = now() - t0;
	b = lock_engine_create(conf);
	snap_nodes = nodes;
	snap_n = n_nodes;
	t0 = now();
	if (!b || lock_engine_load(b, path, snap_find, NULL, err, sizeof(err)))
		fprintf(stderr, "load: %s\n", err);
	tl = now() - t0;
	stat(path, &sb);
	printf("     snapshot: %lld bytes, save (with fsync) %.1f ms, load %.1f ms\n",
	       (long long)sb.st_size, ts * 1e3, tl * 1e3);
	lock_engine_destroy(b);
	if (!getenv("NETRV_BENCH_KEEP"))
		unlink(path);
}

static void run(unsigned int n_nodes, uint64_t events, unsigned int n_res,
		uint64_t eps_floor)
{
	struct cnode *nodes = calloc(n_nodes, sizeof(*nodes));
	char(*names)[16] = calloc(n_nodes, sizeof(*names));
	int *holder = calloc(n_res, sizeof(*holder));
	uint32_t *lkb = calloc(n_res, sizeof(*lkb));
	char(*res)[24] = calloc(n_res, sizeof(*res));
	struct lock_engine_conf conf;
	struct lock_engine *e;
	struct consumer *c;
	struct lock_stats st;
	uint64_t tai = 1000000, sent = 0, seq = 0, rng = 88172645463325252ULL;
	double t0, t;

	for (unsigned int i = 0; i < n_nodes; i++) {
		snprintf(names[i], sizeof(names[i]), "node%u", i);
		th_node_init(&nodes[i], i, names[i], 1000);
	}
	for (unsigned int r = 0; r < n_res; r++) {
		snprintf(res[r], sizeof(res[r]), "resource-%06u", r);
		holder[r] = -1;
	}
	lock_conf_defaults(&conf);
	conf.eps_floor_ns = eps_floor;
	e = lock_engine_create(&conf);
	if (!e)
		exit(1);
	c = lock_engine_consumer(e);
	t0 = now();
	for (uint64_t i = 0; sent < events; i++) {
		unsigned int r = (unsigned int)(i % n_res);
		int h = holder[r], n;
		struct evpack_value v[5];
		struct evpack_value name = th_bytes(res[r], 20);

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		n = (int)(rng % n_nodes);
		if (n == h)
			n = (n + 1) % (int)n_nodes;
#define EV(node, type)                                         \
	do {                                                   \
		th_send(c, &nodes[node], &type, tai, 1000, v); \
		tai += 200;                                    \
		if (++sent % 64 == 0)                          \
			c->ops->watermark(c, tai - 10000);     \
	} while (0)
		v[0] = th_int(1);
		v[1] = th_int((int64_t)(r << 8 | (unsigned int)n));
		v[2] = th_int(5);
		v[3] = th_int(0);
		v[4] = name;
		EV(n, t_start);
		if (h >= 0) {
			v[1] = th_int((int64_t)lkb[r]);
			v[2] = th_int(0);
			v[3] = name;
			EV(h, t_ustart);
			v[0] = th_int(n + 1);
			v[1] = th_int((int64_t)++seq);
			v[2] = th_int(h + 1);
			v[3] = th_int(1);
			EV(h, t_send);
			EV(n, t_recv);
		}
		v[0] = th_int(1);
		v[1] = th_int((int64_t)(r << 8 | (unsigned int)n));
		v[2] = th_int(0);
		v[3] = th_int(0);
		v[4] = name;
		EV(n, t_ast);
		if (h >= 0) {
			v[1] = th_int((int64_t)lkb[r]);
			v[3] = th_int(-0x10002);
			EV(h, t_ast);
		}
		holder[r] = n;
		lkb[r] = (uint32_t)(r << 8 | (unsigned int)n);
	}
	t = now() - t0;
	lock_engine_stats(e, &st);
	printf("%4u nodes %6u resources: %9.0f events/s  (%" PRIu64
	       " events, %.3f s; pairs %" PRIu64 ", safe by causality %" PRIu64
	       ", verdicts %" PRIu64 ", live holds %" PRIu64 ")\n",
	       n_nodes, n_res, (double)sent / t, sent, t, st.pairs_checked,
	       st.safe_causal,
	       st.verdicts[VERDICT_POSSIBLE] + st.verdicts[VERDICT_DEFINITE],
	       st.holds);
	snapshot(e, &conf, nodes, n_nodes);
	lock_engine_destroy(e);
	free(nodes);
	free(names);
	free(holder);
	free(lkb);
	free(res);
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 0) : 3000000;
	unsigned int n_res = argc > 2 ? (unsigned int)atoi(argv[2]) : 10000;
	static const unsigned int sizes[] = { 4, 16, 64, 256 };
	unsigned int first = argc > 3 ? (unsigned int)atoi(argv[3]) : 0;
	uint64_t eps_floor = argc > 4 ? strtoull(argv[4], NULL, 0) : 1000;

	types();
	for (unsigned int i = first; i < 4; i++)
		run(sizes[i], events, n_res, eps_floor);
	return 0;
}
