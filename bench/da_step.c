// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * da_step - what one DA step costs: a table step, and a per-object step
 * with its key built and looked up in the instance hash table, and (for
 * reference) the whole automata consumer path for one merged event.
 *
 *   da_step [--events N] [--no-callgrind]
 *
 * Prints ns/event (wall clock, noisy on a shared machine) and, when
 * valgrind is installed, instructions/event counted by callgrind, which is
 * deterministic: the program re-runs itself under
 * "valgrind --tool=callgrind --toggle-collect=<the loop function>" and
 * divides the instructions collected by the events in the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "consumer.h"
#include "da.h"
#include "da_model.h"
#include "itab.h"

#define OBJECTS 10000

static struct da_model *wip, *dlm;
static struct da_itab itab;
static unsigned int ev_convert, ev_grant;
static volatile unsigned long sink;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* wip on one CPU: preempt_disable, preempt_enable, ... */
__attribute__((noinline)) void bench_table_run(unsigned long n)
{
	static const unsigned int evs[2] = { 0, 1 };
	struct da_mon mon;
	unsigned long bad = 0;

	da_mon_start(wip, &mon);
	for (unsigned long i = 0; i < n; i++)
		bad += da_handle_event(wip, &mon, evs[i & 1], NULL, NULL) !=
		       DA_STEPPED;
	sink = bad;
}

struct okey {
	uint32_t node;
	uint64_t ls_id, lkb_id;
} __attribute__((packed));

/* dlm_lock per object (node, ls_id, lkb_id): build the key from the event's
 * values, hash, look up, step; OBJECTS live locks converting and granted */
__attribute__((noinline)) void bench_object_run(unsigned long n)
{
	unsigned long bad = 0;
	uint32_t lkb = 0;
	unsigned int pass = 0;

	for (unsigned long i = 0; i < n; i++) {
		struct okey k = { 1, 7, 0x10000 + lkb };
		uint32_t h = da_key_hash((const uint8_t *)&k, sizeof(k));
		struct da_inst *in = da_itab_lookup(&itab, (const uint8_t *)&k,
						    sizeof(k), h);

		bad += !in || da_handle_event(dlm, &in->mon,
					      pass ? ev_grant : ev_convert,
					      NULL, NULL) != DA_STEPPED;
		/* a large prime stride visits the objects out of order */
		lkb += 7919;
		if (lkb >= OBJECTS) {
			lkb -= OBJECTS;
			if (!lkb)
				pass ^= 1;
		}
	}
	sink = bad;
}

static void setup_objects(void)
{
	if (da_itab_init(&itab))
		exit(1);
	for (uint32_t lkb = 0; lkb < OBJECTS; lkb++) {
		struct okey k = { 1, 7, 0x10000 + lkb };
		uint32_t h = da_key_hash((const uint8_t *)&k, sizeof(k));
		struct da_inst *in = da_itab_insert(&itab, (const uint8_t *)&k,
						    sizeof(k), h, 1);

		if (!in)
			exit(1);
		da_mon_start(dlm, &in->mon);
		in->mon.state = da_model_state(dlm, "granted");
	}
}

/* ---- the whole consumer, for reference ---- */

static struct consumer *cons;
static Netrv__EventType t_start, t_ast;
static Netrv__Field f_start[6], f_ast[6];
static Netrv__Field *fp_start[6], *fp_ast[6];
static struct cnode node1 = { .index = 0, .name = "n1" };
static unsigned long violations;

static void on_violation(void *arg, const struct models_violation *v)
{
	violations++;
}

static void mk(Netrv__EventType *t, Netrv__Field *f, Netrv__Field **fp,
	       const char *name, const char *const *fields, const bool *sgn,
	       int n)
{
	netrv__event_type__init(t);
	t->system = "dlm";
	t->name = (char *)name;
	t->fields = fp;
	t->n_fields = n;
	for (int i = 0; i < n; i++) {
		netrv__field__init(&f[i]);
		f[i].name = (char *)fields[i];
		f[i].is_signed = sgn[i];
		f[i].kind = strcmp(fields[i], "res_name") ?
				    NETRV__FIELD_KIND__FIELD_INT :
				    NETRV__FIELD_KIND__FIELD_BYTES;
		fp[i] = &f[i];
	}
}

static void setup_consumer(void)
{
	static const char *const sf[] = { "common_pid", "ls_id", "lkb_id",
					  "mode",	"flags", "res_name" };
	static const bool ss[] = { 1, 0, 0, 1, 0, 0 };
	static const char *const af[] = {
		"common_pid", "ls_id",	   "lkb_id",
		"sb_flags",   "sb_status", "res_name"
	};
	static const bool as[] = { 1, 0, 0, 0, 1, 0 };
	char err[512];

	mk(&t_start, f_start, fp_start, "dlm_lock_start", sf, ss, 6);
	mk(&t_ast, f_ast, fp_ast, "dlm_ast", af, as, 6);
	cons = models_consumer_create(on_violation, NULL);
	if (!cons || models_consumer_add(cons, MODELS_DIR "/dlm_lock.dot", NULL,
					 err, sizeof(err))) {
		fprintf(stderr, "da_step: %s\n", err);
		exit(1);
	}
}

static void send(const Netrv__EventType *t, uint32_t lkb, int64_t v4,
		 int64_t v3)
{
	struct evpack_value vals[6] = { 0 };
	struct cevent ev = { 0 };

	vals[0].s = 1;
	vals[1].u = 7;
	vals[2].u = 0x10000 + lkb;
	vals[3].s = v3;
	vals[4].s = v4;
	vals[5].bytes = (const uint8_t *)"resource";
	vals[5].len = 8;
	ev.node = &node1;
	ev.type = t;
	ev.vals = vals;
	cons->ops->event(cons, &ev);
}

/* events: for every lock a convert request (dlm_lock_start, flags CONVERT)
 * then its grant (dlm_ast status 0) */
__attribute__((noinline)) void bench_consumer_run(unsigned long n)
{
	uint32_t lkb = 0;

	for (unsigned long i = 0; i < n; i += 2) {
		send(&t_start, lkb, 0x4, 5);
		send(&t_ast, lkb, 0, 0);
		lkb += 7919;
		if (lkb >= OBJECTS)
			lkb -= OBJECTS;
	}
}

static void warm_consumer(void)
{
	for (uint32_t lkb = 0; lkb < OBJECTS; lkb++) {
		send(&t_start, lkb, 0, 3);
		send(&t_ast, lkb, 0, 0);
	}
}

/* ---- driver ---- */

static const struct mode {
	const char *name, *fn, *what;
	void (*run)(unsigned long n);
} modes[] = {
	{ "table", "bench_table_run", "table step (wip, one instance)",
	  bench_table_run },
	{ "object", "bench_object_run",
	  "per-object step: key, hash lookup in 10000, step (dlm_lock)",
	  bench_object_run },
	{ "consumer", "bench_consumer_run",
	  "whole consumer per merged event (rules, key, lookup, step)",
	  bench_consumer_run },
};

static void setup(void)
{
	char err[512];

	wip = da_model_load(MODELS_DIR "/wip.dot", NULL, err, sizeof(err));
	dlm = da_model_load(MODELS_DIR "/dlm_lock.dot", NULL, err, sizeof(err));
	if (!wip || !dlm) {
		fprintf(stderr, "da_step: %s\n", err);
		exit(1);
	}
	ev_convert = da_model_event(dlm, "convert");
	ev_grant = da_model_event(dlm, "grant");
	setup_objects();
	setup_consumer();
	warm_consumer();
}

/* Instructions per event of @m under callgrind, or -1. */
static double callgrind(const char *self, const struct mode *m, unsigned long n)
{
	char out[] = "/tmp/da_step.callgrind.XXXXXX", arg[64], nb[32];
	char toggle[128], line[512];
	double ir = -1;
	FILE *f;
	pid_t pid;
	int fd = mkstemp(out), st;

	if (fd < 0)
		return -1;
	close(fd);
	snprintf(arg, sizeof(arg), "--callgrind-out-file=%s", out);
	snprintf(toggle, sizeof(toggle), "--toggle-collect=%s", m->fn);
	snprintf(nb, sizeof(nb), "%lu", n);
	pid = fork();
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execlp("valgrind", "valgrind", "--tool=callgrind", arg, toggle,
		       self, "--run", m->name, nb, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st)) {
		unlink(out);
		return -1;
	}
	f = fopen(out, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "totals:", 7) ||
		    (ir < 0 && !strncmp(line, "summary:", 8)))
			ir = strtod(strchr(line, ':') + 1, NULL);
	if (f)
		fclose(f);
	unlink(out);
	return ir < 0 ? -1 : ir / n;
}

int main(int argc, char **argv)
{
	unsigned long n = 20000000;
	bool use_callgrind = true;

	if (argc == 4 && !strcmp(argv[1], "--run")) {
		/* one mode, under callgrind */
		setup();
		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(argv[2], modes[i].name))
				modes[i].run(strtoul(argv[3], NULL, 0));
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-callgrind")) {
			use_callgrind = false;
		} else if (!strcmp(argv[i], "--events") && i + 1 < argc) {
			n = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr,
				"usage: da_step [--events N] [--no-callgrind]\n");
			return 2;
		}
	}
	setup();
	printf("%-10s %10s %14s  %s\n", "mode", "ns/event", "instr/event",
	       "what");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const struct mode *m = &modes[i];
		unsigned long k = i ? n / 4 : n;
		double t0, t1, ir = -1;

		m->run(k / 10); /* warm caches */
		t0 = now_ns();
		m->run(k);
		t1 = now_ns();
		if (use_callgrind)
			ir = callgrind(argv[0], m, 200000);
		if (ir >= 0)
			printf("%-10s %10.2f %14.1f  %s\n", m->name,
			       (t1 - t0) / k, ir, m->what);
		else
			printf("%-10s %10.2f %14s  %s\n", m->name,
			       (t1 - t0) / k, "n/a", m->what);
	}
	if (violations || sink)
		fprintf(stderr, "da_step: unexpected violations: %lu/%lu\n",
			violations, (unsigned long)sink);
	return 0;
}
