// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * verdict.c - a verdict as one JSON object: what the log, the exec hook and
 * the dashboard show.  Names (resources, nodes) are untrusted bytes: every
 * byte outside printable ASCII is written as \u00XX, so the output is
 * always valid JSON and a name's bytes can be recovered exactly (the hex
 * form is given too).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonesc.h"
#include "lock_private.h"

struct jb {
	char *buf;
	size_t cap, pos;
};

static void put(struct jb *j, const char *s, size_t n)
{
	if (j->pos < j->cap) {
		size_t room = j->cap - j->pos;

		memcpy(j->buf + j->pos, s, n < room ? n : room);
	}
	j->pos += n;
}

static void puts_(struct jb *j, const char *s)
{
	put(j, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void pf(struct jb *j,
						     const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(j, tmp,
		    (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static int put_cb(void *arg, const void *p, size_t n)
{
	put(arg, p, n);
	return 0;
}

static void str(struct jb *j, const void *p, size_t len)
{
	put(j, "\"", 1);
	jsonesc(put_cb, j, p, len, JSONESC_ASCII);
	put(j, "\"", 1);
}

static void cstr(struct jb *j, const char *s)
{
	if (s)
		str(j, s, strlen(s));
	else
		puts_(j, "null");
}

static void hex(struct jb *j, const void *p, size_t len)
{
	const uint8_t *b = p;

	put(j, "\"", 1);
	for (size_t i = 0; i < len; i++)
		pf(j, "%02x", b[i]);
	put(j, "\"", 1);
}

static void node(struct jb *j, const struct cnode *n)
{
	cstr(j, n ? n->name : NULL);
}

static void when(struct jb *j, uint64_t tai, uint64_t eps)
{
	pf(j, "{\"tai_ns\":%" PRIu64 ",\"eps_ns\":%" PRIu64 "}", tai, eps);
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

static void holds(struct jb *j, const struct verdict *v)
{
	puts_(j, ",\"holds\":[");
	for (unsigned int i = 0; i < v->n_holds; i++) {
		const struct verdict_hold *h = &v->holds[i];

		if (i)
			put(j, ",", 1);
		pf(j, "{\"id\":%" PRIu64 ",\"node\":", h->id);
		node(j, h->node);
		pf(j, ",\"holder\":\"0x%" PRIx64 "\",\"mode\":", h->holder);
		cstr(j, h->mode_name);
		puts_(j, ",\"grant\":");
		when(j, h->grant_tai, h->grant_eps);
		puts_(j, ",\"release\":");
		if (h->release_open)
			puts_(j, "null");
		else
			when(j, h->release_tai, h->release_eps);
		pf(j, ",\"uncertain\":%s}", h->uncertain ? "true" : "false");
	}
	put(j, "]", 1);
}

static void hb(struct jb *j, const struct verdict *v)
{
	static const char *const facts[] = {
		"grant A -> grant B",	"grant A -> release B",
		"release A -> grant B", "release A -> release B",
		"grant B -> grant A",	"grant B -> release A",
		"release B -> grant A", "release B -> release A",
	};
	bool first = true;

	puts_(j, ",\"happens_before\":[");
	for (unsigned int i = 0; i < 8; i++) {
		if (!(v->hb & (1u << i)))
			continue;
		if (!first)
			put(j, ",", 1);
		first = false;
		cstr(j, facts[i]);
	}
	put(j, "]", 1);
}

static void history(struct jb *j, const struct verdict *v)
{
	puts_(j, ",\"history\":[");
	for (unsigned int i = 0; i < v->n_hist; i++) {
		const struct lock_hist *h = &v->hist[i];

		if (i)
			put(j, ",", 1);
		puts_(j, "{\"node\":");
		node(j, h->node);
		puts_(j, ",\"what\":");
		cstr(j, h->kind < LOCK_EV_MAX ? kind_names[h->kind] : "?");
		puts_(j, ",\"mode\":");
		cstr(j, mode_name(v, h->mode));
		pf(j,
		   ",\"holder\":\"0x%" PRIx64 "\",\"tai_ns\":%" PRIu64
		   ",\"eps_ns\":%" PRIu64 "}",
		   h->holder, h->tai, h->eps);
	}
	put(j, "]", 1);
}

static void clocks(struct jb *j, const struct verdict *v)
{
	puts_(j, ",\"clocks\":[");
	for (unsigned int i = 0; i < v->n_clocks; i++) {
		const struct verdict_clock *c = &v->clocks[i];

		if (i)
			put(j, ",", 1);
		puts_(j, "{\"node\":");
		node(j, c->node);
		pf(j, ",\"source\":\"%s\",\"synced\":%s,\"eps_ns\":%" PRIu64,
		   (unsigned int)c->source < 3 ? source_names[c->source] : "?",
		   c->synced ? "true" : "false", c->eps_ns);
		pf(j,
		   ",\"master_offset_ns\":%" PRId64
		   ",\"path_delay_ns\":%" PRId64 ",\"port_state\":%u}",
		   c->master_offset_ns, c->path_delay_ns, c->port_state);
	}
	put(j, "]", 1);
}

static void msg_end(struct jb *j, const struct verdict_msg *m)
{
	puts_(j, "{\"node\":");
	node(j, m->node);
	pf(j, ",\"tai_ns\":%" PRIu64 ",\"eps_ns\":%" PRIu64 "}", m->tai,
	   m->eps);
}

size_t verdict_to_json(const struct verdict *v, char *buf, size_t len)
{
	struct jb j = { .buf = buf, .cap = len ? len - 1 : 0 };

	pf(&j, "{\"id\":%" PRIu64 ",\"class\":\"%s\",\"tai_ns\":%" PRIu64,
	   v->id, verdict_class_name(v->cls), v->tai_ns);
	puts_(&j, ",\"reason\":");
	cstr(&j, v->reason);
	if (v->model) {
		puts_(&j, ",\"model\":");
		str(&j, v->model, strlen(v->model));
	}
	puts_(&j, ",\"resource\":");
	if (v->domain) {
		puts_(&j, "{\"domain\":");
		cstr(&j, v->domain);
		if (!strcmp(v->domain, "dlm"))
			pf(&j, ",\"lockspace\":%u", v->lockspace);
		puts_(&j, ",\"name\":");
		str(&j, v->name, v->name_len);
		puts_(&j, ",\"name_hex\":");
		hex(&j, v->name, v->name_len);
		put(&j, "}", 1);
	} else {
		puts_(&j, "null");
	}
	holds(&j, v);
	hb(&j, v);
	history(&j, v);
	clocks(&j, v);
	if (v->has_msg) {
		int64_t excess = (int64_t)(v->send.tai - v->send.eps) -
				 (int64_t)(v->recv.tai + v->recv.eps);

		puts_(&j, ",\"message\":{\"send\":");
		msg_end(&j, &v->send);
		puts_(&j, ",\"recv\":");
		msg_end(&j, &v->recv);
		pf(&j, ",\"excess_ns\":%" PRId64 "}", excess);
	}
	if (v->gap_node) {
		puts_(&j, ",\"gap\":{\"node\":");
		node(&j, v->gap_node);
		pf(&j,
		   ",\"from_tai_ns\":%" PRIu64 ",\"to_tai_ns\":%" PRIu64
		   ",\"lost\":%" PRIu64 "}",
		   v->gap_from, v->gap_to, v->gap_count);
	}
	put(&j, "}", 1);
	if (len)
		buf[j.pos < j.cap ? j.pos : j.cap] = '\0';
	return j.pos;
}
