// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_da.c - the DA table and runtime: compiled headers and run-time
 * loaded models agree, the three kernel handlers behave as
 * include/rv/da_monitor.h, the parser keeps the kernel's names and order,
 * and a property test checks random automata against an edge-list oracle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "da.h"
#include "da_model.h"
#include "itab.h"

/* The headers netrv-model generated at build time from models/ *.dot. */
#include "wip.h"
#undef INVALID_STATE
#include "dlm_lock.h"
#undef INVALID_STATE
#include "dlm_resource.h"
#undef INVALID_STATE
#include "flock.h"
#undef INVALID_STATE

static char err[512];

static struct da_model *load(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s.dot", MODELS_DIR, name);
	return da_model_load(path, NULL, err, sizeof(err));
}

/* Compare a loaded model with a compiled automaton_<m>. */
#define CHECK_SAME(m, aut, n_st, n_ev)                                         \
	do {                                                                   \
		int _bad = 0;                                                  \
		CHECK_INT((m)->n_states, n_st);                                \
		CHECK_INT((m)->n_events, n_ev);                                \
		if ((m)->n_states != n_st || (m)->n_events != n_ev)            \
			break;                                                 \
		for (unsigned int s = 0; s < n_st; s++) {                      \
			_bad += !!strcmp((m)->state_names[s],                  \
					 (aut).state_names[s]);                \
			_bad += (m)->final_states[s] != (aut).final_states[s]; \
			for (unsigned int e = 0; e < n_ev; e++)                \
				_bad += da_model_next(m, s, e) !=              \
					(aut).function[s][e];                  \
		}                                                              \
		for (unsigned int e = 0; e < n_ev; e++)                        \
			_bad += !!strcmp((m)->event_names[e],                  \
					 (aut).event_names[e]);                \
		CHECK_INT(_bad, 0);                                            \
		CHECK_INT((m)->initial_state, (aut).initial_state);            \
	} while (0)

static void test_compiled_equals_loaded(void)
{
	struct da_model *m;

	m = load("wip");
	REQUIRE(m);
	CHECK_SAME(m, automaton_wip, state_max_wip, event_max_wip);
	/* and the names mean what the enums say */
	CHECK_INT(da_model_state(m, "non_preemptive"), non_preemptive_wip);
	CHECK_INT(da_model_event(m, "sched_waking"), sched_waking_wip);
	da_model_free(m);

	m = load("dlm_lock");
	REQUIRE(m);
	CHECK_SAME(m, automaton_dlm_lock, state_max_dlm_lock,
		   event_max_dlm_lock);
	CHECK_INT(da_model_next(m, unlocked_dlm_lock, grant_dlm_lock),
		  state_max_dlm_lock);
	da_model_free(m);

	m = load("dlm_resource");
	REQUIRE(m);
	CHECK_SAME(m, automaton_dlm_resource, state_max_dlm_resource,
		   event_max_dlm_resource);
	da_model_free(m);

	m = load("flock");
	REQUIRE(m);
	CHECK_SAME(m, automaton_flock, state_max_flock, event_max_flock);
	da_model_free(m);
	/* the element type is the smallest that fits */
	CHECK_INT(sizeof(automaton_wip.function[0][0]), 1);
	CHECK_INT(sizeof(automaton_wip.initial_state), 1);
out:
	return;
}

struct reactions {
	unsigned int n, state, event;
};

static void record(void *arg, unsigned int state, unsigned int event)
{
	struct reactions *r = arg;

	r->n++;
	r->state = state;
	r->event = event;
}

/* handle_event: ignored while not monitoring; no edge = violation + reset */
static void test_handle_event(void)
{
	struct da_model *m = load("wip");
	struct reactions r = { 0 };
	struct da_mon mon;

	REQUIRE(m);
	da_mon_reset(m, &mon);
	CHECK(!mon.monitoring);
	CHECK_INT(da_handle_event(m, &mon, preempt_disable_wip, record, &r),
		  DA_IGNORED);
	CHECK_INT(mon.state, preemptive_wip);
	/* even an event with no edge is ignored: nobody knows the state */
	CHECK_INT(da_handle_event(m, &mon, sched_waking_wip, record, &r),
		  DA_IGNORED);
	CHECK_INT(r.n, 0);

	da_mon_start(m, &mon);
	CHECK_INT(da_handle_event(m, &mon, preempt_disable_wip, record, &r),
		  DA_STEPPED);
	CHECK_INT(mon.state, non_preemptive_wip);
	CHECK_INT(da_handle_event(m, &mon, sched_waking_wip, record, &r),
		  DA_STEPPED);
	CHECK_INT(da_handle_event(m, &mon, preempt_enable_wip, record, &r),
		  DA_STEPPED);
	CHECK_INT(mon.state, preemptive_wip);
	CHECK_INT(r.n, 0);
	/* a wakeup while preemptive has no edge */
	CHECK_INT(da_handle_event(m, &mon, sched_waking_wip, record, &r),
		  DA_VIOLATION);
	CHECK_INT(r.n, 1);
	CHECK_INT(r.state, preemptive_wip);
	CHECK_INT(r.event, sched_waking_wip);
	CHECK(!mon.monitoring);
	CHECK_INT(mon.state, m->initial_state);
	/* and after the reset it stops monitoring */
	CHECK_INT(da_handle_event(m, &mon, sched_waking_wip, record, &r),
		  DA_IGNORED);
	CHECK_INT(r.n, 1);
out:
	da_model_free(m);
}

/* handle_start_event: starts without processing; processes once started */
static void test_handle_start_event(void)
{
	struct da_model *m = load("wip");
	struct reactions r = { 0 };
	struct da_mon mon;

	REQUIRE(m);
	CHECK(m->start_events[preempt_enable_wip]);
	CHECK(!m->start_events[preempt_disable_wip]);
	CHECK(!m->start_events[sched_waking_wip]);
	da_mon_reset(m, &mon);
	mon.state = non_preemptive_wip; /* garbage from before: overwritten */
	CHECK_INT(
		da_handle_start_event(m, &mon, preempt_enable_wip, record, &r),
		DA_STARTED);
	CHECK(mon.monitoring);
	CHECK_INT(mon.state, preemptive_wip);
	/* monitoring now: the same call processes the event, and
	 * preempt_enable while preemptive has no edge */
	CHECK_INT(
		da_handle_start_event(m, &mon, preempt_enable_wip, record, &r),
		DA_VIOLATION);
	CHECK_INT(r.n, 1);
	CHECK_INT(r.state, preemptive_wip);
	CHECK(!mon.monitoring);
	/* the event is not processed on start: preempt_disable would have
	 * moved to non_preemptive */
	CHECK_INT(
		da_handle_start_event(m, &mon, preempt_disable_wip, record, &r),
		DA_STARTED);
	CHECK_INT(mon.state, preemptive_wip);
	CHECK_INT(
		da_handle_start_event(m, &mon, preempt_disable_wip, record, &r),
		DA_STEPPED);
	CHECK_INT(mon.state, non_preemptive_wip);
out:
	da_model_free(m);
}

/* handle_start_run_event: starts if needed, then processes */
static void test_handle_start_run_event(void)
{
	struct da_model *m = load("wip");
	struct reactions r = { 0 };
	struct da_mon mon;

	REQUIRE(m);
	da_mon_reset(m, &mon);
	CHECK_INT(da_handle_start_run_event(m, &mon, preempt_disable_wip,
					    record, &r),
		  DA_STEPPED);
	CHECK(mon.monitoring);
	CHECK_INT(mon.state, non_preemptive_wip);
	/* already monitoring: not restarted, just a step */
	CHECK_INT(da_handle_start_run_event(m, &mon, sched_waking_wip, record,
					    &r),
		  DA_STEPPED);
	CHECK_INT(mon.state, non_preemptive_wip);
	CHECK_INT(da_handle_start_run_event(m, &mon, preempt_disable_wip,
					    record, &r),
		  DA_VIOLATION);
	CHECK_INT(r.state, non_preemptive_wip);
	CHECK_INT(r.event, preempt_disable_wip);
	/* a start-run event on a reset instance starts from the initial
	 * state, so an event with no edge from there is a violation at once */
	CHECK_INT(da_handle_start_run_event(m, &mon, preempt_enable_wip, record,
					    &r),
		  DA_VIOLATION);
	CHECK_INT(r.n, 2);
	CHECK_INT(r.state, preemptive_wip);
out:
	da_model_free(m);
}

static void test_parser_names(void)
{
	char path[512];
	struct da_model *m;

	snprintf(path, sizeof(path), "%s/multi.dot", SPECS_DIR);
	m = da_model_load(path, NULL, err, sizeof(err));
	REQUIRE(m);
	CHECK_STR(m->name, "multi");
	/* initial first, then sorted; ',' became '_' */
	CHECK_STR(m->state_names[0], "zz_idle");
	CHECK_STR(m->state_names[1], "b_run");
	CHECK_STR(m->state_names[2], "busy_waiting");
	/* no final state marked: the initial one is final */
	CHECK(m->final_states[0] && !m->final_states[1] && !m->final_states[2]);
	/* " stop \n suspend " is two events, trimmed */
	CHECK_INT(da_model_next(m, 1, da_model_event(m, "stop")), 0);
	CHECK_INT(da_model_next(m, 1, da_model_event(m, "suspend")), 0);
	CHECK_INT(da_model_next(m, 0, da_model_event(m, "resume")), 1);
	CHECK_INT(da_model_event(m, "nope"), -1);
	da_model_free(m);

	/* a name is needed when the file name does not give one */
	m = da_model_parse("digraph state_automaton {}", 26, "x.txt", NULL, err,
			   sizeof(err));
	CHECK(!m && errno == EINVAL);
	CHECK_STR(err,
		  "x.txt: not a .dot or .gv file name: give the model a name");
	m = da_model_parse("digraph state_automaton {\n\"a\0\"}", 31, "n.dot",
			   NULL, err, sizeof(err));
	CHECK(!m);
	CHECK_STR(err, "n.dot:2: NUL byte in the file");
	m = da_model_load("/nonexistent/x.dot", NULL, err, sizeof(err));
	CHECK(!m && errno == ENOENT);
	CHECK_STR(err, "/nonexistent/x.dot: No such file or directory");
out:
	return;
}

/* ---- property: random automata against an edge-list oracle ---- */

struct redge {
	unsigned int from, to, ev;
};

static unsigned int rnd(unsigned int *seed, unsigned int n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

/* the oracle: linear search of the edges as written */
static int oracle_next(const struct redge *e, unsigned int n, unsigned int s,
		       unsigned int ev)
{
	for (unsigned int i = 0; i < n; i++)
		if (e[i].from == s && e[i].ev == ev)
			return (int)e[i].to;
	return -1;
}

static void test_random_automata(void)
{
	unsigned int seed = 12345, bad = 0, steps = 0;

	for (int round = 0; round < 200; round++) {
		unsigned int ns = 1 + rnd(&seed, 6), ne = 1 + rnd(&seed, 5);
		struct redge edges[64];
		unsigned int n = 0, init = rnd(&seed, ns);
		char text[8192];
		size_t len = 0;
		struct da_model *m;
		bool used[8] = { 0 };
		/* oracle state, in the oracle's own numbering */
		int o_state = (int)init;
		bool o_mon = false;
		struct da_mon mon;

		for (unsigned int s = 0; s < ns; s++)
			for (unsigned int e = 0; e < ne; e++)
				if (rnd(&seed, 3)) {
					edges[n].from = s;
					edges[n].to = rnd(&seed, ns);
					edges[n].ev = e;
					used[e] = true;
					n++;
				}
		if (!n) {
			edges[n++] = (struct redge){ 0, 0, 0 };
			used[0] = true;
		}
		/* state names in reverse alphabetical order to exercise the
		 * sorting; "s9" sorts after "s0" */
		len += snprintf(
			text + len, sizeof(text) - len,
			"digraph state_automaton {\n"
			"\t{node [shape = plaintext, style=invis, label=\"\"] \"__init_s%u\"};\n",
			9 - init);
		for (unsigned int s = 0; s < ns; s++)
			len += snprintf(text + len, sizeof(text) - len,
					"\t{node [shape = %s] \"s%u\"};\n",
					s == init ? "doublecircle" : "circle",
					9 - s);
		len += snprintf(text + len, sizeof(text) - len,
				"\t\"__init_s%u\" -> \"s%u\";\n", 9 - init,
				9 - init);
		for (unsigned int i = 0; i < n; i++)
			len += snprintf(
				text + len, sizeof(text) - len,
				"\t\"s%u\" -> \"s%u\" [ label = \"e%u\" ];\n",
				9 - edges[i].from, 9 - edges[i].to,
				edges[i].ev);
		len += snprintf(text + len, sizeof(text) - len, "}\n");
		m = da_model_parse(text, len, "r.dot", NULL, err, sizeof(err));
		if (!m) {
			fprintf(stderr, "round %d: %s\n", round, err);
			bad++;
			continue;
		}
		da_mon_reset(m, &mon);
		for (int k = 0; k < 50; k++) {
			unsigned int ev = rnd(&seed, ne), h = rnd(&seed, 3);
			char evname[16], sname[16];
			int mev, next;
			enum da_result res, want;
			struct reactions r = { 0 };

			if (!used[ev])
				continue;
			snprintf(evname, sizeof(evname), "e%u", ev);
			mev = da_model_event(m, evname);
			/* kernel semantics, written out on the oracle */
			if (h == 1 && !o_mon) { /* start: skip the event */
				o_mon = true;
				o_state = (int)init;
				want = DA_STARTED;
			} else {
				if (h == 2 && !o_mon) {
					o_mon = true;
					o_state = (int)init;
				}
				if (!o_mon) {
					want = DA_IGNORED;
				} else {
					next = oracle_next(edges, n, o_state,
							   ev);
					if (next < 0) {
						want = DA_VIOLATION;
						o_mon = false;
						o_state = (int)init;
					} else {
						want = DA_STEPPED;
						o_state = next;
					}
				}
			}
			res = h == 0 ? da_handle_event(m, &mon, mev, record,
						       &r) :
			      h == 1 ? da_handle_start_event(m, &mon, mev,
							     record, &r) :
				       da_handle_start_run_event(m, &mon, mev,
								 record, &r);
			snprintf(sname, sizeof(sname), "s%d", 9 - o_state);
			steps++;
			if (res != want || mon.monitoring != o_mon ||
			    strcmp(m->state_names[mon.state], sname) ||
			    r.n != (want == DA_VIOLATION)) {
				bad++;
				break;
			}
		}
		da_model_free(m);
	}
	CHECK_INT(bad, 0);
	CHECK(steps > 1000);
}

static void test_itab(void)
{
	struct da_itab t;
	struct da_inst *in;
	unsigned int missing = 0;

	REQUIRE(!da_itab_init(&t));
	for (uint64_t k = 0; k < 5000; k++) {
		uint64_t key[2] = { k, k * 7 };
		uint32_t h = da_key_hash((uint8_t *)key, sizeof(key));

		in = da_itab_insert(&t, (uint8_t *)key, sizeof(key), h, 0);
		if (!in)
			missing++;
	}
	CHECK_INT(t.count, 5000);
	CHECK(t.mask + 1 >= 4096); /* it grew */
	for (uint64_t k = 0; k < 5000; k += 2) {
		uint64_t key[2] = { k, k * 7 };
		uint32_t h = da_key_hash((uint8_t *)key, sizeof(key));

		in = da_itab_lookup(&t, (uint8_t *)key, sizeof(key), h);
		if (!in || memcmp(in->key, key, sizeof(key)))
			missing++;
		else
			da_itab_remove(&t, in);
	}
	CHECK_INT(missing, 0);
	CHECK_INT(t.count, 2500);
	{
		uint64_t key[2] = { 2, 14 }, odd[2] = { 3, 21 };

		CHECK(!da_itab_lookup(&t, (uint8_t *)key, 16,
				      da_key_hash((uint8_t *)key, 16)));
		in = da_itab_lookup(&t, (uint8_t *)odd, 16,
				    da_key_hash((uint8_t *)odd, 16));
		REQUIRE(in);
		/* holders: add, find, drop */
		uint64_t a[2] = { 1, 10 }, b[2] = { 2, 10 };
		struct da_holder *h = da_inst_holder(in, a, true);

		REQUIRE(h);
		h->held = 3;
		REQUIRE(da_inst_holder(in, b, true));
		REQUIRE(da_inst_holder(in, (uint64_t[2]){ 3, 10 }, true));
		CHECK_INT(in->n_holders, 3);
		h = da_inst_holder(in, a, false);
		REQUIRE(h);
		CHECK_INT(h->held, 3);
		da_inst_drop_holder(in, h);
		CHECK(!da_inst_holder(in, a, false));
		CHECK(da_inst_holder(in, b, false));
		CHECK_INT(in->n_holders, 2);
		CHECK(da_inst_bytes(in) >= sizeof(*in) + 16);
	}
out:
	da_itab_release(&t);
}

int main(int argc, char **argv)
{
	test_compiled_equals_loaded();
	test_handle_event();
	test_handle_start_event();
	test_handle_start_run_event();
	test_parser_names();
	test_random_automata();
	test_itab();
	return check_summary(argv[0]);
}
