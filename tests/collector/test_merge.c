// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_merge.c - the merge against a brute-force oracle.
 *
 * Property test: random per-node streams (TAI non-decreasing per node,
 * ties across nodes), random batch splits, random epsilons, honest
 * watermarks that sometimes lag, pushes and heartbeats in a random
 * interleaving.  After every release round the oracle recomputes the bound
 * (smallest watermark less the largest epsilon) over everything pushed and
 * checks: nothing above the bound was released, everything at or below it
 * was; the release order is TAI-sorted; each node's (seq, index) order is
 * kept with no gap; at the end every event came out exactly once, in the
 * order of a brute-force sort by TAI.  Seeds are printed on failure.
 *
 * Unit cases: an unreachable node stops blocking the merge and is
 * reported; its late events become loss, never out-of-order events; a
 * restart position skips what was delivered; agent loss reports reach the
 * consumers in TAI.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "merge.h"
#include "msg.h"

#define MAX_NODES 6
#define MAX_EV 400

struct rel {
	uint32_t node;
	uint64_t seq;
	uint32_t index;
	uint64_t tai;
	uint64_t v;
};

struct sink {
	struct consumer c;
	struct rel *rel;
	size_t n, cap;
	uint64_t wm;
	uint64_t lost[MAX_NODES], loss_calls[MAX_NODES];
	uint64_t loss_from[MAX_NODES], loss_to[MAX_NODES];
	int state[MAX_NODES];
};

static void sink_event(struct consumer *c, const struct cevent *ev)
{
	struct sink *s = (struct sink *)c;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->rel = realloc(s->rel, s->cap * sizeof(*s->rel));
	}
	s->rel[s->n++] = (struct rel){ ev->node->index, ev->seq, ev->index,
				       ev->tai_ns, ev->vals[0].u };
}

static void sink_loss(struct consumer *c, const struct cnode *node,
		      uint64_t from, uint64_t to, uint64_t count)
{
	struct sink *s = (struct sink *)c;

	s->lost[node->index] += count;
	s->loss_calls[node->index]++;
	s->loss_from[node->index] = from;
	s->loss_to[node->index] = to;
}

static void sink_state(struct consumer *c, const struct cnode *node,
		       enum cnode_state st, uint64_t tai)
{
	((struct sink *)c)->state[node->index] = st;
}

static void sink_wm(struct consumer *c, uint64_t tai)
{
	struct sink *s = (struct sink *)c;

	CHECK(tai >= s->wm);
	s->wm = tai;
}

static void sink_destroy(struct consumer *c)
{
	free(((struct sink *)c)->rel);
}

static const struct consumer_ops sink_ops = {
	.event = sink_event,
	.loss = sink_loss,
	.node_state = sink_state,
	.watermark = sink_wm,
	.destroy = sink_destroy,
};

static struct schema *test_schema(void)
{
	static Netrv__Field f = NETRV__FIELD__INIT;
	static Netrv__Field *fp = &f;
	static Netrv__EventType t = NETRV__EVENT_TYPE__INIT;
	static Netrv__EventType *tp = &t;
	Netrv__Schema s = NETRV__SCHEMA__INIT;
	uint8_t buf[256];
	struct frame fr = { FRAME_SCHEMA, 0, buf + FRAME_HEADER_SIZE };
	char err[128];
	long n;

	f.name = "v";
	t.system = "test";
	t.name = "ev";
	t.n_fields = 1;
	t.fields = &fp;
	s.schema_id = 7;
	s.n_types = 1;
	s.types = &tp;
	n = msg_pack(FRAME_SCHEMA, &s.base, buf, sizeof(buf));
	fr.len = (uint32_t)(n - FRAME_HEADER_SIZE);
	return schema_create((Netrv__Schema *)msg_unpack(&fr, NULL), err,
			     sizeof(err));
}

/* A batch of events with TAI @tai[0..n) (offset @off), values @v. */
static Netrv__Batch *make_batch_loss(uint64_t seq, const uint64_t *tai,
				     const uint64_t *v, size_t n, int64_t off,
				     uint64_t eps, uint64_t wm_tai,
				     Netrv__LossReport *loss)
{
	Netrv__Batch b = NETRV__BATCH__INIT;
	Netrv__ClockStatus clk = NETRV__CLOCK_STATUS__INIT;
	uint64_t deltas[MAX_EV];
	uint32_t types[MAX_EV] = { 0 }, cpus[MAX_EV] = { 0 };
	struct bytebuf fields = { 0 };
	uint8_t *buf;
	struct frame fr;
	Netrv__Batch *out;
	size_t len;

	for (size_t i = 0; i < n; i++) {
		deltas[i] = i ? tai[i] - tai[i - 1] : 0;
		evpack_put_u64(&fields, v[i]);
	}
	clk.tai_offset_ns = off;
	clk.epsilon_ns = eps;
	b.seq = seq;
	b.schema_id = 7;
	b.base_ns = n ? (uint64_t)((int64_t)tai[0] - off) : 0;
	b.n_time_delta = b.n_event_type = b.n_cpu = n;
	b.time_delta = deltas;
	b.event_type = types;
	b.cpu = cpus;
	b.fields.data = fields.data;
	b.fields.len = fields.len;
	b.watermark_ns = (uint64_t)((int64_t)wm_tai - off);
	b.clock = &clk;
	if (loss) {
		b.n_losses = 1;
		b.losses = &loss;
	}
	len = msg_frame_size(&b.base);
	buf = malloc(len);
	msg_pack(FRAME_BATCH, &b.base, buf, len);
	fr = (struct frame){ FRAME_BATCH, (uint32_t)(len - FRAME_HEADER_SIZE),
			     buf + FRAME_HEADER_SIZE };
	out = (Netrv__Batch *)msg_unpack(&fr, NULL);
	free(buf);
	bytebuf_release(&fields);
	return out;
}

static Netrv__Batch *make_batch(uint64_t seq, const uint64_t *tai,
				const uint64_t *v, size_t n, int64_t off,
				uint64_t eps, uint64_t wm_tai)
{
	return make_batch_loss(seq, tai, v, n, off, eps, wm_tai, NULL);
}

struct gen_node {
	size_t n; /* events */
	uint64_t tai[MAX_EV];
	size_t pushed; /* events pushed so far */
	uint64_t seq;
	uint64_t wm; /* watermark given (TAI) */
	uint64_t eps;
	int64_t off;
	size_t released; /* next expected index in node order */
	uint64_t rel_seq[MAX_EV];
	uint32_t rel_idx[MAX_EV];
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Check what the oracle demands after a release round. */
static int check_round(struct sink *sk, size_t *seen, struct gen_node *g,
		       int nn)
{
	uint64_t bound = UINT64_MAX, eps = 0;
	int fails = 0;

	for (int i = 0; i < nn; i++) {
		if (g[i].wm < bound)
			bound = g[i].wm;
		if (g[i].eps > eps)
			eps = g[i].eps;
	}
	bound = bound > eps ? bound - eps : 0;
	for (; *seen < sk->n; (*seen)++) {
		struct rel *r = &sk->rel[*seen];
		struct gen_node *gn = &g[r->node];

		/* safety: nothing above the bound; local order, no gap */
		fails += !CHECK(r->tai <= bound);
		fails += !CHECK(gn->released < gn->pushed);
		if (gn->released >= gn->pushed)
			return fails;
		fails += !CHECK(r->seq == gn->rel_seq[gn->released] &&
				r->index == gn->rel_idx[gn->released]);
		fails += !CHECK(r->v == r->node * 100000ull + gn->released);
		fails += !CHECK(r->tai == gn->tai[gn->released]);
		if (*seen)
			fails += !CHECK(r->tai >= sk->rel[*seen - 1].tai);
		gn->released++;
	}
	/* eagerness: every pushed event at or below the bound is out */
	for (int i = 0; i < nn; i++)
		if (g[i].released < g[i].pushed)
			fails += !CHECK(g[i].tai[g[i].released] > bound);
	return fails;
}

static int one_history(uint64_t seed)
{
	uint64_t rs = seed * 2654435761u + 1;
	int nn = 1 + (int)(rnd(&rs) % MAX_NODES);
	struct gen_node *g = calloc(MAX_NODES, sizeof(*g));
	struct schema *sc = test_schema();
	struct merge *m = merge_create(1000000000000ull);
	struct sink *sk = calloc(1, sizeof(*sk));
	uint64_t all[MAX_NODES * MAX_EV];
	size_t n_all = 0, seen = 0;
	int fails = 0;

	sk->c.ops = &sink_ops;
	sk->c.name = "sink";
	merge_add_consumer(m, &sk->c);
	for (int i = 0; i < nn; i++) {
		char name[16];
		uint64_t t = 1000 + rnd(&rs) % 100;

		snprintf(name, sizeof(name), "n%d", i);
		merge_node(m, name, 0);
		g[i].n = rnd(&rs) % MAX_EV;
		g[i].eps = rnd(&rs) % 20;
		g[i].off = (int64_t)(rnd(&rs) % 1000) - 500;
		g[i].seq = 1;
		for (size_t k = 0; k < g[i].n; k++) {
			/* many ties within and across nodes */
			t += rnd(&rs) % 4 ? rnd(&rs) % 30 : 0;
			g[i].tai[k] = t;
			all[n_all++] = t;
		}
	}
	for (int steps = 0; steps < 10000; steps++) {
		int i = (int)(rnd(&rs) % (uint64_t)nn);
		struct gen_node *gn = &g[i];
		bool done = true;

		for (int j = 0; j < nn; j++)
			done &= g[j].pushed == g[j].n;
		if (done)
			break;
		if (gn->pushed < gn->n && rnd(&rs) % 3) {
			size_t k = 1 + rnd(&rs) % 40, first = gn->pushed;
			uint64_t v[MAX_EV], wm;

			if (k > gn->n - first)
				k = gn->n - first;
			for (size_t j = 0; j < k; j++) {
				v[j] = (uint64_t)i * 100000ull + first + j;
				gn->rel_seq[first + j] = gn->seq;
				gn->rel_idx[first + j] = (uint32_t)j;
			}
			/* honest watermark: at most the next event's time */
			wm = first + k < gn->n ? gn->tai[first + k] :
						 gn->tai[first + k - 1];
			if (rnd(&rs) % 2)
				wm -= rnd(&rs) % 10 < wm ? rnd(&rs) % 10 : 0;
			if (wm < gn->wm)
				wm = gn->wm;
			if (rnd(&rs) % 4 == 0)
				gn->eps = rnd(&rs) % 20;
			merge_push(m, (uint32_t)i,
				   make_batch(gn->seq, &gn->tai[first], v, k,
					      gn->off, gn->eps, wm),
				   sc, 0);
			gn->seq++;
			gn->pushed += k;
			gn->wm = wm;
		} else {
			uint64_t wm = gn->pushed < gn->n ? gn->tai[gn->pushed] :
							   gn->wm + 50;
			Netrv__ClockStatus clk = NETRV__CLOCK_STATUS__INIT;

			if (wm < gn->wm)
				wm = gn->wm;
			clk.tai_offset_ns = gn->off;
			clk.epsilon_ns = gn->eps;
			merge_heartbeat(m, (uint32_t)i,
					(uint64_t)((int64_t)wm - gn->off), &clk,
					0);
			gn->wm = wm;
		}
		if (rnd(&rs) % 2) {
			merge_run(m);
			fails += check_round(sk, &seen, g, nn);
			if (fails)
				goto out;
		}
	}
	/* everyone promises the future: all must come out, sorted */
	for (int i = 0; i < nn; i++) {
		Netrv__ClockStatus clk = NETRV__CLOCK_STATUS__INIT;

		clk.tai_offset_ns = g[i].off;
		clk.epsilon_ns = g[i].eps;
		g[i].wm = 1ull << 40;
		merge_heartbeat(m, (uint32_t)i,
				(uint64_t)((int64_t)g[i].wm - g[i].off), &clk,
				0);
	}
	merge_run(m);
	fails += check_round(sk, &seen, g, nn);
	fails += !CHECK(sk->n == n_all);
	qsort(all, n_all, sizeof(all[0]), cmp_u64);
	for (size_t k = 0; k < n_all && k < sk->n; k++)
		if (!CHECK(sk->rel[k].tai == all[k])) {
			fails++;
			break;
		}
	for (int i = 0; i < nn; i++)
		fails += !CHECK(g[i].released == g[i].n && !sk->lost[i]);
out:
	merge_destroy(m);
	free(sk);
	schema_destroy(sc);
	free(g);
	if (fails)
		fprintf(stderr,
			"merge property: failing seed %llu (%d nodes)\n",
			(unsigned long long)seed, nn);
	return fails;
}

static void test_property(void)
{
	uint64_t base = (uint64_t)time(NULL);
	const char *env = getenv("NETRV_SEED");
	int n = 2000;

	if (env) {
		base = strtoull(env, NULL, 0);
		n = 1;
	}
	printf("merge property: seeds %llu..%llu\n", (unsigned long long)base,
	       (unsigned long long)(base + (uint64_t)n - 1));
	for (int i = 0; i < n; i++)
		if (one_history(base + (uint64_t)i))
			break;
}

static struct merge *setup(struct sink **skp, struct schema **scp, int nodes,
			   uint64_t liveness)
{
	struct merge *m = merge_create(liveness);
	struct sink *sk = calloc(1, sizeof(*sk));

	sk->c.ops = &sink_ops;
	sk->c.name = "sink";
	merge_add_consumer(m, &sk->c);
	for (int i = 0; i < nodes; i++) {
		char name[16];

		snprintf(name, sizeof(name), "n%d", i);
		merge_node(m, name, 0);
	}
	*skp = sk;
	*scp = test_schema();
	return m;
}

static void teardown(struct merge *m, struct sink *sk, struct schema *sc)
{
	merge_destroy(m);
	free(sk);
	schema_destroy(sc);
}

static void test_unreachable(void)
{
	struct sink *sk;
	struct schema *sc;
	struct merge *m = setup(&sk, &sc, 2, 1000);
	uint64_t t[3] = { 100, 200, 300 }, v[3] = { 0, 1, 2 };
	uint64_t late[2] = { 150, 250 }, lv[2] = { 100000, 100001 };

	/* n1 sent a watermark once, then went silent */
	merge_push(m, 1, make_batch(1, t, lv, 0, 0, 0, 50), sc, 0);
	merge_push(m, 0, make_batch(1, t, v, 3, 0, 5, 400), sc, 10);
	merge_run(m);
	CHECK_INT(sk->n, 0); /* n1's watermark 50 holds everything back */
	merge_tick(m, 999, 5000);
	merge_run(m);
	CHECK_INT(sk->n, 0); /* not yet past the timeout */
	merge_tick(m, 1001, 5000);
	CHECK_INT(sk->state[1], CNODE_UNREACHABLE);
	/* how long it is away is not known yet: no loss */
	CHECK_INT(sk->loss_calls[1], 0);
	merge_run(m);
	CHECK_INT(sk->n, 3); /* the merge goes on without n1 */
	/*
	 * n1 comes back: from its last watermark (50) to its first event now
	 * (150) is unknown, count 0; its events behind what was released are
	 * loss with their count
	 */
	merge_push(m, 1, make_batch(2, late, lv, 2, 0, 0, 260), sc, 2000);
	CHECK_INT(sk->state[1], CNODE_UP);
	CHECK_INT(sk->loss_calls[1], 1);
	CHECK_INT(sk->lost[1], 0);
	CHECK_INT(sk->loss_from[1], 50);
	CHECK_INT(sk->loss_to[1], 150);
	merge_heartbeat(m, 0, 1000, NULL, 2000);
	merge_run(m);
	CHECK_INT(sk->n, 3);
	CHECK_INT(sk->loss_calls[1], 2);
	CHECK_INT(sk->lost[1], 2);
	CHECK_INT(sk->loss_from[1], 150);
	CHECK_INT(sk->loss_to[1], 250);

	/* a node that says Goodbye is down at once, having lost nothing */
	merge_gone(m, 0, 3000);
	CHECK_INT(sk->state[0], CNODE_DOWN);
	CHECK_INT(sk->loss_calls[0], 0);
	merge_tick(m, 100000, 6000); /* down, not unreachable later */
	CHECK_INT(sk->state[0], CNODE_DOWN);
	CHECK_INT(sk->loss_calls[0], 0);
	/* back where its watermark was (a heartbeat): nothing unknown */
	merge_heartbeat(m, 0, 1000, NULL, 100001);
	CHECK_INT(sk->state[0], CNODE_UP);
	CHECK_INT(sk->loss_calls[0], 0);
	/* down again, back with a first event at 9000: [1000, 9000] unknown */
	merge_gone(m, 0, 7000);
	{
		uint64_t t2[1] = { 9000 }, v2[1] = { 9 };

		merge_push(m, 0, make_batch(5, t2, v2, 1, 0, 0, 9000), sc,
			   100002);
	}
	CHECK_INT(sk->state[0], CNODE_UP);
	CHECK_INT(sk->loss_calls[0], 1);
	CHECK_INT(sk->lost[0], 0);
	CHECK_INT(sk->loss_from[0], 1000);
	CHECK_INT(sk->loss_to[0], 9000);
	/* unreachable twice without being heard: one gap, from the first */
	merge_tick(m, 200000, 8000);
	CHECK_INT(sk->state[0], CNODE_UNREACHABLE);
	merge_gone(m, 0, 8500);
	CHECK_INT(sk->state[0], CNODE_UNREACHABLE);
	merge_heartbeat(m, 0, 12000, NULL, 200001);
	CHECK_INT(sk->loss_calls[0], 2);
	CHECK_INT(sk->loss_from[0], 9000);
	CHECK_INT(sk->loss_to[0], 12000);
	teardown(m, sk, sc);
}

static void test_position_and_losses(void)
{
	struct sink *sk;
	struct schema *sc;
	struct merge *m = setup(&sk, &sc, 1, 1000);
	uint64_t t[4] = { 10, 20, 30, 40 }, v[4] = { 0, 1, 2, 3 };
	Netrv__Batch *b;
	uint64_t seq;
	uint32_t next;

	/* delivered before a restart: all of seq 1, seq 2 up to index 1 */
	merge_set_position(m, 0, 2, 2);
	merge_push(m, 0, make_batch(1, t, v, 4, 0, 0, 40), sc, 0);
	b = make_batch(2, t, v, 4, 0, 0, 40);
	merge_push(m, 0, b, sc, 0);
	merge_run(m);
	CHECK_INT(sk->n, 2);
	CHECK(sk->n == 2 && sk->rel[0].seq == 2 && sk->rel[0].index == 2 &&
	      sk->rel[1].index == 3);
	merge_position(m, 0, &seq, &next);
	CHECK_INT(seq, 3);
	CHECK_INT(next, 0);
	teardown(m, sk, sc);

	/* a loss report rides in a batch: told in TAI, before its events */
	m = setup(&sk, &sc, 1, 1000);
	{
		Netrv__LossReport lr = NETRV__LOSS_REPORT__INIT;

		lr.count = 17;
		lr.from_ns = 1;
		lr.to_ns = 5;
		merge_push(m, 0, make_batch_loss(1, t, v, 2, 100, 0, 20, &lr),
			   sc, 0);
		merge_run(m);
		CHECK_INT(sk->lost[0], 17);
		CHECK_INT(sk->loss_from[0], 101);
		CHECK_INT(sk->loss_to[0], 105);
		CHECK_INT(sk->n, 2);
	}
	teardown(m, sk, sc);
}

int main(int argc, char **argv)
{
	test_unreachable();
	test_position_and_losses();
	test_property();
	return check_summary(argv[0]);
}
