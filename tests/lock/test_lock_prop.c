// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_lock_prop.c - the lock engine against a brute-force oracle.
 *
 * Each case is a random multi-node lock history made in TRUE global time:
 * holders acquire shared/exclusive locks only when compatible (healthy) or,
 * in faulty histories, sometimes regardless; nodes send messages (with
 * random delays), and a receive often makes its node take the lock the
 * sender just released, as a lock manager's hand-off would.  Every node then
 * sees its events through a clock offset |off| <= eps; the merged stream is
 * a random interleaving that keeps each node's order and roughly follows
 * TAI, with watermarks that are true promises.
 *
 * The oracle knows the truth: the real happens-before relation (vector
 * clocks in true time) and every hold.  For each pair of incompatible holds
 * it enumerates every admissible assignment of true times to the four
 * events (each within its clock window, local order and happens-before
 * respected) and classes the pair: safe (no assignment overlaps), definite
 * (every assignment overlaps) or possible.  The engine must report exactly
 * the possible and definite pairs with the same class, and nothing else.
 * Since the true times are one admissible assignment, a true overlap is
 * never safe for the oracle, and so never for the engine.
 *
 * Another fourth of the seeds lose one node's events in a window of time
 * (with a loss report): a true overlap whose four events all arrived must
 * still be reported, and "definite" must still be true.
 *
 * Every fourth seed, one node's clock is off by more than the eps it
 * claims: then nothing is promised about pairs, but every message whose
 * receive is stamped before its send beyond both eps must be reported as
 * a clock-bound violation, exactly once, whatever the merge order.
 *
 *   NETRV_LOCK_SEED=N       first seed (default: from the time, printed)
 *   NETRV_LOCK_HISTORIES=N  number of histories (default 10000)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "harness.h"

#define MAXN 4
#define MAXEV 512
#define MAXHOLD 128

enum { E_ACQ, E_REL, E_SEND, E_RECV };

struct gev {
	int node, kind, res, mode, holder, msg, hold;
	int64_t t; /* true time */
	uint64_t tai, eps;
	uint64_t lidx;
	uint64_t vc[MAXN];
	int jitter;
};

struct ghold {
	int node, holder, res, mode, g, r; /* g, r: event indices */
};

struct gmsg {
	int dst, intent, send_ev, recv_ev;
	int64_t due;
	uint64_t vc[MAXN];
	bool done;
};

struct hist {
	int n_nodes, n_res, hpn;
	int64_t eps[MAXN], off[MAXN];
	struct gev ev[MAXEV];
	int n_ev;
	struct ghold h[MAXHOLD];
	int n_hold;
	struct gmsg msg[MAXEV];
	int n_msg;
};

static uint64_t rng;

static uint64_t rnd64(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static int rnd(int n)
{
	return (int)(rnd64() % (uint64_t)n);
}

static uint64_t vcs[MAXN][MAXN], lidx[MAXN];

static struct gev *emit(struct hist *h, int node, int kind, int64_t t)
{
	struct gev *e;

	if (h->n_ev == MAXEV)
		return NULL;
	e = &h->ev[h->n_ev++];
	memset(e, 0, sizeof(*e));
	e->node = node;
	e->kind = kind;
	e->t = t;
	e->hold = -1;
	e->tai = (uint64_t)(t + h->off[node]);
	e->eps = (uint64_t)h->eps[node];
	e->lidx = ++lidx[node];
	vcs[node][node] = e->lidx;
	memcpy(e->vc, vcs[node], sizeof(e->vc));
	return e;
}

static bool compatible(const struct hist *h, int node, int holder, int res,
		       int mode, int holding[MAXN][2][2])
{
	for (int n = 0; n < h->n_nodes; n++)
		for (int k = 0; k < h->hpn; k++) {
			int hi = holding[n][k][res];

			if (hi < 0 || (n == node && k == holder))
				continue;
			if (mode == 1 || h->h[hi].mode == 1)
				return false;
		}
	return true;
}

static void generate(struct hist *h)
{
	int holding[MAXN][2][2], intent[MAXN], send_after[MAXN];
	bool faulty = rnd(100) < 30;
	int steps = 10 + rnd(30);
	int64_t t = 20;

	memset(h, 0, sizeof(*h));
	memset(vcs, 0, sizeof(vcs));
	memset(lidx, 0, sizeof(lidx));
	h->n_nodes = 2 + rnd(3);
	h->n_res = 1 + rnd(2);
	h->hpn = 1 + rnd(2);
	for (int n = 0; n < h->n_nodes; n++) {
		h->eps[n] = rnd(4);
		h->off[n] = rnd((int)(2 * h->eps[n] + 1)) - h->eps[n];
		intent[n] = send_after[n] = -1;
	}
	memset(holding, 0xff, sizeof(holding));
	for (int step = 0;; step++) {
		int best = -1, n, k, r;
		struct gev *e;

		t++;
		for (int i = 0; i < h->n_msg; i++)
			if (!h->msg[i].done && h->msg[i].due <= t &&
			    (best < 0 || h->msg[i].due < h->msg[best].due))
				best = i;
		if (best >= 0) {
			struct gmsg *m = &h->msg[best];

			for (int i = 0; i < MAXN; i++)
				if (m->vc[i] > vcs[m->dst][i])
					vcs[m->dst][i] = m->vc[i];
			e = emit(h, m->dst, E_RECV, t);
			if (!e)
				return;
			e->msg = best;
			m->recv_ev = h->n_ev - 1;
			m->done = true;
			if (m->intent >= 0)
				intent[m->dst] = m->intent;
			continue;
		}
		n = rnd(h->n_nodes);
		if (send_after[n] >= 0 || (step < steps && rnd(100) < 12)) {
			struct gmsg *m = &h->msg[h->n_msg];

			if (h->n_msg == MAXEV)
				return;
			m->dst = (n + 1 + rnd(h->n_nodes - 1)) % h->n_nodes;
			m->due = t + 1 + rnd(6);
			m->intent = send_after[n] >= 0 ? send_after[n] :
				    rnd(2)	       ? rnd(h->n_res) :
							 -1;
			m->done = false;
			send_after[n] = -1;
			e = emit(h, n, E_SEND, t);
			if (!e)
				return;
			memcpy(m->vc, e->vc, sizeof(m->vc));
			m->send_ev = h->n_ev - 1;
			m->recv_ev = -1;
			e->msg = h->n_msg++;
			continue;
		}
		k = rnd(h->hpn);
		r = intent[n] >= 0 ? intent[n] : rnd(h->n_res);
		intent[n] = -1;
		if (step >= steps) {
			/* wind down: release what is held, let messages land */
			bool any = false;

			for (n = 0; n < h->n_nodes && !any; n++)
				for (k = 0; k < h->hpn && !any; k++)
					for (r = 0; r < h->n_res && !any; r++)
						any = holding[n][k][r] >= 0;
			if (!any) {
				bool pend = false;

				for (int i = 0; i < h->n_msg; i++)
					pend |= !h->msg[i].done;
				if (!pend)
					return;
				continue;
			}
			n--, k--, r--;
		}
		if (holding[n][k][r] >= 0) {
			int hi = holding[n][k][r];

			e = emit(h, n, E_REL, t);
			if (!e)
				return;
			e->res = r;
			e->holder = n * 10 + k;
			e->hold = hi;
			h->h[hi].r = h->n_ev - 1;
			holding[n][k][r] = -1;
			if (step < steps && rnd(100) < 60)
				send_after[n] = r;
		} else if (step < steps && h->n_hold < MAXHOLD) {
			int mode = rnd(2);

			if (!compatible(h, n, k, r, mode, holding) &&
			    !(faulty && rnd(100) < 35))
				continue;
			e = emit(h, n, E_ACQ, t);
			if (!e)
				return;
			e->res = r;
			e->mode = mode;
			e->holder = n * 10 + k;
			e->hold = h->n_hold;
			h->h[h->n_hold] = (struct ghold){ .node = n,
							  .holder = n * 10 + k,
							  .res = r,
							  .mode = mode,
							  .g = h->n_ev - 1,
							  .r = -1 };
			holding[n][k][r] = h->n_hold++;
		}
	}
}

static bool hb(const struct hist *h, int x, int y)
{
	return h->ev[y].vc[h->ev[x].node] >= h->ev[x].lidx;
}

/* The oracle's class of holds a, b (both closed). */
static enum verdict_class oracle(const struct hist *h, const struct ghold *a,
				 const struct ghold *b)
{
	const int idx[4] = { a->g, a->r, b->g, b->r };
	int64_t lo[4], hi[4];
	bool can_overlap = false, can_disjoint = false;
	int64_t T[4];

	if (a->node == b->node) {
		bool ov = h->ev[a->g].t < h->ev[b->r].t &&
			  h->ev[b->g].t < h->ev[a->r].t;

		return ov ? VERDICT_DEFINITE : VERDICT_SAFE;
	}
	for (int i = 0; i < 4; i++) {
		lo[i] = (int64_t)h->ev[idx[i]].tai - (int64_t)h->ev[idx[i]].eps;
		hi[i] = (int64_t)h->ev[idx[i]].tai + (int64_t)h->ev[idx[i]].eps;
	}
	for (T[0] = lo[0]; T[0] <= hi[0]; T[0]++)
		for (T[1] = lo[1] > T[0] ? lo[1] : T[0]; T[1] <= hi[1]; T[1]++)
			for (T[2] = lo[2]; T[2] <= hi[2]; T[2]++)
				for (T[3] = lo[3] > T[2] ? lo[3] : T[2];
				     T[3] <= hi[3]; T[3]++) {
					bool ok = true;

					for (int x = 0; x < 4 && ok; x++)
						for (int y = 0; y < 4 && ok;
						     y++) {
							if ((x < 2) == (y < 2))
								continue;
							if (hb(h, idx[x],
							       idx[y]) &&
							    T[x] > T[y])
								ok = false;
						}
					if (!ok)
						continue;
					if (T[0] < T[3] && T[2] < T[1])
						can_overlap = true;
					else
						can_disjoint = true;
				}
	if (!can_overlap)
		return VERDICT_SAFE;
	return can_disjoint ? VERDICT_POSSIBLE : VERDICT_DEFINITE;
}

static struct th_test_service svc;
static char *res_names[2] = { "r0", "r1" };

static void setup_types(void)
{
	th_test_service_init(&svc);
}

static void dump(const struct hist *h)
{
	fprintf(stderr, "  nodes %d:", h->n_nodes);
	for (int n = 0; n < h->n_nodes; n++)
		fprintf(stderr, " n%d(eps %" PRId64 " off %" PRId64 ")", n,
			h->eps[n], h->off[n]);
	fprintf(stderr, "\n");
	for (int i = 0; i < h->n_ev; i++) {
		static const char *const k[] = { "acq", "rel", "send", "recv" };
		const struct gev *e = &h->ev[i];

		fprintf(stderr,
			"  t=%" PRId64
			" n%d %-4s res=%d mode=%d holder=%d msg=%d tai=%" PRIu64
			"\n",
			e->t, e->node, k[e->kind], e->res, e->mode, e->holder,
			e->msg, e->tai);
	}
}

static int find_hold(const struct hist *h, uint32_t node, uint64_t grant)
{
	for (int i = 0; i < h->n_hold; i++)
		if ((uint32_t)h->h[i].node == node &&
		    h->ev[h->h[i].g].tai == grant)
			return i;
	return -1;
}

static unsigned long stat_pairs[VERDICT_MAX], stat_overlap, stat_cb,
	stat_lossy_overlap;

static bool overlaps(const struct hist *h, int i, int j)
{
	return h->ev[h->h[i].g].t < h->ev[h->h[j].r].t &&
	       h->ev[h->h[j].g].t < h->ev[h->h[i].r].t;
}

/* An engine hold covering true hold @i: same holder, granted no later. */
static bool covers(const struct hist *h, const struct th_verdict *x, int s,
		   int i)
{
	return x->node[s] == (uint32_t)h->h[i].node &&
	       x->holder[s] == (uint64_t)h->h[i].holder &&
	       x->grant[s] <= h->ev[h->h[i].g].tai;
}

/*
 * With lost events nothing is promised about classes, but: a true overlap
 * whose four events all arrived is reported (in some class), and a
 * "definite" is a true overlap (a hold the loss may have cut is reported
 * incomplete instead).
 */
static bool check_lossy(const struct hist *h, const struct th_sink *sink,
			const bool *lost)
{
	bool ok = true;

	for (int i = 0; i < h->n_hold; i++)
		for (int j = i + 1; j < h->n_hold; j++) {
			const struct ghold *a = &h->h[i], *b = &h->h[j];
			bool found = false;

			if (a->res != b->res ||
			    (a->mode == 0 && b->mode == 0) ||
			    (a->node == b->node && a->holder == b->holder) ||
			    !overlaps(h, i, j) || lost[a->g] || lost[a->r] ||
			    lost[b->g] || lost[b->r])
				continue;
			stat_lossy_overlap++;
			for (size_t k = 0; k < sink->n && !found; k++) {
				const struct th_verdict *x = &sink->v[k];

				found = x->n_holds == 2 &&
					((covers(h, x, 0, i) &&
					  covers(h, x, 1, j)) ||
					 (covers(h, x, 0, j) &&
					  covers(h, x, 1, i)));
			}
			if (!found) {
				fprintf(stderr,
					"lost events: true overlap %d,%d not reported\n",
					i, j);
				ok = false;
			}
		}
	for (size_t k = 0; k < sink->n; k++) {
		const struct th_verdict *x = &sink->v[k];
		int p, q;

		if (x->cls != VERDICT_DEFINITE)
			continue;
		p = find_hold(h, x->node[0], x->grant[0]);
		q = find_hold(h, x->node[1], x->grant[1]);
		if (p < 0 || q < 0 || !overlaps(h, p, q)) {
			fprintf(stderr,
				"lost events: definite but not true: %s\n",
				x->json);
			ok = false;
		}
	}
	return ok;
}

static bool run_one(uint64_t seed, bool lying, bool lossy)
{
	static struct hist h;
	struct lock_engine_conf conf;
	struct cnode nodes[MAXN];
	static const char *const names[MAXN] = { "n0", "n1", "n2", "n3" };
	struct lock_engine *e;
	struct th_sink *sink;
	struct consumer *c;
	int order[MAXEV], head[MAXN], n_order = 0;
	bool ok = true;

	int expect_cb = 0;

	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	generate(&h);
	if (lying) {
		/* one node's clock is off by more than the eps it claims */
		int L = rnd(h.n_nodes);
		int64_t off = (h.eps[L] + 1 + rnd(6)) * (rnd(2) ? 1 : -1);

		for (int i = 0; i < h.n_ev; i++)
			if (h.ev[i].node == L)
				h.ev[i].tai = (uint64_t)(h.ev[i].t + off);
		h.off[L] = off;
		for (int i = 0; i < h.n_msg; i++) {
			const struct gev *se = &h.ev[h.msg[i].send_ev];
			const struct gev *re;

			if (h.msg[i].recv_ev < 0)
				continue;
			re = &h.ev[h.msg[i].recv_ev];
			expect_cb += re->tai + re->eps < se->tai - se->eps;
		}
	}
	for (int n = 0; n < h.n_nodes; n++)
		th_node_init(&nodes[n], (uint32_t)n, names[n],
			     (uint64_t)h.eps[n]);

	/* merge: per node in local order, roughly by TAI plus jitter */
	int J = rnd(3);

	for (int i = 0; i < h.n_ev; i++)
		h.ev[i].jitter = J ? rnd(J + 1) : 0;
	for (int n = 0; n < MAXN; n++)
		head[n] = 0;
	while (n_order < h.n_ev) {
		int best = -1;
		uint64_t bk = 0;

		for (int n = 0; n < h.n_nodes; n++) {
			int i;

			for (i = head[n]; i < h.n_ev && h.ev[i].node != n; i++)
				;
			if (i == h.n_ev)
				continue;
			uint64_t key = h.ev[i].tai + (uint64_t)h.ev[i].jitter;

			if (best < 0 || key < bk || (key == bk && rnd(2))) {
				best = i;
				bk = key;
			}
		}
		order[n_order++] = best;
		head[h.ev[best].node] = best + 1;
	}

	/* lost events: one node's events in a window of true time */
	int L = -1, n_lost = 0;
	int64_t t1 = 0, t2 = -1;
	bool lost[MAXEV] = { false }, loss_sent = false;

	if (lossy) {
		L = rnd(h.n_nodes);
		t1 = 20 + rnd((int)(h.ev[h.n_ev - 1].t - 19));
		t2 = t1 + 1 + rnd(15);
		for (int i = 0; i < h.n_ev; i++) {
			lost[i] = h.ev[i].node == L && h.ev[i].t >= t1 &&
				  h.ev[i].t <= t2;
			n_lost += lost[i];
		}
	}

	lock_conf_defaults(&conf);
	conf.user_rules = svc.rules;
	conf.n_user_rules = 2;
	conf.pair_rules = svc.pairs;
	conf.n_pair_rules = 1;
	conf.history = 8;
	/* the bound every node's eps stays under: what lock.eps_floor says */
	conf.eps_floor_ns = 3;
	e = lock_engine_create(&conf);
	if (!CHECK(e))
		return false;
	sink = th_sink_new();
	lock_engine_add_sink(e, &sink->sink);
	c = lock_engine_consumer(e);
	for (int i = 0; i < n_order; i++) {
		const struct gev *g = &h.ev[order[i]];
		struct evpack_value v[3];
		const struct th_type *tt;
		uint64_t w = UINT64_MAX;

		/*
		 * The merge reports a loss where the lost events would have
		 * been: no watermark passes a gap before its report.
		 */
		if (lost[order[i]]) {
			if (!loss_sent)
				c->ops->loss(c, &nodes[L],
					     (uint64_t)(t1 + h.off[L]),
					     (uint64_t)(t2 + h.off[L]),
					     (uint64_t)n_lost);
			loss_sent = true;
			continue;
		}
		switch (g->kind) {
		case E_ACQ:
			v[0] = th_str(res_names[g->res]);
			v[1] = th_int(g->mode);
			v[2] = th_int(g->holder);
			tt = &svc.acq;
			break;
		case E_REL:
			v[0] = th_str(res_names[g->res]);
			v[1] = th_int(g->holder);
			tt = &svc.rel;
			break;
		default:
			v[0] = th_int(g->msg);
			tt = g->kind == E_SEND ? &svc.send : &svc.recv;
			break;
		}
		th_send(c, &nodes[g->node], tt, g->tai, g->eps, v);
		if (rnd(10) < 7) {
			for (int k = i + 1; k < n_order; k++)
				if ((!lost[order[k]] || !loss_sent) &&
				    h.ev[order[k]].tai < w)
					w = h.ev[order[k]].tai;
			if (w != UINT64_MAX)
				c->ops->watermark(c, w);
		}
	}
	if (lossy && !loss_sent)
		c->ops->loss(c, &nodes[L], (uint64_t)(t1 + h.off[L]),
			     (uint64_t)(t2 + h.off[L]), (uint64_t)n_lost);
	c->ops->watermark(c, 1000000);

	/* every oracle pair that is not safe is reported, with its class */
	bool *seen = calloc(sink->n + 1, sizeof(bool));

	if (lying) {
		/*
		 * Lying clocks void the guarantees on pairs; what must hold:
		 * every contradicting message is reported, once, and nothing
		 * else is.
		 */
		if ((int)th_count(sink, VERDICT_CLOCK_BOUND) != expect_cb) {
			fprintf(stderr, "clock-bound verdicts: %zu, want %d\n",
				th_count(sink, VERDICT_CLOCK_BOUND), expect_cb);
			ok = false;
		}
		stat_cb += (unsigned long)expect_cb;
		for (size_t k = 0; k < sink->n; k++)
			seen[k] = sink->v[k].cls != VERDICT_INCOMPLETE;
	}
	if (lossy) {
		ok &= check_lossy(&h, sink, lost);
		for (size_t k = 0; k < sink->n; k++)
			seen[k] = true;
	}
	for (int i = 0; !lying && !lossy && i < h.n_hold; i++)
		for (int j = i + 1; j < h.n_hold; j++) {
			const struct ghold *a = &h.h[i], *b = &h.h[j];
			enum verdict_class want;
			bool tov;
			int found = -1;

			if (a->res != b->res ||
			    (a->mode == 0 && b->mode == 0) ||
			    (a->node == b->node && a->holder == b->holder))
				continue;
			want = oracle(&h, a, b);
			stat_pairs[want]++;
			tov = h.ev[a->g].t < h.ev[b->r].t &&
			      h.ev[b->g].t < h.ev[a->r].t;
			stat_overlap += tov;
			if (tov && !CHECK(want != VERDICT_SAFE))
				ok = false;
			for (size_t k = 0; k < sink->n; k++) {
				const struct th_verdict *x = &sink->v[k];

				if (x->n_holds != 2)
					continue;
				int p = find_hold(&h, x->node[0], x->grant[0]);
				int q = find_hold(&h, x->node[1], x->grant[1]);

				if ((p == i && q == j) || (p == j && q == i)) {
					if (found >= 0 || seen[k]) {
						fprintf(stderr,
							"pair %d,%d reported twice\n",
							i, j);
						ok = false;
					}
					found = (int)k;
					seen[k] = true;
				}
			}
			if (want == VERDICT_SAFE && found >= 0) {
				fprintf(stderr,
					"holds %d,%d: oracle safe, engine %s\n",
					i, j,
					verdict_class_name(sink->v[found].cls));
				ok = false;
			} else if (want != VERDICT_SAFE &&
				   (found < 0 || sink->v[found].cls != want)) {
				fprintf(stderr,
					"holds %d,%d: oracle %s, engine %s\n",
					i, j, verdict_class_name(want),
					found < 0 ?
						"safe (nothing)" :
						verdict_class_name(
							sink->v[found].cls));
				ok = false;
			}
		}
	for (size_t k = 0; k < sink->n; k++)
		if (!seen[k]) {
			fprintf(stderr, "engine verdict not matched: %s\n",
				sink->v[k].json);
			ok = false;
		}
	free(seen);
	{
		struct lock_stats st;

		lock_engine_stats(e, &st);
		/* memory bound: everything released, everything freed */
		if (!lossy && (st.resources || st.holds)) {
			fprintf(stderr,
				"after the last release: %" PRIu64
				" resources, %" PRIu64 " holds left\n",
				st.resources, st.holds);
			ok = false;
		}
	}
	if (!ok) {
		fprintf(stderr,
			"FAILED (%s clocks%s): NETRV_LOCK_SEED=%" PRIu64
			" NETRV_LOCK_HISTORIES=1\n",
			lying ? "lying" : "honest",
			lossy ? ", lost events" : "", seed);
		if (lossy)
			fprintf(stderr,
				"  n%d lost t in [%" PRId64 ", %" PRId64 "]\n",
				L, t1, t2);
		dump(&h);
		for (int i = 0; i < h.n_hold; i++)
			fprintf(stderr,
				"  hold %d: n%d holder %d res %d mode %d [%d,%d]\n",
				i, h.h[i].node, h.h[i].holder, h.h[i].res,
				h.h[i].mode, h.h[i].g, h.h[i].r);
		for (size_t k = 0; k < sink->n; k++)
			fprintf(stderr, "  verdict: %s\n", sink->v[k].json);
	}
	lock_engine_destroy(e);
	return ok;
}

int main(int argc, char **argv)
{
	const char *s = getenv("NETRV_LOCK_SEED");
	const char *n = getenv("NETRV_LOCK_HISTORIES");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
	long count = n ? strtol(n, NULL, 0) : 10000;
	long failed = 0;

	setup_types();
	printf("seed %" PRIu64 ", %ld histories\n", seed, count);
	for (long i = 0; i < count && failed < 5; i++)
		/* seeds 3 mod 4: a lying clock; 1 mod 4: lost events */
		if (!run_one(seed + (uint64_t)i, (seed + (uint64_t)i) % 4 == 3,
			     (seed + (uint64_t)i) % 4 == 1)) {
			failed++;
			CHECK(!"history agrees with the oracle");
		} else {
			CHECK(1);
		}
	printf("pairs: %lu safe, %lu possible, %lu definite (%lu truly overlapping)\n",
	       stat_pairs[VERDICT_SAFE], stat_pairs[VERDICT_POSSIBLE],
	       stat_pairs[VERDICT_DEFINITE], stat_overlap);
	printf("lying clocks: %lu contradicting messages, each reported once\n",
	       stat_cb);
	printf("lost events: %lu true overlaps with all four events seen, all reported\n",
	       stat_lossy_overlap);
	CHECK(stat_lossy_overlap > 0 || count < 100);
	/* the generator must exercise every class, or the test proves little */
	CHECK(stat_cb > 0 || count < 100);
	CHECK(stat_pairs[VERDICT_SAFE] > 0 || count < 100);
	CHECK(stat_pairs[VERDICT_POSSIBLE] > 0 || count < 100);
	CHECK(stat_pairs[VERDICT_DEFINITE] > 0 || count < 100);
	return check_summary(argv[0]);
}
