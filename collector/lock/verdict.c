// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * verdict.c - a verdict as one JSON object: what the log, the exec hook and
 * the dashboard show.  Names (resources, nodes) are untrusted bytes: every
 * byte outside printable ASCII is written as \u00XX, so the output is
 * always valid JSON and a name's bytes can be recovered exactly (the hex
 * form is given too).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jbuf.h"
#include "lock_private.h"

static void cstr(struct jbuf *j, const char *s)
{
	if (s)
		jbuf_str(j, s, strlen(s));
	else
		jbuf_puts(j, "null");
}

static void hex(struct jbuf *j, const void *p, size_t len)
{
	const uint8_t *b = p;

	jbuf_put(j, "\"", 1);
	for (size_t i = 0; i < len; i++)
		jbuf_printf(j, "%02x", b[i]);
	jbuf_put(j, "\"", 1);
}

static void node(struct jbuf *j, const struct cnode *n)
{
	cstr(j, n ? n->name : NULL);
}

static void when(struct jbuf *j, uint64_t tai, uint64_t eps, uint64_t trace,
		 uint64_t early)
{
	jbuf_printf(j,
		    "{\"tai_ns\":%" PRIu64 ",\"eps_ns\":%" PRIu64
		    ",\"trace_ns\":%" PRIu64,
		    tai, eps, trace);
	if (early)
		jbuf_printf(j, ",\"early_ns\":%" PRIu64, early);
	jbuf_put(j, "}", 1);
}

static const char *mode_name(const struct verdict *v, int mode)
{
	if (mode < 0 || !v->mode_names || (unsigned int)mode >= v->n_modes)
		return NULL;
	return v->mode_names[mode];
}

static const char *const kind_names[LOCK_EV_MAX] = {
	[LOCK_EV_REQUEST] = "request",	   [LOCK_EV_GRANT] = "grant",
	[LOCK_EV_DOWNGRADE] = "downgrade", [LOCK_EV_RELEASE] = "release",
	[LOCK_EV_FAIL] = "fail",
};

static const char *const source_names[] = { "none", "ptp", "roundtrip" };

static void holds(struct jbuf *j, const struct verdict *v)
{
	jbuf_puts(j, ",\"holds\":[");
	for (unsigned int i = 0; i < v->n_holds; i++) {
		const struct verdict_hold *h = &v->holds[i];

		if (i)
			jbuf_put(j, ",", 1);
		jbuf_printf(j, "{\"id\":%" PRIu64 ",\"node\":", h->id);
		node(j, h->node);
		jbuf_printf(j, ",\"holder\":\"0x%" PRIx64 "\",\"mode\":",
			    h->holder);
		cstr(j, h->mode_name);
		jbuf_puts(j, ",\"grant\":");
		when(j, h->grant_tai, h->grant_eps, h->grant_trace, 0);
		jbuf_puts(j, ",\"release\":");
		if (h->release_open)
			jbuf_puts(j, "null");
		else
			when(j, h->release_tai, h->release_eps,
			     h->release_trace, h->release_early);
		jbuf_printf(j,
			    ",\"clock_domain\":\"%016" PRIx64
			    "\",\"uncertain\":%s}",
			    h->clock_domain, h->uncertain ? "true" : "false");
	}
	jbuf_put(j, "]", 1);
}

static void hb(struct jbuf *j, const struct verdict *v)
{
	static const char *const facts[] = {
		"grant A -> grant B",	"grant A -> release B",
		"release A -> grant B", "release A -> release B",
		"grant B -> grant A",	"grant B -> release A",
		"release B -> grant A", "release B -> release A",
	};
	bool first = true;

	jbuf_puts(j, ",\"happens_before\":[");
	for (unsigned int i = 0; i < 8; i++) {
		if (!(v->hb & (1u << i)))
			continue;
		if (!first)
			jbuf_put(j, ",", 1);
		first = false;
		cstr(j, facts[i]);
	}
	jbuf_put(j, "]", 1);
}

static void history(struct jbuf *j, const struct verdict *v)
{
	jbuf_puts(j, ",\"history\":[");
	for (unsigned int i = 0; i < v->n_hist; i++) {
		const struct lock_hist *h = &v->hist[i];

		if (i)
			jbuf_put(j, ",", 1);
		jbuf_puts(j, "{\"node\":");
		node(j, h->node);
		jbuf_puts(j, ",\"what\":");
		cstr(j, h->kind < LOCK_EV_MAX ? kind_names[h->kind] : "?");
		jbuf_puts(j, ",\"mode\":");
		cstr(j, mode_name(v, h->mode));
		jbuf_printf(j,
			    ",\"holder\":\"0x%" PRIx64 "\",\"tai_ns\":%" PRIu64
			    ",\"eps_ns\":%" PRIu64 "}",
			    h->holder, h->tai, h->eps);
	}
	jbuf_put(j, "]", 1);
}

static void clocks(struct jbuf *j, const struct verdict *v)
{
	jbuf_puts(j, ",\"clocks\":[");
	for (unsigned int i = 0; i < v->n_clocks; i++) {
		const struct verdict_clock *c = &v->clocks[i];

		if (i)
			jbuf_put(j, ",", 1);
		jbuf_puts(j, "{\"node\":");
		node(j, c->node);
		jbuf_printf(
			j,
			",\"source\":\"%s\",\"synced\":%s,\"eps_ns\":%" PRIu64,
			(unsigned int)c->source < 3 ? source_names[c->source] :
						      "?",
			c->synced ? "true" : "false", c->eps_ns);
		jbuf_printf(j,
			    ",\"master_offset_ns\":%" PRId64
			    ",\"path_delay_ns\":%" PRId64 ",\"port_state\":%u}",
			    c->master_offset_ns, c->path_delay_ns,
			    c->port_state);
	}
	jbuf_put(j, "]", 1);
}

static void msg_end(struct jbuf *j, const struct verdict_msg *m)
{
	jbuf_puts(j, "{\"node\":");
	node(j, m->node);
	jbuf_printf(j, ",\"tai_ns\":%" PRIu64 ",\"eps_ns\":%" PRIu64 "}",
		    m->tai, m->eps);
}

size_t verdict_to_json(const struct verdict *v, char *buf, size_t len)
{
	struct jbuf j = jbuf_init(buf, len);

	jbuf_printf(&j,
		    "{\"id\":%" PRIu64 ",\"class\":\"%s\",\"tai_ns\":%" PRIu64,
		    v->id, verdict_class_name(v->cls), v->tai_ns);
	jbuf_puts(&j, ",\"reason\":");
	cstr(&j, v->reason);
	if (v->model) {
		jbuf_puts(&j, ",\"model\":");
		jbuf_str(&j, v->model, strlen(v->model));
	}
	jbuf_puts(&j, ",\"resource\":");
	if (v->domain) {
		jbuf_puts(&j, "{\"domain\":");
		cstr(&j, v->domain);
		if (!strcmp(v->domain, "dlm"))
			jbuf_printf(&j, ",\"lockspace\":%u", v->lockspace);
		jbuf_puts(&j, ",\"name\":");
		jbuf_str(&j, v->name, v->name_len);
		jbuf_puts(&j, ",\"name_hex\":");
		hex(&j, v->name, v->name_len);
		jbuf_put(&j, "}", 1);
	} else {
		jbuf_puts(&j, "null");
	}
	holds(&j, v);
	hb(&j, v);
	history(&j, v);
	clocks(&j, v);
	if (v->has_msg) {
		int64_t excess = (int64_t)(v->send.tai - v->send.eps) -
				 (int64_t)(v->recv.tai + v->recv.eps);

		jbuf_puts(&j, ",\"message\":{\"send\":");
		msg_end(&j, &v->send);
		jbuf_puts(&j, ",\"recv\":");
		msg_end(&j, &v->recv);
		jbuf_printf(&j, ",\"excess_ns\":%" PRId64 "}", excess);
	}
	if (v->gap_node) {
		jbuf_puts(&j, ",\"gap\":{\"node\":");
		node(&j, v->gap_node);
		jbuf_printf(&j,
			    ",\"from_tai_ns\":%" PRIu64
			    ",\"to_tai_ns\":%" PRIu64 ",\"lost\":%" PRIu64 "}",
			    v->gap_from, v->gap_to, v->gap_count);
	}
	jbuf_put(&j, "}", 1);
	return jbuf_finish(&j);
}
