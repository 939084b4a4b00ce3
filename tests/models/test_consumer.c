// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_consumer.c - the automata consumer on synthetic merged events: the
 * shipped models with their bindings (dlm_lock, dlm_resource, flock, wip),
 * every instance kind, loss and resynchronisation, memory per instance and
 * no allocation per event in steady state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "consumer.h"

/* Count allocations to prove the steady state allocates nothing. */
static unsigned long n_allocs;
void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	n_allocs++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t a, size_t b)
{
	n_allocs++;
	return __real_calloc(a, b);
}
void *__wrap_realloc(void *p, size_t n)
{
	n_allocs++;
	return __real_realloc(p, n);
}

#define MAX_FIELDS 16

struct ftype {
	Netrv__EventType t;
	Netrv__Field f[MAX_FIELDS];
	Netrv__Field *fp[MAX_FIELDS];
};

/* @spec: "name:k" comma separated, k = u (unsigned), s (signed), b (bytes) */
static void mk_type(struct ftype *ft, const char *sys, const char *name,
		    const char *spec)
{
	static char names[64][32];
	static int used;
	char buf[256], *save, *tok;

	memset(ft, 0, sizeof(*ft));
	netrv__event_type__init(&ft->t);
	ft->t.system = (char *)sys;
	ft->t.name = (char *)name;
	ft->t.fields = ft->fp;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		Netrv__Field *f = &ft->f[ft->t.n_fields];
		char *colon = strchr(tok, ':');

		netrv__field__init(f);
		*colon = 0;
		snprintf(names[used], sizeof(names[used]), "%s", tok);
		f->name = names[used++];
		f->is_signed = colon[1] == 's';
		f->kind = colon[1] == 'b' ? NETRV__FIELD_KIND__FIELD_BYTES :
					    NETRV__FIELD_KIND__FIELD_INT;
		f->size = colon[1] == 'b' ? 4 : 8;
		ft->fp[ft->t.n_fields++] = f;
	}
}

static struct ftype lock_start, lock_end, ast, unlock_start, unlock_end,
	flock_t, sched_waking, p_disable, p_enable, t_up, t_down;
static struct cnode n1 = { .index = 0, .name = "n1" },
		    n2 = { .index = 1, .name = "n2" },
		    n3 = { .index = 2, .name = "n3" };

static void setup_types(void)
{
	mk_type(&lock_start, "dlm", "dlm_lock_start",
		"common_pid:s,ls_id:u,lkb_id:u,mode:s,flags:u,res_name:b");
	mk_type(&lock_end, "dlm", "dlm_lock_end",
		"common_pid:s,ls_id:u,lkb_id:u,mode:s,flags:u,error:s,res_name:b");
	mk_type(&ast, "dlm", "dlm_ast",
		"common_pid:s,ls_id:u,lkb_id:u,sb_flags:u,sb_status:s,res_name:b");
	mk_type(&unlock_start, "dlm", "dlm_unlock_start",
		"common_pid:s,ls_id:u,lkb_id:u,flags:u,res_name:b");
	mk_type(&unlock_end, "dlm", "dlm_unlock_end",
		"common_pid:s,ls_id:u,lkb_id:u,flags:u,error:s,res_name:b");
	mk_type(&flock_t, "filelock", "flock_lock_inode",
		"common_pid:s,fl:u,i_ino:u,s_dev:u,blocker:u,owner:u,pid:u,flags:u,type:u,fl_start:s,fl_end:s,ret:s");
	mk_type(&sched_waking, "sched", "sched_waking",
		"common_pid:s,comm:b,pid:s,prio:s,target_cpu:s");
	mk_type(&p_disable, "preemptirq", "preempt_disable",
		"common_pid:s,caller_offs:s,parent_offs:s");
	mk_type(&p_enable, "preemptirq", "preempt_enable",
		"common_pid:s,caller_offs:s,parent_offs:s");
	mk_type(&t_up, "test", "up", "common_pid:s");
	mk_type(&t_down, "test", "down", "common_pid:s");
}

/* ---- violations ---- */

struct seen {
	unsigned int n;
	char model[32], key[128], state[32], event[32];
};

static void on_violation(void *arg, const struct models_violation *v)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->model, sizeof(s->model), "%s", v->model);
	snprintf(s->key, sizeof(s->key), "%s", v->key);
	snprintf(s->state, sizeof(s->state), "%s", v->state);
	snprintf(s->event, sizeof(s->event), "%s", v->event);
}

/* ---- sending events ---- */

static struct consumer *c;

static void send(const struct cnode *node, uint32_t cpu, const struct ftype *ft,
		 const int64_t *v, const char *bytes, size_t blen)
{
	struct evpack_value vals[16];
	struct cevent ev = { 0 };

	for (size_t i = 0; i < ft->t.n_fields; i++) {
		memset(&vals[i], 0, sizeof(vals[i]));
		if (ft->f[i].kind == NETRV__FIELD_KIND__FIELD_INT) {
			vals[i].s = v[i];
		} else {
			vals[i].bytes = (const uint8_t *)bytes;
			vals[i].len = blen;
		}
	}
	ev.node = node;
	ev.cpu = cpu;
	ev.type = &ft->t;
	ev.vals = vals;
	c->ops->event(c, &ev);
}

#define RES "res\0x"
#define RES_LEN 5

static void dlm_lock(const struct cnode *n, uint32_t lkb, int mode,
		     uint32_t flags)
{
	send(n, 0, &lock_start, (int64_t[]){ 1, 1, lkb, mode, flags, 0 }, RES,
	     RES_LEN);
	send(n, 0, &lock_end, (int64_t[]){ 1, 1, lkb, mode, flags, 0, 0 }, RES,
	     RES_LEN);
}

static void dlm_ast(const struct cnode *n, uint32_t lkb, int status)
{
	send(n, 0, &ast, (int64_t[]){ 1, 1, lkb, 0, status, 0 }, RES, RES_LEN);
}

/* Linux 6.12, user-space lock: sb_status and sb_flags swapped */
static void dlm_ast_612(const struct cnode *n, uint32_t lkb, int flags,
			int status_byte)
{
	send(n, 0, &ast, (int64_t[]){ 1, 1, lkb, status_byte, flags, 0 }, RES,
	     RES_LEN);
}

static void dlm_unlock(const struct cnode *n, uint32_t lkb, uint32_t flags)
{
	send(n, 0, &unlock_start, (int64_t[]){ 1, 1, lkb, flags, 0 }, RES,
	     RES_LEN);
	send(n, 0, &unlock_end, (int64_t[]){ 1, 1, lkb, flags, 0, 0 }, RES,
	     RES_LEN);
}

static struct consumer *make(const char *const *models, size_t n,
			     struct seen *s)
{
	struct consumer *mc = models_consumer_create(on_violation, s);
	char path[512], bind[512], err[512];

	if (!mc)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strchr(models[i], '/')) {
			/* "toggle/kind": test model with a test binding */
			snprintf(path, sizeof(path), "%s/toggle.dot",
				 TESTS_DIR);
			snprintf(bind, sizeof(bind), "%s/toggle_%s.bind",
				 TESTS_DIR, strchr(models[i], '/') + 1);
		} else {
			snprintf(path, sizeof(path), "%s/%s.dot", MODELS_DIR,
				 models[i]);
			bind[0] = 0;
		}
		if (models_consumer_add(mc, path, bind[0] ? bind : NULL, err,
					sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			mc->ops->destroy(mc);
			return NULL;
		}
	}
	return mc;
}

static void test_dlm_lock(void)
{
	static const char *const models[] = { "dlm_lock" };
	struct seen s = { 0 };
	struct models_stats st;
	char err[256];

	c = make(models, 1, &s);
	REQUIRE(c);
	/* a whole life: request, grant, unlock, completion */
	dlm_lock(&n1, 7, 5, 0);
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n1 ls_id=1 lkb_id=7"),
		  "requested");
	dlm_ast(&n1, 7, 0);
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n1 ls_id=1 lkb_id=7"),
		  "granted");
	/* conversion down to PR and its grant */
	dlm_lock(&n1, 7, 3, 0x4);
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n1 ls_id=1 lkb_id=7"),
		  "converting");
	dlm_ast(&n1, 7, 0);
	dlm_unlock(&n1, 7, 0);
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n1 ls_id=1 lkb_id=7"),
		  "unlocking");
	dlm_ast(&n1, 7, -0x10002);
	CHECK_INT(s.n, 0);
	/* back in "unlocked": forgotten */
	CHECK(!models_consumer_state(c, "dlm_lock",
				     "node=n1 ls_id=1 lkb_id=7"));
	REQUIRE(!models_consumer_stats(c, "dlm_lock", &st));
	CHECK_INT(st.instances, 0);
	CHECK_INT(st.created, 1);
	CHECK_INT(st.freed, 1);

	/* a NOQUEUE request that fails: back to unlocked, forgotten; a
	 * user-space lock shows -EAGAIN in dlm_lock_end too */
	send(&n1, 0, &lock_start, (int64_t[]){ 1, 1, 8, 5, 1, 0 }, RES,
	     RES_LEN);
	send(&n1, 0, &lock_end, (int64_t[]){ 1, 1, 8, 5, 1, -11, 0 }, RES,
	     RES_LEN);
	dlm_ast(&n1, 8, -11);
	/* dlm_lock() refusing a request outright (-EINVAL): lock_error */
	send(&n1, 0, &lock_start, (int64_t[]){ 1, 1, 9, 5, 0, 0 }, RES,
	     RES_LEN);
	send(&n1, 0, &lock_end, (int64_t[]){ 1, 1, 9, 5, 0, -22, 0 }, RES,
	     RES_LEN);
	CHECK_INT(s.n, 0);
	REQUIRE(!models_consumer_stats(c, "dlm_lock", &st));
	CHECK_INT(st.instances, 0);

	/* an ast with no matching request */
	dlm_ast(&n1, 99, 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.model, "dlm_lock");
	CHECK_STR(s.key, "node=n1 ls_id=1 lkb_id=99");
	CHECK_STR(s.state, "unlocked");
	CHECK_STR(s.event, "grant");
	/* an unlock with no matching request */
	dlm_unlock(&n2, 100, 0);
	CHECK_INT(s.n, 2);
	CHECK_STR(s.key, "node=n2 ls_id=1 lkb_id=100");
	CHECK_STR(s.event, "unlock");

	/* the same lkb id on two nodes is two locks */
	dlm_lock(&n1, 5, 3, 0);
	dlm_lock(&n2, 5, 3, 0);
	dlm_ast(&n1, 5, 0);
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n1 ls_id=1 lkb_id=5"),
		  "granted");
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n2 ls_id=1 lkb_id=5"),
		  "requested");
	/* a second request on a granted lock is a violation */
	dlm_lock(&n1, 5, 3, 0);
	CHECK_INT(s.n, 3);
	CHECK_STR(s.state, "granted");
	CHECK_STR(s.event, "request");

	/* a model cannot be added twice */
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/dlm_lock.dot", MODELS_DIR);
		CHECK_INT(models_consumer_add(c, path, NULL, err, sizeof(err)),
			  -1);
		CHECK_INT(errno, EEXIST);
	}
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void test_loss(void)
{
	static const char *const models[] = { "dlm_lock" };
	struct seen s = { 0 };
	struct models_stats st;

	c = make(models, 1, &s);
	REQUIRE(c);
	dlm_lock(&n1, 1, 5, 0);
	dlm_ast(&n1, 1, 0);
	dlm_lock(&n2, 2, 5, 0);
	dlm_ast(&n2, 2, 0);
	c->ops->loss(c, &n1, 1000, 2000, 17);
	/* n1's lock is unknown now: as every new instance of n1 will start
	 * unknown, it needs no memory; n2's lock is still known */
	CHECK(!models_consumer_state(c, "dlm_lock",
				     "node=n1 ls_id=1 lkb_id=1"));
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n2 ls_id=1 lkb_id=2"),
		  "granted");
	/* events of unknown instances are ignored: the unlock of lkb 1 might
	 * be fine after what was lost */
	dlm_unlock(&n1, 1, 0);
	CHECK_INT(s.n, 0);
	/* and so are first sightings on n1: their request may be lost */
	dlm_ast(&n1, 3, 0);
	CHECK_INT(s.n, 0);
	/* n2 still sees violations */
	dlm_ast(&n2, 4, 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.key, "node=n2 ls_id=1 lkb_id=4");
	/* resynchronisation: the completion is a start event; it returns
	 * lkb 1 to "unlocked" and it is forgotten */
	dlm_ast(&n1, 1, -0x10002);
	CHECK(!models_consumer_state(c, "dlm_lock",
				     "node=n1 ls_id=1 lkb_id=1"));
	/* a request on n1 starts monitoring afresh (start_run), and the
	 * lock is checked again */
	dlm_lock(&n1, 9, 5, 0);
	CHECK_STR(models_consumer_state(c, "dlm_lock",
					"node=n1 ls_id=1 lkb_id=9"),
		  "requested");
	dlm_unlock(&n1, 9, 0);
	CHECK_INT(s.n, 2);
	CHECK_STR(s.key, "node=n1 ls_id=1 lkb_id=9");
	CHECK_STR(s.state, "requested");
	REQUIRE(!models_consumer_stats(c, "dlm_lock", &st));
	CHECK_INT(st.losses, 1);
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void test_dlm_resource(void)
{
	static const char *const models[] = { "dlm_resource" };
	static const char *const key = "ls_id=1 res_name=\"res\\x00x\"";
	struct seen s = { 0 };
	struct models_stats st;

	c = make(models, 1, &s);
	REQUIRE(c);
	/* PR on two nodes: compatible */
	dlm_lock(&n1, 1, 3, 0);
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "free");
	dlm_ast(&n1, 1, 0);
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "shared");
	dlm_lock(&n2, 1, 3, 0);
	dlm_ast(&n2, 1, 0);
	CHECK_INT(s.n, 0);
	/* EX on a third node while both hold PR: incompatible */
	dlm_lock(&n3, 1, 5, 0);
	dlm_ast(&n3, 1, 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.model, "dlm_resource");
	CHECK_STR(s.key, key);
	CHECK_STR(s.state, "shared");
	CHECK_STR(s.event, "grant_incompatible");
	/* the instance is unknown until it is free again */
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "unknown");
	dlm_unlock(&n3, 1, 0);
	dlm_unlock(&n1, 1, 0);
	dlm_unlock(&n2, 1, 0); /* the last one: start event, forgotten */
	CHECK_INT(s.n, 1);
	REQUIRE(!models_consumer_stats(c, "dlm_resource", &st));
	CHECK_INT(st.instances, 0);

	/* EX alone, NL beside it, then the EX holder converts down to PR */
	dlm_lock(&n1, 1, 5, 0);
	dlm_ast(&n1, 1, 0);
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "exclusive");
	dlm_lock(&n2, 1, 0, 0);
	dlm_ast(&n2, 1, 0);
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "exclusive");
	dlm_lock(&n1, 1, 3, 0x4);
	dlm_ast(&n1, 1, 0);
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "shared");
	/* PR and NL held: a CW grant conflicts with PR */
	dlm_lock(&n3, 1, 2, 0);
	dlm_ast(&n3, 1, 0);
	CHECK_INT(s.n, 2);
	CHECK_STR(s.event, "grant_incompatible");
	/* a cancelled request grants nothing and is dropped */
	c->ops->destroy(c);
	s.n = 0;
	c = make(models, 1, &s);
	REQUIRE(c);
	dlm_lock(&n1, 1, 5, 0);
	dlm_ast(&n1, 1, 0);
	dlm_lock(&n2, 1, 5, 0);
	dlm_unlock(&n2, 1, 0x2);
	dlm_ast(&n2, 1, -0x10001);
	dlm_unlock(&n1, 1, 0);
	CHECK_INT(s.n, 0);
	REQUIRE(!models_consumer_stats(c, "dlm_resource", &st));
	CHECK_INT(st.instances, 0);
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void flock(const struct cnode *n, uint64_t owner, int type, int ret)
{
	/* common_pid fl i_ino s_dev blocker owner pid flags type start end
	 * ret */
	send(n, 0, &flock_t,
	     (int64_t[]){ 10, 0xffff1, 42, 0x800001, 0, owner, 10, 2, type, 0,
			  -1, ret },
	     NULL, 0);
}

static void test_flock(void)
{
	static const char *const models[] = { "flock" };
	static const char *const key = "s_dev=8388609 i_ino=42";
	struct seen s = { 0 };

	c = make(models, 1, &s);
	REQUIRE(c);
	flock(&n1, 0xa, 0, 0); /* n1: LOCK_SH */
	flock(&n2, 0xb, 0, 0); /* n2: LOCK_SH */
	CHECK_STR(models_consumer_state(c, "flock", key), "shared");
	flock(&n2, 0xb, 1, -11); /* LOCK_EX|LOCK_NB refused: nothing */
	flock(&n3, 0xc, 2, 0); /* close of a file holding nothing */
	CHECK_INT(s.n, 0);
	flock(&n2, 0xb, 2, 0); /* n2 unlocks, n1 still holds */
	CHECK_STR(models_consumer_state(c, "flock", key), "shared");
	flock(&n1, 0xa, 1, 0); /* n1 alone: upgrade to exclusive */
	CHECK_STR(models_consumer_state(c, "flock", key), "exclusive");
	CHECK_INT(s.n, 0);
	flock(&n2, 0xb, 0, 0); /* shared granted beside exclusive */
	CHECK_INT(s.n, 1);
	CHECK_STR(s.model, "flock");
	CHECK_STR(s.key, key);
	CHECK_STR(s.state, "exclusive");
	CHECK_STR(s.event, "lock_conflict");
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void test_wip_per_cpu(void)
{
	static const char *const models[] = { "wip" };
	static const int64_t v[] = { 1, 0, 0 };
	static const int64_t w[] = { 1, 0, 5, 120, 0 };
	struct seen s = { 0 };
	unsigned long before;

	c = make(models, 1, &s);
	REQUIRE(c);
	/* not monitoring yet: preempt_disable and a wakeup are ignored, and
	 * waiting for the start event allocates nothing once the CPU's
	 * instance and the event types are known */
	send(&n1, 1, &p_disable, v, NULL, 0);
	send(&n1, 1, &sched_waking, w, "x", 1);
	before = n_allocs;
	send(&n1, 1, &sched_waking, w, "x", 1);
	send(&n1, 1, &p_disable, v, NULL, 0);
	CHECK_INT(n_allocs - before, 0);
	CHECK_INT(s.n, 0);
	CHECK_STR(models_consumer_state(c, "wip", "node=n1 cpu=1"), "unknown");
	/* preempt_enable is the start event: monitoring from "preemptive" */
	send(&n1, 1, &p_enable, v, NULL, 0);
	CHECK_STR(models_consumer_state(c, "wip", "node=n1 cpu=1"),
		  "preemptive");
	send(&n1, 1, &p_disable, v, NULL, 0);
	send(&n1, 1, &sched_waking, w, "x", 1);
	send(&n1, 1, &p_enable, v, NULL, 0);
	CHECK_INT(s.n, 0);
	/* CPU 2 of n1 and CPU 1 of n2 are other instances, still idle */
	send(&n1, 2, &sched_waking, w, "x", 1);
	send(&n2, 1, &sched_waking, w, "x", 1);
	CHECK_INT(s.n, 0);
	/* a wakeup with preemption enabled on n1 cpu 1 */
	send(&n1, 1, &sched_waking, w, "x", 1);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.key, "node=n1 cpu=1");
	CHECK_STR(s.state, "preemptive");
	CHECK_STR(s.event, "sched_waking");
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void test_kinds(void)
{
	static const char *const g[] = { "toggle/global" };
	static const char *const nd[] = { "toggle/node" };
	static const char *const tk[] = { "toggle/task" };
	static const int64_t p42[] = { 42 }, p43[] = { 43 };
	struct seen s = { 0 };

	/* global: one instance for everything */
	c = make(g, 1, &s);
	REQUIRE(c);
	send(&n1, 0, &t_up, p42, NULL, 0);
	send(&n2, 3, &t_up, p43, NULL, 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.key, "global");
	CHECK_STR(s.state, "on");
	CHECK_STR(s.event, "up");
	c->ops->destroy(c);

	/* per node: n1 and n2 each may go up once */
	s.n = 0;
	c = make(nd, 1, &s);
	REQUIRE(c);
	send(&n1, 0, &t_up, p42, NULL, 0);
	send(&n2, 0, &t_up, p42, NULL, 0);
	CHECK_INT(s.n, 0);
	send(&n2, 1, &t_up, p43, NULL, 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.key, "node=n2");
	c->ops->destroy(c);

	/* per task: (node, pid) */
	s.n = 0;
	c = make(tk, 1, &s);
	REQUIRE(c);
	send(&n1, 0, &t_up, p42, NULL, 0);
	send(&n1, 1, &t_up, p43, NULL, 0);
	send(&n2, 0, &t_up, p42, NULL, 0);
	CHECK_INT(s.n, 0);
	send(&n1, 1, &t_down, p42, NULL, 0);
	send(&n1, 1, &t_down, p42, NULL, 0);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.key, "node=n1 common_pid=42");
	CHECK_STR(s.state, "off");
	CHECK_STR(s.event, "down");
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void test_memory_and_allocations(void)
{
	static const char *const models[] = { "dlm_lock" };
	struct seen s = { 0 };
	struct models_stats st;
	unsigned long before;

	c = make(models, 1, &s);
	REQUIRE(c);
	for (uint32_t lkb = 1; lkb <= 1000; lkb++) {
		dlm_lock(&n1, lkb, 3, 0);
		dlm_ast(&n1, lkb, 0);
	}
	REQUIRE(!models_consumer_stats(c, "dlm_lock", &st));
	CHECK_INT(st.instances, 1000);
	printf("dlm_lock: %zu instances take %zu bytes, %zu bytes each\n",
	       st.instances, st.bytes, st.bytes / st.instances);
	CHECK(st.bytes / st.instances <= 96);
	/* steady state: conversions of existing locks allocate nothing */
	before = n_allocs;
	for (int round = 0; round < 3; round++)
		for (uint32_t lkb = 1; lkb <= 1000; lkb++) {
			dlm_lock(&n1, lkb, 5, 0x4);
			dlm_ast(&n1, lkb, 0);
		}
	CHECK_INT(n_allocs - before, 0);
	CHECK_INT(s.n, 0);
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

static void test_missing_field(void)
{
	static const char *const models[] = { "dlm_lock" };
	struct ftype old_ast;
	struct seen s = { 0 };
	struct models_stats st;

	/* an event whose schema lacks a field a rule needs: rule unused */
	mk_type(&old_ast, "dlm", "dlm_ast", "common_pid:s,ls_id:u,lkb_id:u");
	c = make(models, 1, &s);
	REQUIRE(c);
	send(&n1, 0, &old_ast, (int64_t[]){ 1, 1, 5 }, NULL, 0);
	send(&n1, 0, &old_ast, (int64_t[]){ 1, 1, 5 }, NULL, 0);
	CHECK_INT(s.n, 0);
	REQUIRE(!models_consumer_stats(c, "dlm_lock", &st));
	CHECK_INT(st.events, 0);
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

/*
 * The shapes seen on Linux 6.12 in deploy/vm: dlm_ast with sb_status and
 * sb_flags swapped (a refusal, an unlock, a demoted grant), and a
 * conversion deadlock that CONVDEADLK broke by demoting a granted PW: no
 * violation, every instance back to its initial state.
 */
static void test_dlm_612(void)
{
	static const char *const models[] = { "dlm_lock", "dlm_resource" };
	static const char *const key = "ls_id=1 res_name=\"res\\x00x\"";
	struct seen s = { 0 };
	struct models_stats st;

	c = make(models, 2, &s);
	REQUIRE(c);
	dlm_lock(&n1, 1, 5, 0);
	dlm_ast_612(&n1, 1, 0, 0);
	dlm_lock(&n2, 2, 5, 0x1); /* NOQUEUE */
	dlm_ast_612(&n2, 2, 0, 0xf5); /* -EAGAIN: refused */
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "exclusive");
	dlm_unlock(&n1, 1, 0);
	dlm_ast_612(&n1, 1, 0, 0xfe); /* -DLM_EUNLOCK */
	CHECK(!models_consumer_state(c, "dlm_lock",
				     "node=n1 ls_id=1 lkb_id=1"));
	CHECK_INT(s.n, 0);

	dlm_lock(&n1, 3, 4, 0); /* PW */
	dlm_ast_612(&n1, 3, 0, 0);
	dlm_lock(&n2, 4, 1, 0); /* CR */
	dlm_ast_612(&n2, 4, 0, 0);
	dlm_lock(&n1, 3, 5, 0x44); /* CONVERT|CONVDEADLK to EX */
	dlm_lock(&n2, 4, 3, 0x44); /* CONVERT|CONVDEADLK to PR */
	dlm_ast_612(&n2, 4, 0, 0); /* PR granted: n1's PW was demoted */
	CHECK_INT(s.n, 0);
	dlm_unlock(&n2, 4, 0);
	dlm_ast_612(&n2, 4, 0, 0xfe);
	dlm_ast_612(&n1, 3, 0x01, 0); /* EX granted, DEMOTED */
	CHECK_STR(models_consumer_state(c, "dlm_resource", key), "exclusive");
	dlm_unlock(&n1, 3, 0);
	dlm_ast_612(&n1, 3, 0, 0xfe);
	CHECK_INT(s.n, 0);

	/* a down-convert EX -> NL is relied on from its request: another
	 * node's PW may be granted before the convert's own ast */
	dlm_lock(&n1, 5, 5, 0);
	dlm_ast_612(&n1, 5, 0, 0);
	dlm_lock(&n2, 6, 4, 0);
	dlm_lock(&n1, 5, 0, 0x4);
	dlm_ast_612(&n2, 6, 0, 0);
	dlm_ast_612(&n1, 5, 0, 0);
	CHECK_INT(s.n, 0);
	/* and a real conflict is still caught: PR next to n2's PW */
	dlm_lock(&n3, 7, 3, 0);
	dlm_ast_612(&n3, 7, 0, 0);
	CHECK_INT(s.n, 1);
	dlm_unlock(&n1, 5, 0);
	dlm_ast_612(&n1, 5, 0, 0xfe);
	dlm_unlock(&n2, 6, 0);
	dlm_ast_612(&n2, 6, 0, 0xfe);
	dlm_unlock(&n3, 7, 0);
	dlm_ast_612(&n3, 7, 0, 0xfe);
	REQUIRE(!models_consumer_stats(c, "dlm_lock", &st));
	CHECK_INT(st.instances, 0);
	REQUIRE(!models_consumer_stats(c, "dlm_resource", &st));
	CHECK_INT(st.instances, 0);
out:
	if (c)
		c->ops->destroy(c);
	c = NULL;
}

int main(int argc, char **argv)
{
	setup_types();
	test_dlm_lock();
	test_loss();
	test_dlm_resource();
	test_dlm_612();
	test_flock();
	test_wip_per_cpu();
	test_kinds();
	test_memory_and_allocations();
	test_missing_field();
	return check_summary(argv[0]);
}
