// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * decide.c - the verdict rule for two incompatible holds on two nodes.
 *
 * Four events matter: grant and release of hold A (gA, rA) and of hold B
 * (gB, rB).  Each happened at an unknown true time T inside its clock
 * window [tai - eps, tai + eps] (a release not seen yet: [lower bound, +inf)).
 * Known orders are constraints too: gA <= rA, gB <= rB, and every
 * happens-before fact x -> y among the four gives T_x <= T_y.  These are
 * difference constraints, so "is there an admissible assignment in which
 * ... holds" is a negative-cycle test on a five-vertex graph (the four
 * events and a zero); Floyd-Warshall answers it exactly in 125 steps.
 *
 *   release -> grant happens-before      safe (causal)
 *   no admissible overlap                safe (clock)
 *   no admissible disjoint order         definite
 *   otherwise                            possible
 *
 * Overlap means T_gA < T_rB and T_gB < T_rA; touching intervals do not
 * overlap.  This is exactly DESIGN.md's rule ("do not overlap even when
 * every timestamp moves by its eps" / "overlap even then"), made exact for
 * windows of unequal eps and for happens-before facts mixed with clocks.
 */
#include <stdint.h>

#include "lock_private.h"

#define NV 5
#define INF (INT64_MAX / 4)

enum { V0, GA, RA, GB, RB };

struct dgraph {
	int64_t d[NV][NV]; /* d[i][j]: bound on T_j - T_i */
};

static void edge(struct dgraph *g, int i, int j, int64_t w)
{
	/* T_j - T_i <= w */
	if (w < g->d[i][j])
		g->d[i][j] = w;
}

static bool feasible(const struct dgraph *in)
{
	struct dgraph g = *in;

	for (int k = 0; k < NV; k++)
		for (int i = 0; i < NV; i++) {
			if (g.d[i][k] >= INF)
				continue;
			for (int j = 0; j < NV; j++) {
				if (g.d[k][j] >= INF)
					continue;
				int64_t s = g.d[i][k] + g.d[k][j];

				if (s < g.d[i][j])
					g.d[i][j] = s;
			}
		}
	for (int i = 0; i < NV; i++)
		if (g.d[i][i] < 0)
			return false;
	return true;
}

/* a before b: T_a <= T_b, i.e. T_a - T_b <= 0 */
static void before(struct dgraph *g, int a, int b, int64_t slack)
{
	edge(g, b, a, slack);
}

enum verdict_class lock_decide(const struct decide_ev ev[4], unsigned int hb,
			       bool *causal, bool *inconsistent)
{
	static const struct {
		unsigned int bit;
		int a, b;
	} facts[] = {
		{ VERDICT_HB_GA_GB, GA, GB }, { VERDICT_HB_GA_RB, GA, RB },
		{ VERDICT_HB_RA_GB, RA, GB }, { VERDICT_HB_RA_RB, RA, RB },
		{ VERDICT_HB_GB_GA, GB, GA }, { VERDICT_HB_GB_RA, GB, RA },
		{ VERDICT_HB_RB_GA, RB, GA }, { VERDICT_HB_RB_RA, RB, RA },
	};
	struct dgraph g, t;

	*causal = false;
	*inconsistent = false;
	if (hb & (VERDICT_HB_RA_GB | VERDICT_HB_RB_GA)) {
		*causal = true;
		return VERDICT_SAFE;
	}
	for (int i = 0; i < NV; i++)
		for (int j = 0; j < NV; j++)
			g.d[i][j] = i == j ? 0 : INF;
	for (int k = 0; k < 4; k++) {
		edge(&g, V0, k + 1, ev[k].open ? INF : ev[k].hi);
		edge(&g, k + 1, V0, -ev[k].lo);
	}
	before(&g, GA, RA, 0);
	before(&g, GB, RB, 0);
	for (unsigned int i = 0; i < sizeof(facts) / sizeof(facts[0]); i++)
		if (hb & facts[i].bit)
			before(&g, facts[i].a, facts[i].b, 0);

	if (!feasible(&g)) {
		/*
		 * The clock windows contradict the causal order: some node's
		 * eps is wrong.  Nothing can be proved safe then.
		 */
		*inconsistent = true;
		return VERDICT_POSSIBLE;
	}
	/* overlap: T_gA < T_rB and T_gB < T_rA (integer ns: <= -1) */
	t = g;
	before(&t, GA, RB, -1);
	before(&t, GB, RA, -1);
	if (!feasible(&t))
		return VERDICT_SAFE;
	/* disjoint, A first (T_rA <= T_gB) or B first (T_rB <= T_gA) */
	t = g;
	before(&t, RA, GB, 0);
	if (feasible(&t))
		return VERDICT_POSSIBLE;
	t = g;
	before(&t, RB, GA, 0);
	if (feasible(&t))
		return VERDICT_POSSIBLE;
	return VERDICT_DEFINITE;
}
