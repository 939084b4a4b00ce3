/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gen.h - a deterministic generator of a realistic merged stream, the
 * oracle of the archive tests and the load of bench/archive.
 *
 * From a seed it produces what a collector's merge would release: events of
 * 3-4 nodes with the real layouts of filelock:flock_lock_inode (format of
 * kernel 6.18), dlm:dlm_lock_start/dlm_ast/dlm_unlock_start (res_name as a
 * dynamic byte array) and sched:sched_process_exec (a string), in lock
 * protocol order per node (grant .. release); ties, events released out of
 * TAI order, a node joining late with its own schema, a schema change,
 * clock status changes, verdicts, losses, node state changes and
 * watermarks.  Running it again with the same seed gives the same stream,
 * so a test compares what it reads with a second run.
 */
#ifndef NETRV_TESTS_ARCHIVE_GEN_H
#define NETRV_TESTS_ARCHIVE_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

enum gen_type {
	GT_FLOCK,
	GT_DLM_LOCK,
	GT_DLM_AST,
	GT_DLM_UNLOCK,
	GT_EXEC,
	GT_RAW, /* only in node 0's second schema */
	GT_MAX,
};

enum gen_kind {
	GK_EVENT,
	GK_VERDICT,
	GK_LOSS,
	GK_NODE_STATE,
	GK_WATERMARK,
};

#define GEN_NODES 4
#define GEN_MAX_FIELDS 12

struct gen_schema {
	Netrv__EventType types[GT_MAX];
	Netrv__EventType *tp[GT_MAX];
	Netrv__Field fields[GT_MAX][GEN_MAX_FIELDS];
	Netrv__Field *fp[GT_MAX][GEN_MAX_FIELDS];
};

struct gen_node {
	struct cnode cn;
	char name[16];
	struct gen_schema *schema;
	int flock_state; /* 0 free, 1 held */
	uint64_t flock_ino;
	int dlm_state; /* 0 idle, 1 requested, 2 granted, 3 unlocking */
	uint32_t lkb, ls;
	uint8_t res[64];
	size_t res_len;
	uint64_t seq;
	uint32_t index;
	uint32_t batch_left;
	int64_t offset; /* tai - trace */
	uint8_t gm[8];
	bool up;
};

struct gen {
	uint64_t rng;
	uint64_t t; /* merged time so far */
	uint64_t n; /* records so far */
	uint64_t events, holds, verdicts, losses, node_states;
	uint64_t last_wm;
	struct gen_node nodes[GEN_NODES];
	struct gen_schema schemas[GEN_NODES + 1];
	/* the current record */
	enum gen_kind kind;
	struct cevent ev;
	struct evpack_value vals[GEN_MAX_FIELDS];
	uint8_t res[64];
	char str[96];
	char vclass[32];
	char json[96];
	size_t res_len;
	uint64_t tai, to_tai, count;
	const struct cnode *node;
	enum cnode_state state;
};

static inline uint64_t gen_rand(struct gen *g)
{
	uint64_t x = g->rng; /* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline unsigned int gen_below(struct gen *g, unsigned int n)
{
	return (unsigned int)(gen_rand(g) % n);
}

static inline void gen_field(struct gen_schema *s, int t, int i,
			     const char *name, Netrv__FieldKind kind,
			     unsigned int size, bool sign, bool dyn)
{
	Netrv__Field *f = &s->fields[t][i];

	netrv__field__init(f);
	f->name = (char *)name;
	f->kind = kind;
	f->size = size;
	f->is_signed = sign;
	f->is_dynamic = dyn;
	f->elem_size = kind == NETRV__FIELD_KIND__FIELD_INT ? 0 : 1;
	f->type = (char *)(kind == NETRV__FIELD_KIND__FIELD_INT ? "int" :
								  "char[]");
	s->fp[t][i] = f;
	s->types[t].n_fields = (size_t)i + 1;
}

#define GI(t, i, n, sz, sg) \
	gen_field(s, t, i, n, NETRV__FIELD_KIND__FIELD_INT, sz, sg, false)
#define GB(t, i, n) \
	gen_field(s, t, i, n, NETRV__FIELD_KIND__FIELD_BYTES, 4, false, true)
#define GS(t, i, n) \
	gen_field(s, t, i, n, NETRV__FIELD_KIND__FIELD_STRING, 4, false, true)

static inline void gen_schema_init(struct gen_schema *s, bool with_raw)
{
	static const char *const sys[GT_MAX] = {
		"filelock", "dlm", "dlm", "dlm", "sched", "ftrace"
	};
	static const char *const name[GT_MAX] = {
		"flock_lock_inode", "dlm_lock_start",	  "dlm_ast",
		"dlm_unlock_start", "sched_process_exec", "raw_data"
	};
	int t;

	memset(s, 0, sizeof(*s));
	for (t = 0; t < GT_MAX; t++) {
		netrv__event_type__init(&s->types[t]);
		s->types[t].id = (uint32_t)t;
		s->types[t].system = (char *)sys[t];
		s->types[t].name = (char *)name[t];
		s->types[t].fields = s->fp[t];
		s->tp[t] = &s->types[t];
	}
	GI(GT_FLOCK, 0, "common_pid", 4, true);
	GI(GT_FLOCK, 1, "fl", 8, false);
	GI(GT_FLOCK, 2, "i_ino", 8, false);
	GI(GT_FLOCK, 3, "s_dev", 4, false);
	GI(GT_FLOCK, 4, "blocker", 8, false);
	GI(GT_FLOCK, 5, "owner", 8, false);
	GI(GT_FLOCK, 6, "pid", 4, false);
	GI(GT_FLOCK, 7, "flags", 4, false);
	GI(GT_FLOCK, 8, "type", 1, false);
	GI(GT_FLOCK, 9, "fl_start", 8, true);
	GI(GT_FLOCK, 10, "fl_end", 8, true);
	GI(GT_FLOCK, 11, "ret", 4, true);
	GI(GT_DLM_LOCK, 0, "common_pid", 4, true);
	GI(GT_DLM_LOCK, 1, "ls_id", 4, false);
	GI(GT_DLM_LOCK, 2, "lkb_id", 4, false);
	GI(GT_DLM_LOCK, 3, "mode", 4, true);
	GI(GT_DLM_LOCK, 4, "flags", 4, false);
	GB(GT_DLM_LOCK, 5, "res_name");
	GI(GT_DLM_AST, 0, "common_pid", 4, true);
	GI(GT_DLM_AST, 1, "ls_id", 4, false);
	GI(GT_DLM_AST, 2, "lkb_id", 4, false);
	GI(GT_DLM_AST, 3, "sb_flags", 1, false);
	GI(GT_DLM_AST, 4, "sb_status", 4, true);
	GB(GT_DLM_AST, 5, "res_name");
	GI(GT_DLM_UNLOCK, 0, "common_pid", 4, true);
	GI(GT_DLM_UNLOCK, 1, "ls_id", 4, false);
	GI(GT_DLM_UNLOCK, 2, "lkb_id", 4, false);
	GI(GT_DLM_UNLOCK, 3, "flags", 4, false);
	GB(GT_DLM_UNLOCK, 4, "res_name");
	GI(GT_EXEC, 0, "common_pid", 4, true);
	GS(GT_EXEC, 1, "filename");
	GI(GT_EXEC, 2, "pid", 4, true);
	GI(GT_EXEC, 3, "old_pid", 2, true); /* 2: a size the kernel uses too */
	GI(GT_RAW, 0, "common_pid", 4, true);
	GI(GT_RAW, 1, "id", 4, false);
	GB(GT_RAW, 2, "buf");
	(void)with_raw;
}

static inline void gen_init(struct gen *g, uint64_t seed)
{
	int i;

	memset(g, 0, sizeof(*g));
	g->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	g->t = 1800000000000000000ull + (seed % 1000) * 1000000000ull;
	for (i = 0; i <= GEN_NODES; i++)
		gen_schema_init(&g->schemas[i], i == GEN_NODES);
	for (i = 0; i < GEN_NODES; i++) {
		struct gen_node *n = &g->nodes[i];

		snprintf(n->name, sizeof(n->name), "node-%c", 'a' + i);
		n->cn.index = (uint32_t)i;
		n->cn.name = n->name;
		netrv__clock_status__init(&n->cn.clock);
		n->cn.clock.source = NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP;
		n->cn.clock.synced = true;
		n->cn.clock.epsilon_ns = 1000 + (uint64_t)i * 500;
		n->cn.clock.port_state = 9;
		memset(n->gm, 0x10 + i, sizeof(n->gm));
		n->cn.clock.gm_identity.data = n->gm;
		n->cn.clock.gm_identity.len = sizeof(n->gm);
		n->offset = 1700000000000000000ll + i * 12345;
		n->cn.clock.tai_offset_ns = n->offset;
		n->schema = &g->schemas[i];
		n->up = i < 3; /* node-d joins later */
		n->lkb = 0x10000u * (uint32_t)(i + 1);
	}
}

static inline void gen_fill_res(struct gen *g, int node)
{
	g->res_len = (size_t)snprintf((char *)g->res, sizeof(g->res), "res-%u",
				      gen_below(g, 8));
	if (gen_below(g, 4) == 0) { /* resource names are any bytes */
		g->res[g->res_len++] = 0;
		g->res[g->res_len++] = 0xff;
		g->res[g->res_len++] = (uint8_t)node;
	}
}

/* One event of node @k, following its lock protocols. */
static inline void gen_event(struct gen *g, int k)
{
	struct gen_node *n = &g->nodes[k];
	struct evpack_value *v = g->vals;
	int pick = (int)gen_below(g, 10), type;

	memset(v, 0, sizeof(g->vals));
	v[0].s = 1000 + k * 100 + (int)gen_below(g, 50);
	if (k == 0 && n->schema != &g->schemas[0] && pick == 9) {
		type = GT_RAW;
		v[1].u = gen_below(g, 1u << 31);
		g->res_len = gen_below(g, 40);
		for (size_t i = 0; i < g->res_len; i++)
			g->res[i] = (uint8_t)gen_rand(g);
		v[2].bytes = g->res;
		v[2].len = g->res_len;
	} else if (pick < 4) {
		type = GT_FLOCK;
		v[1].u = 0xffff888000000000ull + gen_rand(g) % 0x100000;
		if (n->flock_state == 0)
			n->flock_ino = 4000 + gen_below(g, 4);
		v[2].u = n->flock_ino;
		v[3].u = 0x800001;
		v[5].u = 0xffff888100000000ull + (uint64_t)k;
		v[6].u = (uint64_t)v[0].s;
		v[7].u = 2 + 128 * gen_below(g, 2);
		if (n->flock_state == 0) {
			v[8].u = gen_below(g, 2); /* F_RDLCK or F_WRLCK */
			n->flock_state = 1;
			g->holds++;
		} else {
			v[8].u = 2; /* F_UNLCK */
			n->flock_state = 0;
		}
		v[9].s = 0;
		v[10].s = INT64_MAX;
		v[11].s = 0;
	} else if (pick < 8) {
		if (n->dlm_state == 0)
			n->ls = 0x5eed0000u + (uint32_t)gen_below(g, 2);
		v[1].u = n->ls;
		switch (n->dlm_state) {
		case 0:
			type = GT_DLM_LOCK;
			n->lkb++;
			gen_fill_res(g, k);
			memcpy(n->res, g->res, g->res_len);
			n->res_len = g->res_len;
			v[3].s = (int64_t)gen_below(g, 6);
			v[4].u = 0x4;
			v[5].bytes = g->res;
			v[5].len = g->res_len;
			break;
		case 1:
		case 3:
			type = GT_DLM_AST;
			memcpy(g->res, n->res, n->res_len);
			g->res_len = n->res_len;
			v[3].u = gen_below(g, 4);
			v[4].s = n->dlm_state == 1 ? 0 : 0x10002;
			if (n->dlm_state == 1)
				g->holds++;
			v[5].bytes = g->res;
			v[5].len = g->res_len;
			break;
		default:
			type = GT_DLM_UNLOCK;
			memcpy(g->res, n->res, n->res_len);
			g->res_len = n->res_len;
			v[3].u = 0;
			v[4].bytes = g->res;
			v[4].len = g->res_len;
			break;
		}
		v[2].u = n->lkb;
		n->dlm_state = (n->dlm_state + 1) % 4;
	} else {
		type = GT_EXEC;
		snprintf(g->str, sizeof(g->str), "/usr/bin/lockd-%u \"x\\y\"",
			 gen_below(g, 1000));
		v[1].bytes = (const uint8_t *)g->str;
		v[1].len = strlen(g->str);
		v[2].s = -(int64_t)gen_below(g, 5);
		v[3].s = -1;
	}
	if (!n->batch_left) {
		n->seq++;
		n->index = 0;
		n->batch_left = 1 + gen_below(g, 40);
	}
	n->batch_left--;
	if (gen_below(g, 200) == 0) { /* the clock status moves */
		n->cn.clock.epsilon_ns = 500 + gen_below(g, 20000);
		n->cn.clock.master_offset_ns =
			(int64_t)gen_below(g, 4000) - 2000;
		n->cn.clock.sample_age_ns = gen_below(g, 1000000);
		if (gen_below(g, 2))
			n->offset += 1000;
		n->cn.clock.tai_offset_ns = n->offset;
	}
	g->ev.node = &n->cn;
	g->ev.seq = n->seq;
	g->ev.index = n->index++;
	g->ev.cpu = gen_below(g, 4);
	g->ev.tai_ns = g->t;
	if (gen_below(g, 40) == 0) /* released after later events */
		g->ev.tai_ns -= 1 + gen_below(g, 3000);
	g->ev.trace_ns = g->ev.tai_ns - (uint64_t)n->offset;
	g->ev.eps_ns = n->cn.clock.epsilon_ns + gen_below(g, 3);
	g->ev.type = n->schema->tp[type];
	g->ev.vals = g->vals;
	g->events++;
}

/* The next record; returns its kind. */
static inline enum gen_kind gen_next(struct gen *g)
{
	unsigned int r = gen_below(g, 1000);
	int k;

	g->n++;
	if (gen_below(g, 10))
		g->t += 1 + gen_below(g, 5000);
	if (g->n == 300 || (g->n > 300 && r == 999 && !g->nodes[3].up)) {
		g->nodes[3].up = true;
		g->kind = GK_NODE_STATE;
		g->node = &g->nodes[3].cn;
		g->state = CNODE_UP;
		g->tai = g->t + 50000; /* the collector's clock runs ahead */
		g->node_states++;
		return g->kind;
	}
	if (g->n == 500) /* node-a reconnects with a new schema */
		g->nodes[0].schema = &g->schemas[GEN_NODES];
	if (r < 10) {
		g->kind = GK_VERDICT;
		g->tai = g->t - gen_below(g, 100000);
		snprintf(g->vclass, sizeof(g->vclass), "lock.%s",
			 r & 1 ? "possible" : "definite");
		gen_fill_res(g, (int)r);
		snprintf(g->json, sizeof(g->json),
			 "{\"verdict\":%llu,\"note\":\"<b>\\\"q\\\"</b>\"}",
			 (unsigned long long)g->verdicts);
		g->verdicts++;
		return g->kind;
	}
	if (r < 13) {
		g->kind = GK_LOSS;
		g->node = &g->nodes[gen_below(g, 3)].cn;
		g->tai = g->t - 100000;
		g->to_tai = g->t - 1000;
		g->count = gen_below(g, 100);
		g->losses++;
		return g->kind;
	}
	if (r < 40 && g->t - 2000 > g->last_wm) {
		g->kind = GK_WATERMARK;
		g->tai = g->last_wm = g->t - 2000;
		return g->kind;
	}
	do
		k = (int)gen_below(g, GEN_NODES);
	while (!g->nodes[k].up);
	g->kind = GK_EVENT;
	gen_event(g, k);
	return g->kind;
}

#endif
