// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * consumer.c - run DA models with their bindings over the merged stream.
 *
 * Per model (struct mon): the model table, the binding, the instance hash
 * table and counters.  Per event type seen (struct mtype, found by the
 * Netrv__EventType pointer in a small open-addressing table): for each
 * model the rules that name this system:event, with every field resolved
 * to its index.  Resolution happens once per type pointer; a rule whose
 * fields the type lacks is disabled for that type with one warning that
 * names the binding's FILE:LINE.
 *
 * An event then goes: rule predicates on field values -> instance key ->
 * hash lookup (create on first use) -> holder predicates -> handler
 * (event / start / start_run) -> holder action -> forget.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "models"
#include "log.h"

#include "binding.h"
#include "consumer.h"
#include "da.h"
#include "itab.h"

struct mrule {
	const struct mb_rule *r;
	int pred_idx[MB_MAX_PREDS]; /* field index, -1 for runtime values */
	bool pred_signed[MB_MAX_PREDS]; /* the field is signed */
	int act_idx; /* hold/request field, -1 if constant or none */
	bool holder_preds; /* some predicate needs the instance */
	enum mb_handler handler; /* MB_AUTO resolved from the model */
};

struct mtmon {
	struct mon *mon;
	int key_idx[DA_KEY_MAX / 4]; /* per key value: field index or -1 */
	int holder_idx[2];
	struct mrule *rules;
	unsigned int n_rules;
};

struct mtype {
	const Netrv__EventType *type;
	struct mtmon *mons;
	unsigned int n_mons;
};

struct mon {
	struct da_model *model;
	struct mb_binding *bind;
	struct mb_value *key; /* effective key: kind defaults or binding key */
	unsigned int n_key;
	bool key_has_node;
	signed char *key_bytes; /* per key value: 1 bytes, 0 int, -1 unseen */
	struct da_itab itab;
	struct models_stats st;
};

struct models_consumer {
	struct consumer c;
	models_violation_fn fn;
	void *arg;
	struct mon **mons;
	unsigned int n_mons;
	struct mtype **types; /* open addressing by pointer */
	size_t types_mask, n_types;
	char **node_names; /* by node index, copied when first seen */
	bool *node_lost; /* by node index: instances may be unknown */
	uint32_t n_nodes;
	bool any_lost;
	/* the collector restarted: what every node did before is unknown */
	bool restarted;
};

static struct models_consumer *to_mc(struct consumer *c)
{
	return (struct models_consumer *)((char *)c -
					  offsetof(struct models_consumer, c));
}

/* ---- values ---- */

static bool field_signed(const Netrv__EventType *t, int idx)
{
	return t->fields[idx]->is_signed;
}

static bool field_is_int(const Netrv__EventType *t, int idx)
{
	return t->fields[idx]->kind == NETRV__FIELD_KIND__FIELD_INT;
}

static bool compare(int64_t v, bool big, enum mb_op op, int64_t k)
{
	/* @big: an unsigned value beyond INT64_MAX, larger than any k */
	switch (op) {
	case MB_EQ:
		return !big && v == k;
	case MB_NE:
		return big || v != k;
	case MB_LT:
		return !big && v < k;
	case MB_LE:
		return !big && v <= k;
	case MB_GT:
		return big || v > k;
	case MB_GE:
		return big || v >= k;
	case MB_ANY:
		return ((uint64_t)v & (uint64_t)k) != 0;
	case MB_NONE:
		return ((uint64_t)v & (uint64_t)k) == 0;
	}
	return false;
}

static void field_value(const struct cevent *ev, int idx, int64_t *v, bool *big)
{
	const struct evpack_value *x = &ev->vals[idx];

	if (field_signed(ev->type, idx)) {
		*v = x->s;
		*big = false;
	} else {
		*v = (int64_t)x->u;
		*big = x->u > (uint64_t)INT64_MAX;
	}
}

/* ---- holders ---- */

struct hview {
	struct da_holder *self; /* NULL if this holder is not in the table */
	int64_t others, others_excl;
	int grant_class; /* class this event would hold, -1 if none */
	bool compatible;
};

static int holder_id(const struct cevent *ev, const struct mtmon *tm,
		     uint64_t id[2])
{
	const struct mb_binding *b = tm->mon->bind;

	id[0] = id[1] = 0;
	for (unsigned int i = 0; i < b->n_holder; i++) {
		switch (b->holder[i].src) {
		case MB_SRC_NODE:
			id[i] = ev->node->index;
			break;
		case MB_SRC_CPU:
			id[i] = ev->cpu;
			break;
		default:
			id[i] = ev->vals[tm->holder_idx[i]].u;
			break;
		}
	}
	return 0;
}

/* Class this rule's event asks for or holds: -1 none, -2 out of range. */
static int event_class(const struct cevent *ev, const struct mrule *mr,
		       const struct da_holder *self, unsigned int n_classes)
{
	const struct mb_rule *r = mr->r;
	int64_t v;
	bool big = false;

	if (r->action == MB_ACT_HOLD || r->action == MB_ACT_REQUEST) {
		if (r->act_const)
			v = r->act_k;
		else
			field_value(ev, mr->act_idx, &v, &big);
		return big || v < 0 || v >= n_classes ? -2 : (int)v;
	}
	return self ? self->pending : -1;
}

static void holder_view(const struct mb_binding *b, struct da_inst *in,
			const uint64_t id[2], int cls, struct hview *hv)
{
	hv->self = da_inst_holder(in, id, false);
	hv->others = hv->others_excl = 0;
	hv->grant_class = cls;
	hv->compatible = true;
	for (unsigned int k = 0; k < in->n_holders; k++) {
		const struct da_holder *h = &in->holders[k];

		if (h == hv->self || h->held < 0)
			continue;
		hv->others++;
		if (!(b->compat[h->held] & (1u << h->held)))
			hv->others_excl++;
		if (cls >= 0 && !(b->compat[cls] & (1u << h->held)))
			hv->compatible = false;
	}
}

static int64_t runtime_value(const struct cevent *ev, enum mb_src src,
			     const struct hview *hv)
{
	switch (src) {
	case MB_SRC_NODE:
		return ev->node->index;
	case MB_SRC_CPU:
		return ev->cpu;
	case MB_SRC_SELF:
		return hv->self ? hv->self->held : -1;
	case MB_SRC_PENDING:
		return hv->self ? hv->self->pending : -1;
	case MB_SRC_OTHERS:
		return hv->others;
	case MB_SRC_OTHERS_EXCL:
		return hv->others_excl;
	case MB_SRC_COMPATIBLE:
		return hv->compatible;
	case MB_SRC_FIELD:
		break;
	}
	return 0;
}

/* Predicates; holder ones only when @hv is given, field ones otherwise. */
static bool preds_hold(const struct cevent *ev, const struct mrule *mr,
		       const struct hview *hv)
{
	const struct mb_rule *r = mr->r;

	for (unsigned int i = 0; i < r->n_preds; i++) {
		const struct mb_pred *p = &r->preds[i];
		int64_t v;
		bool big = false;

		if (mr->pred_idx[i] >= 0) {
			const struct evpack_value *x =
				&ev->vals[mr->pred_idx[i]];

			if (hv)
				continue;
			if (mr->pred_signed[i]) {
				v = x->s;
			} else {
				v = (int64_t)x->u;
				big = x->u > (uint64_t)INT64_MAX;
			}
		} else {
			bool needs_inst = p->v.src >= MB_SRC_SELF;

			if (needs_inst != !!hv)
				continue;
			v = runtime_value(ev, p->v.src, hv);
		}
		if (!compare(v, big, p->op, p->k))
			return false;
	}
	return true;
}

/* ---- keys ---- */

static void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* Build @tm's instance key from @ev into @key; -1 if too long. */
static int build_key(const struct cevent *ev, const struct mtmon *tm,
		     uint8_t *key, size_t *len)
{
	const struct mon *mon = tm->mon;
	size_t n = 0;

	for (unsigned int i = 0; i < mon->n_key; i++) {
		switch (mon->key[i].src) {
		case MB_SRC_NODE:
			put_u32(key + n, ev->node->index);
			n += 4;
			break;
		case MB_SRC_CPU:
			put_u32(key + n, ev->cpu);
			n += 4;
			break;
		default: {
			int idx = tm->key_idx[i];
			const struct evpack_value *x = &ev->vals[idx];

			if (!mon->key_bytes[i]) {
				if (n + 8 > DA_KEY_MAX)
					return -1;
				memcpy(key + n, &x->u, 8);
				n += 8;
			} else {
				uint16_t l = x->len;

				if (n + 2 + x->len > DA_KEY_MAX)
					return -1;
				memcpy(key + n, &l, 2);
				memcpy(key + n + 2, x->bytes, x->len);
				n += 2 + x->len;
			}
			break;
		}
		}
	}
	*len = n;
	return 0;
}

static size_t key_text(const struct models_consumer *mc, const struct mon *mon,
		       const struct da_inst *in, char *out, size_t sz)
{
	const uint8_t *p = in->key, *end = in->key + in->key_len;
	size_t n = 0;

#define EMIT(...)                                                             \
	do {                                                                  \
		int _k = snprintf(out + n, n < sz ? sz - n : 0, __VA_ARGS__); \
		if (_k > 0)                                                   \
			n += _k;                                              \
	} while (0)
	out[0] = 0;
	if (!mon->n_key)
		EMIT("global");
	for (unsigned int i = 0; i < mon->n_key && p < end; i++) {
		const struct mb_value *v = &mon->key[i];
		const char *sep = i ? " " : "";

		if (v->src == MB_SRC_NODE || v->src == MB_SRC_CPU) {
			uint32_t x;

			memcpy(&x, p, 4);
			p += 4;
			if (v->src == MB_SRC_NODE && x < mc->n_nodes &&
			    mc->node_names[x])
				EMIT("%snode=%s", sep, mc->node_names[x]);
			else
				EMIT("%s%s=%u", sep,
				     v->src == MB_SRC_NODE ? "node" : "cpu", x);
		} else if (mon->key_bytes[i] == 1) {
			uint16_t l;

			memcpy(&l, p, 2);
			p += 2;
			EMIT("%s%s=\"", sep, v->field);
			for (uint16_t k = 0; k < l && p < end; k++, p++) {
				if (*p >= 0x20 && *p < 0x7f && *p != '"' &&
				    *p != '\\')
					EMIT("%c", *p);
				else
					EMIT("\\x%02x", *p);
			}
			EMIT("\"");
		} else {
			int64_t x;

			memcpy(&x, p, 8);
			p += 8;
			EMIT("%s%s=%lld", sep, v->field, (long long)x);
		}
	}
#undef EMIT
	return n;
}

/* ---- resolving an event type ---- */

static int resolve_value(const Netrv__EventType *t, const struct mb_value *v,
			 bool want_int, const struct mb_binding *b,
			 unsigned int line, bool *warned)
{
	int idx;

	if (v->src != MB_SRC_FIELD)
		return -1;
	idx = evpack_field_index(t, v->field);
	if (idx < 0) {
		if (!*warned)
			pr_warning("%s:%u: event %s:%s has no field '%s'",
				   b->file, line, t->system, t->name, v->field);
		*warned = true;
		return -2;
	}
	if (want_int && !field_is_int(t, idx)) {
		if (!*warned)
			pr_warning(
				"%s:%u: field '%s' of %s:%s is not an integer",
				b->file, line, v->field, t->system, t->name);
		*warned = true;
		return -2;
	}
	return idx;
}

/* Resolve key and holder fields of @mon for @t; -1 if @t cannot be keyed. */
static int resolve_keys(struct mon *mon, const Netrv__EventType *t,
			struct mtmon *tm, unsigned int line)
{
	const struct mb_binding *b = mon->bind;
	bool warned = false;

	for (unsigned int i = 0; i < mon->n_key; i++) {
		int idx =
			resolve_value(t, &mon->key[i], false, b, line, &warned);
		signed char bytes;

		if (idx == -2)
			return -1;
		tm->key_idx[i] = idx;
		if (idx < 0)
			continue;
		bytes = !field_is_int(t, idx);
		if (mon->key_bytes[i] >= 0 && mon->key_bytes[i] != bytes) {
			pr_warning(
				"%s:%u: key field '%s' of %s:%s is %s here but %s in another event",
				b->file, line, mon->key[i].field, t->system,
				t->name, bytes ? "bytes" : "an integer",
				bytes ? "an integer" : "bytes");
			return -1;
		}
		mon->key_bytes[i] = bytes;
	}
	for (unsigned int i = 0; i < b->n_holder; i++) {
		int idx =
			resolve_value(t, &b->holder[i], true, b, line, &warned);

		if (idx == -2)
			return -1;
		tm->holder_idx[i] = idx;
	}
	return 0;
}

static int resolve_rule(const struct mon *mon, const Netrv__EventType *t,
			struct mrule *mr)
{
	const struct mb_rule *r = mr->r;
	bool warned = false;

	for (unsigned int i = 0; i < r->n_preds; i++) {
		int idx = resolve_value(t, &r->preds[i].v, true, mon->bind,
					r->line, &warned);

		if (idx == -2)
			return -1;
		mr->pred_idx[i] = idx;
		mr->pred_signed[i] = idx >= 0 && field_signed(t, idx);
		if (r->preds[i].v.src >= MB_SRC_SELF)
			mr->holder_preds = true;
	}
	mr->handler = r->handler;
	if (r->model_event >= 0 && r->handler == MB_AUTO) {
		const struct da_model *m = mon->model;

		mr->handler = m->start_events[r->model_event] ? MB_START :
			      m->start_run_events[r->model_event] ?
								MB_START_RUN :
								MB_EVENT;
	}
	mr->act_idx = -1;
	if ((r->action == MB_ACT_HOLD || r->action == MB_ACT_REQUEST) &&
	    !r->act_const) {
		int idx = resolve_value(t, &r->act_v, true, mon->bind, r->line,
					&warned);

		if (idx == -2)
			return -1;
		mr->act_idx = idx;
	}
	return 0;
}

static void mtype_free(struct mtype *mt)
{
	if (!mt)
		return;
	for (unsigned int i = 0; i < mt->n_mons; i++)
		free(mt->mons[i].rules);
	free(mt->mons);
	free(mt);
}

static struct mtype *mtype_build(struct models_consumer *mc,
				 const Netrv__EventType *t)
{
	struct mtype *mt = calloc(1, sizeof(*mt));

	if (!mt)
		return NULL;
	mt->type = t;
	mt->mons = calloc(mc->n_mons ? mc->n_mons : 1, sizeof(*mt->mons));
	if (!mt->mons)
		goto nomem;
	for (unsigned int m = 0; m < mc->n_mons; m++) {
		struct mon *mon = mc->mons[m];
		const struct mb_binding *b = mon->bind;
		struct mtmon *tm = &mt->mons[mt->n_mons];
		bool keyed = false, key_ok = false;

		for (unsigned int i = 0; i < b->n_rules; i++) {
			const struct mb_rule *r = &b->rules[i];
			struct mrule *mr;

			if (strcmp(r->system, t->system) ||
			    strcmp(r->event, t->name))
				continue;
			if (!keyed) {
				keyed = true;
				key_ok = !resolve_keys(mon, t, tm, r->line);
			}
			if (!key_ok) {
				pr_warning(
					"%s: no rule of model %s is used for %s:%s: its key cannot be built",
					b->file, mon->model->name, t->system,
					t->name);
				break;
			}
			mr = realloc(tm->rules,
				     (tm->n_rules + 1) * sizeof(*mr));
			if (!mr)
				goto nomem;
			tm->rules = mr;
			mr = &tm->rules[tm->n_rules];
			memset(mr, 0, sizeof(*mr));
			mr->r = r;
			if (resolve_rule(mon, t, mr)) {
				/* first match wins: without this rule the
				 * later ones would take its events */
				pr_warning(
					"%s: no rule of model %s is used for %s:%s",
					b->file, mon->model->name, t->system,
					t->name);
				tm->n_rules = 0;
				break;
			}
			tm->n_rules++;
		}
		if (tm->n_rules) {
			tm->mon = mon;
			mt->n_mons++;
		} else {
			free(tm->rules);
			tm->rules = NULL;
		}
	}
	return mt;
nomem:
	mtype_free(mt);
	return NULL;
}

static struct mtype *mtype_get(struct models_consumer *mc,
			       const Netrv__EventType *t)
{
	size_t h = ((uintptr_t)t >> 4) * 0x9e3779b97f4a7c15ull;
	size_t i;

	for (i = h & mc->types_mask; mc->types[i]; i = (i + 1) & mc->types_mask)
		if (mc->types[i]->type == t)
			return mc->types[i];
	/* a new type: at most half full, so the probe above ends */
	if (2 * (mc->n_types + 1) > mc->types_mask + 1) {
		size_t nm = 2 * (mc->types_mask + 1) - 1;
		struct mtype **nt = calloc(nm + 1, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t k = 0; k <= mc->types_mask; k++) {
			struct mtype *x = mc->types[k];
			size_t j;

			if (!x)
				continue;
			j = (((uintptr_t)x->type >> 4) *
			     0x9e3779b97f4a7c15ull) &
			    nm;
			while (nt[j])
				j = (j + 1) & nm;
			nt[j] = x;
		}
		free(mc->types);
		mc->types = nt;
		mc->types_mask = nm;
		for (i = h & nm; mc->types[i]; i = (i + 1) & nm)
			;
	}
	mc->types[i] = mtype_build(mc, t);
	if (!mc->types[i])
		return NULL;
	mc->n_types++;
	return mc->types[i];
}

static void forget_types(struct models_consumer *mc)
{
	for (size_t k = 0; mc->types && k <= mc->types_mask; k++) {
		mtype_free(mc->types[k]);
		mc->types[k] = NULL;
	}
	mc->n_types = 0;
}

/* ---- nodes ---- */

static int note_node(struct models_consumer *mc, const struct cnode *node)
{
	if (node->index >= mc->n_nodes) {
		uint32_t n = node->index + 8;
		char **names = realloc(mc->node_names, n * sizeof(*names));
		bool *lost;

		if (!names)
			return -1;
		mc->node_names = names;
		lost = realloc(mc->node_lost, n * sizeof(*lost));
		if (!lost)
			return -1;
		mc->node_lost = lost;
		for (uint32_t i = mc->n_nodes; i < n; i++) {
			names[i] = NULL;
			lost[i] = mc->restarted;
		}
		mc->n_nodes = n;
	}
	if (!mc->node_names[node->index] && node->name)
		mc->node_names[node->index] = strdup(node->name);
	return 0;
}

/* Would a new instance of @mon keyed by node @node start monitoring? */
static bool starts_monitoring(const struct models_consumer *mc,
			      const struct mon *mon, uint32_t node)
{
	if (!mon->bind->new_monitoring)
		return false;
	if (!mon->key_has_node)
		return !mc->any_lost;
	return !(node < mc->n_nodes && mc->node_lost[node]);
}

/* ---- events ---- */

struct react_ctx {
	struct models_consumer *mc;
	struct mon *mon;
	struct da_inst *in;
	const struct cevent *ev;
};

static void violation(struct models_consumer *mc, struct mon *mon,
		      const struct da_inst *in, const struct cevent *ev,
		      unsigned int state, const char *event)
{
	struct models_violation v;
	char key[DA_KEY_MAX * 4 + 64];

	mon->st.violations++;
	if (!mc->fn)
		return;
	key_text(mc, mon, in, key, sizeof(key));
	v.model = mon->model->name;
	v.key = key;
	v.state = mon->model->state_names[state];
	v.event = event;
	v.ev = ev;
	mc->fn(mc->arg, &v);
}

static void react(void *arg, unsigned int state, unsigned int event)
{
	struct react_ctx *rc = arg;

	violation(rc->mc, rc->mon, rc->in, rc->ev, state,
		  rc->mon->model->event_names[event]);
}

static void apply_action(const struct mrule *mr, const struct cevent *ev,
			 struct da_inst *in, const uint64_t id[2],
			 struct hview *hv)
{
	struct da_holder *h = hv->self;
	int cls;

	switch (mr->r->action) {
	case MB_ACT_NONE:
		return;
	case MB_ACT_RELEASE:
		if (h)
			da_inst_drop_holder(in, h);
		return;
	case MB_ACT_GRANT:
		if (h && h->pending >= 0) {
			h->held = h->pending;
			h->pending = -1;
		}
		return;
	case MB_ACT_HOLD:
	case MB_ACT_REQUEST:
		cls = hv->grant_class;
		if (cls < 0)
			return;
		if (!h)
			h = da_inst_holder(in, id, true);
		if (!h)
			return;
		if (mr->r->action == MB_ACT_HOLD)
			h->held = cls;
		else
			h->pending = cls;
		return;
	}
}

static void run_rule(struct models_consumer *mc, struct mtmon *tm,
		     const struct mrule *mr, const struct cevent *ev,
		     struct da_inst *in, struct hview *hv, const uint64_t id[2])
{
	struct mon *mon = tm->mon;
	const struct da_model *m = mon->model;
	const struct mb_rule *r = mr->r;
	struct react_ctx rc = { mc, mon, in, ev };
	enum da_result res = DA_IGNORED;

	if (r->model_event == MB_VIOLATION) {
		/* the RFC's event_max: no edge from any state */
		if (!in->mon.monitoring) {
			mon->st.ignored++;
		} else {
			mon->st.steps++;
			violation(mc, mon, in, ev, in->mon.state, r->violation);
			da_mon_reset(m, &in->mon);
		}
	} else if (r->model_event >= 0) {
		switch (mr->handler) {
		case MB_START:
			res = da_handle_start_event(m, &in->mon, r->model_event,
						    react, &rc);
			break;
		case MB_START_RUN:
			if (!in->mon.monitoring)
				mon->st.started++;
			res = da_handle_start_run_event(
				m, &in->mon, r->model_event, react, &rc);
			break;
		default:
			res = da_handle_event(m, &in->mon, r->model_event,
					      react, &rc);
			break;
		}
		if (res == DA_STARTED)
			mon->st.started++;
		else if (res == DA_IGNORED)
			mon->st.ignored++;
		else
			mon->st.steps++;
	}
	if (mon->bind->n_holder)
		apply_action(mr, ev, in, id, hv);
}

/*
 * Free @in if it carries nothing a new instance would not.  Instances of
 * the bounded kinds (global, node, cpu, task) that wait for a start event
 * are kept, so that waiting costs no allocation per event.
 */
static void maybe_forget(struct models_consumer *mc, struct mon *mon,
			 struct da_inst *in)
{
	if (in->n_holders)
		return;
	if (in->mon.monitoring ?
		    mon->bind->forget[in->mon.state] :
		    mon->bind->kind == MB_OBJECT &&
			    !starts_monitoring(mc, mon, in->node)) {
		mon->st.freed++;
		da_itab_remove(&mon->itab, in);
	}
}

static void event_for_model(struct models_consumer *mc, struct mtmon *tm,
			    const struct cevent *ev)
{
	struct mon *mon = tm->mon;
	struct da_inst *in = NULL;
	uint8_t key[DA_KEY_MAX];
	uint64_t id[2] = { 0, 0 };
	struct hview hv = { 0 };
	size_t len = 0;
	uint32_t hash = 0;

	for (unsigned int i = 0; i < tm->n_rules; i++) {
		const struct mrule *mr = &tm->rules[i];

		if (!preds_hold(ev, mr, NULL))
			continue;
		if (!in) {
			uint32_t node = mon->key_has_node ? ev->node->index :
							    DA_NO_NODE;

			if (build_key(ev, tm, key, &len)) {
				mon->st.skipped++;
				return;
			}
			hash = da_key_hash(key, len);
			in = da_itab_lookup(&mon->itab, key, len, hash);
			if (!in) {
				in = da_itab_insert(&mon->itab, key, len, hash,
						    node);
				if (!in) {
					mon->st.skipped++;
					return;
				}
				mon->st.created++;
				if (starts_monitoring(mc, mon, node))
					da_mon_start(mon->model, &in->mon);
			}
			if (mon->bind->n_holder)
				holder_id(ev, tm, id);
		}
		if (mon->bind->n_holder) {
			int cls;

			hv.self = da_inst_holder(in, id, false);
			cls = event_class(ev, mr, hv.self,
					  mon->bind->n_classes);
			if (cls == -2) {
				mon->st.skipped++;
				break;
			}
			holder_view(mon->bind, in, id, cls, &hv);
			if (mr->holder_preds && !preds_hold(ev, mr, &hv))
				continue;
		}
		mon->st.events++;
		run_rule(mc, tm, mr, ev, in, &hv, id);
		break;
	}
	if (in)
		maybe_forget(mc, mon, in);
}

static void mc_event(struct consumer *c, const struct cevent *ev)
{
	struct models_consumer *mc = to_mc(c);
	struct mtype *mt;

	if (!ev->type)
		return;
	if ((ev->node->index >= mc->n_nodes ||
	     !mc->node_names[ev->node->index]) &&
	    note_node(mc, ev->node))
		return;
	mt = mtype_get(mc, ev->type);
	if (!mt)
		return;
	for (unsigned int m = 0; m < mt->n_mons; m++)
		event_for_model(mc, &mt->mons[m], ev);
}

/* ---- loss ---- */

struct loss_ctx {
	struct models_consumer *mc;
	struct mon *mon;
	uint32_t node;
};

static void loss_inst(struct da_itab *t, struct da_inst *in, void *arg)
{
	struct loss_ctx *lc = arg;
	const struct mb_binding *b = lc->mon->bind;

	if (in->node != DA_NO_NODE && in->node != lc->node)
		return;
	da_mon_reset(lc->mon->model, &in->mon);
	/* holders of that node: their releases may be among the lost */
	for (unsigned int k = 0; k < in->n_holders;) {
		bool drop = false;

		for (unsigned int i = 0; i < b->n_holder; i++)
			if (b->holder[i].src == MB_SRC_NODE &&
			    in->holders[k].id[i] == lc->node)
				drop = true;
		if (drop)
			da_inst_drop_holder(in, &in->holders[k]);
		else
			k++;
	}
	maybe_forget(lc->mc, lc->mon, in);
}

static void mc_loss(struct consumer *c, const struct cnode *node,
		    uint64_t from_tai, uint64_t to_tai, uint64_t count)
{
	struct models_consumer *mc = to_mc(c);

	if (note_node(mc, node))
		return;
	mc->node_lost[node->index] = true;
	mc->any_lost = true;
	pr_info("node %s lost %llu events: instances it may have touched are unknown until they return to their initial state",
		node->name ? node->name : "?", (unsigned long long)count);
	for (unsigned int m = 0; m < mc->n_mons; m++) {
		struct loss_ctx lc = { mc, mc->mons[m], node->index };

		mc->mons[m]->st.losses++;
		da_itab_for_each(&mc->mons[m]->itab, loss_inst, &lc);
	}
}

static void mon_free(struct mon *mon)
{
	if (!mon)
		return;
	da_itab_release(&mon->itab);
	da_model_free(mon->model);
	mb_binding_free(mon->bind);
	for (unsigned int i = 0; mon->key && i < mon->n_key; i++)
		free(mon->key[i].field);
	free(mon->key);
	free(mon->key_bytes);
	free(mon);
}

static void mc_destroy(struct consumer *c)
{
	struct models_consumer *mc = to_mc(c);

	forget_types(mc);
	free(mc->types);
	for (unsigned int m = 0; m < mc->n_mons; m++)
		mon_free(mc->mons[m]);
	free(mc->mons);
	for (uint32_t i = 0; i < mc->n_nodes; i++)
		free(mc->node_names[i]);
	free(mc->node_names);
	free(mc->node_lost);
	free(mc);
}

/* A node going unreachable arrives as a loss report for the gap. */
static void mc_node_state(struct consumer *c, const struct cnode *node,
			  enum cnode_state state, uint64_t tai_ns)
{
	note_node(to_mc(c), node);
}

/* Automata have no notion of time: nothing to close. */
static void mc_watermark(struct consumer *c, uint64_t tai_ns)
{
}

/*
 * Instances are not kept across collector restarts, and the merge does not
 * deliver again what was delivered before the checkpoint.  The token is
 * only there to be told, by resume(), that this is a restart.
 */
static int mc_checkpoint(struct consumer *c, uint64_t *token)
{
	*token = 0;
	return 0;
}

/* A restart: every node counts as having lost events (see mc_loss). */
static int mc_resume(struct consumer *c, uint64_t token)
{
	struct models_consumer *mc = to_mc(c);

	mc->restarted = true;
	mc->any_lost = true;
	for (uint32_t i = 0; i < mc->n_nodes; i++)
		mc->node_lost[i] = true;
	if (mc->n_mons)
		pr_notice(
			"collector restarted: DA model instances are not kept; those begun before the restart are checked once they return to their initial state");
	return 0;
}

static const struct consumer_ops models_ops = {
	.event = mc_event,
	.loss = mc_loss,
	.node_state = mc_node_state,
	.watermark = mc_watermark,
	.destroy = mc_destroy,
	.checkpoint = mc_checkpoint,
	.resume = mc_resume,
};

struct consumer *models_consumer_create(models_violation_fn fn, void *arg)
{
	struct models_consumer *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->types_mask = 15;
	mc->types = calloc(mc->types_mask + 1, sizeof(*mc->types));
	if (!mc->types) {
		free(mc);
		errno = ENOMEM;
		return NULL;
	}
	mc->c.ops = &models_ops;
	mc->c.name = "models";
	mc->fn = fn;
	mc->arg = arg;
	return &mc->c;
}

/* The key every instance kind implies. */
static int effective_key(struct mon *mon)
{
	const struct mb_binding *b = mon->bind;
	static const enum mb_src defaults[][2] = {
		[MB_NODE] = { MB_SRC_NODE },
		[MB_CPU] = { MB_SRC_NODE, MB_SRC_CPU },
		[MB_TASK] = { MB_SRC_NODE, MB_SRC_FIELD },
	};
	unsigned int n = b->kind == MB_OBJECT ? b->n_key :
			 b->kind == MB_GLOBAL ? 0 :
			 b->kind == MB_NODE   ? 1 :
						2;

	mon->key = calloc(n ? n : 1, sizeof(*mon->key));
	mon->key_bytes = malloc(n ? n : 1);
	if (!mon->key || !mon->key_bytes)
		return -1;
	mon->n_key = n;
	for (unsigned int i = 0; i < n; i++) {
		mon->key_bytes[i] = -1;
		if (b->kind == MB_OBJECT) {
			mon->key[i].src = b->key[i].src;
			mon->key[i].field = b->key[i].field ?
						    strdup(b->key[i].field) :
						    NULL;
			if (b->key[i].field && !mon->key[i].field)
				return -1;
		} else {
			mon->key[i].src = defaults[b->kind][i];
			if (mon->key[i].src == MB_SRC_FIELD) {
				mon->key[i].field = strdup("common_pid");
				if (!mon->key[i].field)
					return -1;
			}
		}
		if (mon->key[i].src == MB_SRC_NODE)
			mon->key_has_node = true;
	}
	return 0;
}

int models_consumer_add(struct consumer *c, const char *dot_path,
			const char *bind_path, char *err, size_t errsz)
{
	struct models_consumer *mc = to_mc(c);
	struct mon *mon = calloc(1, sizeof(*mon)), **mons;
	char *derived = NULL;
	int saved;

	if (!mon)
		goto nomem;
	mon->model = da_model_load(dot_path, NULL, err, errsz);
	if (!mon->model)
		goto fail;
	for (unsigned int m = 0; m < mc->n_mons; m++)
		if (!strcmp(mc->mons[m]->model->name, mon->model->name)) {
			snprintf(err, errsz,
				 "%s: a model named %s is loaded already",
				 dot_path, mon->model->name);
			mon_free(mon);
			errno = EEXIST;
			return -1;
		}
	if (!bind_path) {
		size_t l = strlen(dot_path);

		derived = malloc(l + 6);
		if (!derived)
			goto nomem;
		memcpy(derived, dot_path, l + 1);
		if (l > 4 && !strcmp(derived + l - 4, ".dot"))
			derived[l - 4] = 0;
		else if (l > 3 && !strcmp(derived + l - 3, ".gv"))
			derived[l - 3] = 0;
		strcat(derived, ".bind");
		bind_path = derived;
	}
	mon->bind = mb_binding_load(bind_path, mon->model, err, errsz);
	if (!mon->bind)
		goto fail;
	if (effective_key(mon) || da_itab_init(&mon->itab))
		goto nomem;
	mons = realloc(mc->mons, (mc->n_mons + 1) * sizeof(*mons));
	if (!mons)
		goto nomem;
	mc->mons = mons;
	mc->mons[mc->n_mons++] = mon;
	/* types resolved so far do not know the new model */
	forget_types(mc);
	free(derived);
	return 0;
nomem:
	snprintf(err, errsz, "%s: out of memory", dot_path);
	errno = ENOMEM;
fail:
	saved = errno;
	mon_free(mon);
	free(derived);
	errno = saved;
	return -1;
}

static struct mon *find_mon(struct models_consumer *mc, const char *name)
{
	for (unsigned int m = 0; m < mc->n_mons; m++)
		if (!strcmp(mc->mons[m]->model->name, name))
			return mc->mons[m];
	return NULL;
}

static void count_bytes(struct da_itab *t, struct da_inst *in, void *arg)
{
	*(size_t *)arg += da_inst_bytes(in);
}

int models_consumer_stats(struct consumer *c, const char *name,
			  struct models_stats *st)
{
	struct mon *mon = find_mon(to_mc(c), name);

	if (!mon) {
		errno = ENOENT;
		return -1;
	}
	*st = mon->st;
	st->instances = mon->itab.count;
	st->bytes = 0;
	da_itab_for_each(&mon->itab, count_bytes, &st->bytes);
	return 0;
}

struct find_ctx {
	struct models_consumer *mc;
	struct mon *mon;
	const char *key;
	struct da_inst *found;
};

static void find_key(struct da_itab *t, struct da_inst *in, void *arg)
{
	struct find_ctx *fc = arg;
	char text[DA_KEY_MAX * 4 + 64];

	key_text(fc->mc, fc->mon, in, text, sizeof(text));
	if (!strcmp(text, fc->key))
		fc->found = in;
}

const char *models_consumer_state(struct consumer *c, const char *name,
				  const char *key)
{
	struct models_consumer *mc = to_mc(c);
	struct find_ctx fc = { mc, find_mon(mc, name), key, NULL };

	if (!fc.mon)
		return NULL;
	da_itab_for_each(&fc.mon->itab, find_key, &fc);
	if (!fc.found)
		return NULL;
	if (!fc.found->mon.monitoring)
		return "unknown";
	return fc.mon->model->state_names[fc.found->mon.state];
}
