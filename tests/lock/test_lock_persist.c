// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_lock_persist.c - the lock engine's snapshot (collector/lock/persist.c).
 *
 * Property test: random histories of DLM, flock (with flock(2) entries and
 * exits), user-adapter locks, messages, losses and liveness changes on four
 * nodes are fed to engine A; at a random point A is saved and the file
 * loaded into a fresh engine B.  Then: B saved again gives the same bytes;
 * the state views (lock_view_resources) of A and B are equal; and the rest
 * of the history fed to both gives the same verdicts, byte for byte (JSON),
 * and the same final snapshot.  Every other seed B's nodes have other
 * indices (the collector numbers nodes per process), so vector clocks and
 * flock(2) entries must be renumbered; then the verdicts must still match.
 * NETRV_LOCK_SEED, NETRV_LOCK_HISTORIES.
 *
 * Cases: a snapshot cut short, with a flipped byte, of another version, or
 * naming a node the collector does not know is refused with EINVAL and
 * leaves an empty engine that still works; a missing file is ENOENT.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"
#include "lock_reactor.h"

#define NODES 4
#define US 1000ULL
#define EUNLOCK (-0x10002)

static struct th_type t_start, t_ast, t_ustart, t_flock, t_enter, t_exit;
static struct th_test_service svc;
static struct cnode nodes_a[NODES], nodes_b[NODES];
static const char *const names[NODES] = { "n0", "n1", "n2", "n3" };
static char dir[64];

static void types(void)
{
	static const char *const f_start[] = { "ls_id", "lkb_id", "mode",
					       "flags", "res_name" };
	static const char *const f_ast[] = { "ls_id", "lkb_id", "sb_flags",
					     "sb_status", "res_name" };
	static const char *const f_ustart[] = { "ls_id", "lkb_id", "flags",
						"res_name" };
	static const char *const ff[] = { "fl",	     "i_ino", "s_dev",
					  "blocker", "owner", "pid",
					  "flags",   "type",  "fl_start",
					  "fl_end",  "ret",   "common_pid" };
	static const char *const fe[] = { "__syscall_nr", "fd", "cmd",
					  "common_pid" };
	static const char *const fx[] = { "__syscall_nr", "ret", "common_pid" };

	th_type_init(&t_start, "dlm", "dlm_lock_start", "iiiib", f_start);
	th_type_init(&t_ast, "dlm", "dlm_ast", "iiiib", f_ast);
	th_type_init(&t_ustart, "dlm", "dlm_unlock_start", "iiib", f_ustart);
	th_type_init(&t_flock, "filelock", "flock_lock_inode", "iiiiiiiiiiii",
		     ff);
	th_type_init(&t_enter, "syscalls", "sys_enter_flock", "iiii", fe);
	th_type_init(&t_exit, "syscalls", "sys_exit_flock", "iii", fx);
	th_test_service_init(&svc);
	for (uint32_t i = 0; i < NODES; i++) {
		th_node_init(&nodes_a[i], i, names[i], 10 * US);
		th_node_init(&nodes_b[i], i, names[i], 10 * US);
	}
}

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

/* One step of a history: an event, a loss, a node state or a watermark. */
enum { S_EVENT, S_LOSS, S_STATE, S_WM };

struct step {
	int what;
	int node;
	const struct th_type *type;
	uint64_t tai, eps, trace, a, b;
	struct evpack_value v[12];
	int nv;
	char name[16];
};

#define MAX_STEPS 600

static struct step hist[MAX_STEPS];
static size_t n_hist;

static const char *const res_names[] = { "ra", "rb", "rc" };

static void gen(size_t n)
{
	uint64_t tai = 1000000 * US, msg = 0, sent[64];
	size_t n_sent = 0;

	n_hist = 0;
	for (size_t i = 0; i < n; i++) {
		struct step *s = &hist[n_hist++];
		unsigned int k = (unsigned int)rnd(100);
		const char *rn = res_names[rnd(3)];

		memset(s, 0, sizeof(*s));
		tai += rnd(30) * US;
		s->what = S_EVENT;
		s->node = (int)rnd(NODES);
		s->eps = (1 + rnd(15)) * US;
		/* within eps of the running time, never before the start */
		s->tai = tai + rnd(2 * s->eps) - s->eps;
		s->trace = s->tai;
		snprintf(s->name, sizeof(s->name), "%s", rn);
		if (k < 25) { /* dlm request / convert */
			s->type = &t_start;
			s->v[0] = th_int(1 + (int64_t)rnd(2));
			s->v[1] = th_int((int64_t)rnd(4) + 1);
			s->v[2] = th_int((int64_t)rnd(6));
			s->v[3] = th_int(rnd(3) ? 0 : 0x4);
			s->nv = 5;
		} else if (k < 45) { /* ast: grant, -EUNLOCK, -EAGAIN */
			static const int64_t st[] = { 0, 0, EUNLOCK, -11 };

			s->type = &t_ast;
			s->v[0] = th_int(1 + (int64_t)rnd(2));
			s->v[1] = th_int((int64_t)rnd(4) + 1);
			s->v[2] = th_int(0);
			s->v[3] = th_int(st[rnd(4)]);
			s->nv = 5;
		} else if (k < 53) {
			s->type = &t_ustart;
			s->v[0] = th_int(1 + (int64_t)rnd(2));
			s->v[1] = th_int((int64_t)rnd(4) + 1);
			s->v[2] = th_int(0);
			s->nv = 4;
		} else if (k < 63) { /* flock_lock_inode */
			s->type = &t_flock;
			for (int f = 0; f < 12; f++)
				s->v[f] = th_int(0);
			s->v[1] = th_int(100 + (int64_t)rnd(3)); /* i_ino */
			s->v[2] = th_int(8);
			s->v[4] = th_int(0x1000 + (int64_t)rnd(3)); /* owner */
			s->v[6] = th_int(0x80); /* FL_FLOCK */
			s->v[7] = th_int((int64_t)rnd(3)); /* type */
			s->v[10] = th_int(rnd(5) ? 0 : -11);
			s->v[11] = th_int(500 + (int64_t)rnd(3));
			s->v[5] = s->v[11];
			s->nv = 12;
		} else if (k < 67) {
			s->type = &t_enter;
			s->v[0] = th_int(73);
			s->v[1] = th_int(3);
			s->v[2] = th_int((int64_t)rnd(9));
			s->v[3] = th_int(500 + (int64_t)rnd(3));
			s->nv = 4;
		} else if (k < 70) {
			s->type = &t_exit;
			s->v[0] = th_int(73);
			s->v[1] = th_int(0);
			s->v[2] = th_int(500 + (int64_t)rnd(3));
			s->nv = 3;
		} else if (k < 78) {
			s->type = &svc.acq;
			s->v[1] = th_int((int64_t)rnd(2));
			s->v[2] = th_int(7 + (int64_t)rnd(2));
			s->nv = 3;
		} else if (k < 84) {
			s->type = &svc.rel;
			s->v[1] = th_int(7 + (int64_t)rnd(2));
			s->nv = 2;
		} else if (k < 90 ||
			   !n_sent) { /* a send; often never received */
			s->type = &svc.send;
			s->a = ++msg;
			s->v[0] = th_int((int64_t)s->a);
			s->nv = 1;
			if (n_sent < 64)
				sent[n_sent++] = s->a;
		} else if (k < 95) { /* the receive of an earlier send */
			size_t j = rnd(n_sent);

			s->type = &svc.recv;
			s->v[0] = th_int((int64_t)sent[j]);
			sent[j] = sent[--n_sent];
			/* after its send: no receive waits (see persist.c) */
			s->tai = tai + s->eps;
			s->trace = s->tai;
			s->nv = 1;
		} else if (k < 96) {
			s->what = S_LOSS;
			s->a = tai - 200 * US;
			s->b = tai;
		} else if (k < 97) {
			s->what = S_STATE;
			s->a = rnd(3) ? CNODE_UP :
			       rnd(2) ? CNODE_UNREACHABLE :
					CNODE_DOWN;
		} else {
			s->what = S_WM;
			s->a = tai - 100 * US;
		}
		if (s->type == &t_start || s->type == &t_ast ||
		    s->type == &t_ustart)
			s->v[s->nv - 1] = th_str(s->name);
		if (s->type == &svc.acq || s->type == &svc.rel)
			s->v[0] = th_str(s->name);
	}
}

static uint64_t last_tai(void)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n_hist; i++)
		if (hist[i].tai > t)
			t = hist[i].tai;
	return t;
}

static void play(struct consumer *c, const struct cnode *nodes, size_t from,
		 size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct step *s = &hist[i];
		const struct cnode *n = &nodes[s->node];
		struct cevent ev = {
			.node = n,
			.seq = i + 1,
			.tai_ns = s->tai,
			.trace_ns = s->trace,
			.eps_ns = s->eps,
			.type = s->type ? &s->type->t : NULL,
			.vals = s->v,
		};

		switch (s->what) {
		case S_EVENT:
			c->ops->event(c, &ev);
			break;
		case S_LOSS:
			c->ops->loss(c, n, s->a, s->b, 3);
			break;
		case S_STATE:
			c->ops->node_state(c, n, (enum cnode_state)s->a,
					   s->tai);
			break;
		case S_WM:
			c->ops->watermark(c, s->a);
			break;
		}
	}
}

struct side {
	struct lock_engine *e;
	struct consumer *c;
	struct th_sink *sink;
	struct lock_view *view;
	const struct cnode *nodes;
};

static void side_open(struct side *s, const struct cnode *nodes)
{
	struct lock_engine_conf conf;

	lock_conf_defaults(&conf);
	conf.eps_floor_ns = 20 * US;
	conf.history = 4;
	conf.user_rules = svc.rules;
	conf.n_user_rules = 2;
	conf.pair_rules = svc.pairs;
	conf.n_pair_rules = 1;
	s->e = lock_engine_create(&conf);
	if (!s->e)
		abort();
	s->sink = th_sink_new();
	lock_engine_add_sink(s->e, &s->sink->sink);
	s->view = lock_view_create(s->e, 64);
	if (!s->view)
		abort();
	lock_engine_add_sink(s->e, lock_view_sink(s->view));
	s->c = lock_engine_consumer(s->e);
	s->nodes = nodes;
}

static const struct cnode *find_b(void *arg, const char *name)
{
	(void)arg;
	for (int i = 0; i < NODES; i++)
		if (!strcmp(nodes_b[i].name, name))
			return &nodes_b[i];
	return NULL;
}

/* a collector whose checkpoint has none of the snapshot's nodes */
static const struct cnode *find_none(void *arg, const char *name)
{
	(void)arg;
	(void)name;
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - *len < 4096) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		got = fread(buf + *len, 1, cap - *len - 1, f);
		*len += got;
		if (!got)
			break;
	}
	fclose(f);
	buf[*len] = 0;
	return buf;
}

static bool same_file(const char *p1, const char *p2)
{
	size_t l1, l2;
	char *a = slurp(p1, &l1), *b = slurp(p2, &l2);
	bool same = a && b && l1 == l2 && !memcmp(a, b, l1);
	char cmd[512];

	free(a);
	free(b);
	if (!same) {
		snprintf(cmd, sizeof(cmd), "diff '%s' '%s' | head -20 >&2", p1,
			 p2);
		if (system(cmd) < 0)
			perror("diff");
	}
	return same;
}

static char *view_of(const struct side *s)
{
	size_t need = lock_view_resources(s->view, NULL, 0);
	char *buf = malloc(need + 1);

	if (!buf)
		abort();
	lock_view_resources(s->view, buf, need + 1);
	return buf;
}

static bool same_verdicts(const struct th_sink *a, size_t a0,
			  const struct th_sink *b, size_t b0)
{
	if (a->n - a0 != b->n - b0)
		return false;
	for (size_t i = 0; i < a->n - a0; i++)
		if (strcmp(a->v[a0 + i].json, b->v[b0 + i].json))
			return false;
	return true;
}

/* records of each kind seen in the snapshots at the cuts */
static const char *const kinds[] = { "node", "vc",   "res", "hold", "ring", "h",
				     "fifo", "pair", "msg", "lkb",  "fcall" };
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
static size_t kind_seen[N_KINDS];

static void count_kinds(const char *path)
{
	size_t len;
	char *buf = slurp(path, &len), *line, *save;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		for (size_t k = 0; k < N_KINDS; k++)
			if (!strncmp(line, kinds[k], strlen(kinds[k])) &&
			    line[strlen(kinds[k])] == ' ')
				kind_seen[k]++;
	free(buf);
}

static uint64_t seed0;
static size_t holds_seen, pairs_runs, verdicts_after;

static bool one(uint64_t seed)
{
	char p1[128], p2[128], p3[128], p4[128], err[256];
	bool remap = seed % 2;
	struct side a, b;
	size_t cut, a0;
	struct lock_stats st;
	bool ok = true;
	char *va, *vb;

	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	gen(100 + rnd(MAX_STEPS - 100));
	cut = rnd(n_hist);
	for (uint32_t i = 0; i < NODES; i++)
		nodes_b[i].index = remap ? NODES - 1 - i + 3 : i;
	snprintf(p1, sizeof(p1), "%s/a", dir);
	snprintf(p2, sizeof(p2), "%s/b", dir);
	snprintf(p3, sizeof(p3), "%s/a-end", dir);
	snprintf(p4, sizeof(p4), "%s/b-end", dir);
	side_open(&a, nodes_a);
	side_open(&b, nodes_b);
	play(a.c, a.nodes, 0, cut);
	lock_engine_stats(a.e, &st);
	holds_seen += st.holds;
	if (lock_engine_save(a.e, p1) ||
	    lock_engine_load(b.e, p1, find_b, NULL, err, sizeof(err))) {
		fprintf(stderr, "seed %" PRIu64 ": save/load: %s\n", seed, err);
		ok = false;
		goto out;
	}
	count_kinds(p1);
	if (!remap) {
		if (lock_engine_save(b.e, p2) || !same_file(p1, p2)) {
			fprintf(stderr,
				"seed %" PRIu64
				": loaded state saves differently\n",
				seed);
			ok = false;
		}
	}
	va = view_of(&a);
	vb = view_of(&b);
	if (strcmp(va, vb)) {
		fprintf(stderr, "seed %" PRIu64 ": views differ:\n%s\n%s\n",
			seed, va, vb);
		ok = false;
	}
	free(va);
	free(vb);
	a0 = a.sink->n;
	play(a.c, a.nodes, cut, n_hist);
	play(b.c, b.nodes, cut, n_hist);
	/* everything decided: a watermark well past the last event */
	a.c->ops->watermark(a.c, last_tai() + 1000000000);
	b.c->ops->watermark(b.c, last_tai() + 1000000000);
	verdicts_after += a.sink->n - a0;
	if (!same_verdicts(a.sink, a0, b.sink, 0)) {
		fprintf(stderr,
			"seed %" PRIu64
			": verdicts after the cut differ (%zu vs %zu)\n",
			seed, a.sink->n - a0, b.sink->n);
		for (size_t i = a0; i < a.sink->n; i++)
			fprintf(stderr, " A %s\n", a.sink->v[i].json);
		for (size_t i = 0; i < b.sink->n; i++)
			fprintf(stderr, " B %s\n", b.sink->v[i].json);
		ok = false;
	}
	if (!remap && (lock_engine_save(a.e, p3) || lock_engine_save(b.e, p4) ||
		       !same_file(p3, p4))) {
		fprintf(stderr, "seed %" PRIu64 ": final states differ\n",
			seed);
		ok = false;
	}
	pairs_runs++;
out:
	if (!ok)
		fprintf(stderr, "seed %" PRIu64 ": cut at %zu of %zu steps\n",
			seed, cut, n_hist);
	lock_engine_destroy(a.e);
	lock_engine_destroy(b.e);
	return ok;
}

static void prop(void)
{
	const char *s = getenv("NETRV_LOCK_SEED");
	const char *h = getenv("NETRV_LOCK_HISTORIES");
	size_t n = h ? strtoul(h, NULL, 0) : 1000, failed = 0;

	seed0 = s ? strtoull(s, NULL, 0) : 1;
	for (size_t i = 0; i < n && failed < 3; i++)
		if (!one(seed0 + i))
			failed++;
	if (!CHECK(!failed))
		fprintf(stderr,
			"%zu of %zu histories differ after a round trip\n",
			failed, n);
	/* the histories are not trivial: holds kept, verdicts after cuts */
	CHECK(holds_seen > n);
	CHECK(verdicts_after > n);
	for (size_t k = 0; k < N_KINDS; k++) {
		/* every kind of record was round-tripped many times */
		if (!CHECK(kind_seen[k] >= n / 10))
			fprintf(stderr, "  only %zu \"%s\" records\n",
				kind_seen[k], kinds[k]);
		printf("%s %zu, ", kinds[k], kind_seen[k]);
	}
	printf("round trip: %zu histories, %zu holds at the cuts, %zu verdicts after them\n",
	       pairs_runs, holds_seen, verdicts_after);
}

/* A held lock, saved; then the file is damaged in ways a crash or a disk
 * could: each load is refused and leaves a working empty engine. */
static void damaged(void)
{
	char path[128], bad[128], err[256];
	struct side a, b;
	struct lock_stats st;
	size_t len;
	char *buf = NULL, *p;
	FILE *f;
	struct evpack_value v[5] = { th_int(1), th_int(1), th_int(5), th_int(0),
				     th_str("held") };

	snprintf(path, sizeof(path), "%s/ok", dir);
	snprintf(bad, sizeof(bad), "%s/bad", dir);
	for (uint32_t i = 0; i < NODES; i++)
		nodes_b[i].index = i;
	side_open(&a, nodes_a);
	th_send(a.c, &nodes_a[0], &t_start, 10 * US, US, v);
	v[2] = th_int(0);
	v[3] = th_int(0);
	th_send(a.c, &nodes_a[0], &t_ast, 11 * US, US, v);
	lock_engine_stats(a.e, &st);
	CHECK_INT(st.holds, 1);
	REQUIRE(!lock_engine_save(a.e, path));
	buf = slurp(path, &len);
	REQUIRE(buf);

	/* intact: the hold is back, and B's conflicting grant is definite */
	side_open(&b, nodes_b);
	REQUIRE(!lock_engine_load(b.e, path, find_b, NULL, err, sizeof(err)));
	lock_engine_stats(b.e, &st);
	CHECK_INT(st.holds, 1);
	v[2] = th_int(5);
	th_send(b.c, &nodes_b[1], &t_start, 20 * US, US, v);
	v[2] = th_int(0);
	th_send(b.c, &nodes_b[1], &t_ast, 21 * US, US, v);
	b.c->ops->watermark(b.c, 1000 * US);
	CHECK_INT(th_count(b.sink, VERDICT_DEFINITE), 1);
	lock_engine_destroy(b.e);

	for (int k = 0; k < 5; k++) {
		const char *what[] = { "cut short", "a flipped byte",
				       "another version", "an unknown node",
				       "a missing file" };
		int want = k == 4 ? ENOENT : EINVAL;

		f = fopen(bad, "w");
		REQUIRE(f);
		if (k == 0) {
			fwrite(buf, 1, len / 2, f);
		} else if (k == 1) {
			p = strstr(buf, "hold ");
			REQUIRE(p);
			p[6] ^= 1;
			fwrite(buf, 1, len, f);
			p[6] ^= 1;
		} else if (k == 2) {
			fputs("netrv-lock-state 2\n", f);
			fwrite(strchr(buf, '\n') + 1, 1,
			       len - (size_t)(strchr(buf, '\n') + 1 - buf), f);
		} else {
			fwrite(buf, 1, len, f);
		}
		fclose(f);
		if (k == 4)
			unlink(bad);
		side_open(&b, nodes_b);
		errno = 0;
		if (!CHECK(lock_engine_load(b.e, bad,
					    k == 3 ? find_none : find_b, NULL,
					    err, sizeof(err)) == -1 &&
			   errno == want))
			fprintf(stderr, "%s: not refused as it should be\n",
				what[k]);
		printf("%s: %s\n", what[k], err);
		lock_engine_stats(b.e, &st);
		CHECK_INT(st.holds, 0);
		CHECK_INT(st.resources, 0);
		/* the emptied engine works: a conflict after it is found */
		v[2] = th_int(5);
		th_send(b.c, &nodes_b[1], &t_start, 20 * US, US, v);
		th_send(b.c, &nodes_b[2], &t_start, 20 * US, US, v);
		v[2] = th_int(0);
		th_send(b.c, &nodes_b[1], &t_ast, 21 * US, US, v);
		th_send(b.c, &nodes_b[2], &t_ast, 40 * US, US, v);
		b.c->ops->watermark(b.c, 1000 * US);
		CHECK_INT(th_count(b.sink, VERDICT_DEFINITE), 1);
		lock_engine_destroy(b.e);
	}
out:
	free(buf);
	lock_engine_destroy(a.e);
}

/*
 * Snapshots are paced by their cost: a checkpoint right after a save is
 * deferred with EAGAIN, one 20 save-lengths later is taken.  5000 holds
 * make a save take milliseconds, so the back-to-back call falls well
 * inside the window even on a loaded machine.
 */
static void paced(void)
{
	struct evpack_value v[5] = { th_int(1), th_int(1), th_int(5), th_int(0),
				     th_str("") };
	struct timespec t0, t1, pause;
	uint64_t tok = 0, tok2 = 0;
	struct side a;
	char name[32];
	long long ns;

	side_open(&a, nodes_a);
	CHECK(!lock_engine_persist(a.e, dir, find_b, NULL));
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "paced-%d", i);
		v[4] = th_str(name);
		v[1] = th_int((uint64_t)i + 1);
		v[2] = th_int(5);
		v[3] = th_int(0);
		th_send(a.c, &nodes_a[0], &t_start, (10 + 2 * (uint64_t)i) * US,
			US, v);
		v[2] = th_int(0);
		th_send(a.c, &nodes_a[0], &t_ast, (11 + 2 * (uint64_t)i) * US,
			US, v);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(!a.c->ops->checkpoint(a.c, &tok));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	errno = 0;
	CHECK(a.c->ops->checkpoint(a.c, &tok2) == -1 && errno == EAGAIN);
	ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + t1.tv_nsec - t0.tv_nsec;
	ns = 25 * ns + 1000000;
	pause.tv_sec = ns / 1000000000LL;
	pause.tv_nsec = ns % 1000000000LL;
	nanosleep(&pause, NULL);
	CHECK(!a.c->ops->checkpoint(a.c, &tok2));
	CHECK(tok2 == tok + 1);
	lock_engine_destroy(a.e);
}

int main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/netrv-lock-persist-%d-XXXXXX",
		 (int)getpid());
	REQUIRE(mkdtemp(dir));
	types();
	damaged();
	paced();
	prop();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
out:
	return check_summary("test_lock_persist");
}
