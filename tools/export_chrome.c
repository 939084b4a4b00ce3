// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * export_chrome.c - `netrv export --format chrome-json ARCHIVE`: the
 * archive as a Chrome/Perfetto JSON trace (Trace Event Format).
 *
 * One process per node (pid = node index + 1, named after the node),
 * lock holds as complete slices ("ph":"X") on the holder's thread, and
 * verdicts, clock-bound violations, losses and node state changes as
 * instant events of a "cluster" process (pid 0).  Times are microseconds
 * from the earliest TAI in the archive (in otherData.t0_tai_ns), written
 * from integers so no nanosecond is lost to doubles.
 *
 * Holds are derived from the events, as the lock engine sees them:
 *   flock  filelock:flock_lock_inode with ret == 0: type 0/1 (F_RDLCK,
 *          F_WRLCK) grants, type 2 (F_UNLCK) releases; the holder is the
 *          file (owner), the resource (s_dev, i_ino).
 *   dlm    dlm:dlm_lock_start asks for a mode on lkb_id; dlm:dlm_ast with
 *          sb_status 0 grants it; dlm:dlm_unlock_start or dlm_ast with
 *          sb_status -DLM_EUNLOCK (0x10002, either sign) ends it.
 *   user   any event named *lock_acquired / *lock_released with a field
 *          "lock" (string or bytes) and optionally "mode".
 * A hold still open at the end is closed at the last time, args.open=true.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "export"
#include "archive_reader.h"
#include "jsonw.h"
#include "log.h"
#include "tools.h"

enum hold_kind { HOLD_FLOCK, HOLD_DLM, HOLD_USER };

struct hold {
	uint32_t node;
	enum hold_kind kind;
	uint64_t k1, k2, k3; /* identity of the lock within its kind */
	char name[96]; /* slice name */
	char res[160]; /* resource, as JSON string content (escaped later) */
	size_t res_len;
	uint64_t begin;
	int64_t tid;
	bool open; /* granted; else: a dlm request waiting for its ast */
	int64_t mode;
};

struct exporter {
	FILE *out;
	uint64_t t0, last;
	struct hold *h;
	size_t n, cap;
	uint64_t slices, instants;
	bool first;
};

static const char *const dlm_modes[] = { "NL", "CR", "CW", "PR", "PW", "EX" };

static int64_t fint(const struct cevent *ev, const char *name, int64_t def)
{
	int i = evpack_field_index(ev->type, name);

	if (i < 0 || ev->type->fields[i]->kind != NETRV__FIELD_KIND__FIELD_INT)
		return def;
	return ev->type->fields[i]->is_signed ? ev->vals[i].s :
						(int64_t)ev->vals[i].u;
}

static const struct evpack_value *fbytes(const struct cevent *ev,
					 const char *name)
{
	int i = evpack_field_index(ev->type, name);

	if (i < 0 || ev->type->fields[i]->kind == NETRV__FIELD_KIND__FIELD_INT)
		return NULL;
	return &ev->vals[i];
}

static struct hold *hold_find(struct exporter *x, uint32_t node,
			      enum hold_kind kind, uint64_t k1, uint64_t k2,
			      uint64_t k3)
{
	size_t i;

	for (i = 0; i < x->n; i++) {
		struct hold *h = &x->h[i];

		if (h->node == node && h->kind == kind && h->k1 == k1 &&
		    h->k2 == k2 && h->k3 == k3)
			return h;
	}
	return NULL;
}

static struct hold *hold_add(struct exporter *x, uint32_t node,
			     enum hold_kind kind, uint64_t k1, uint64_t k2,
			     uint64_t k3)
{
	struct hold *h = hold_find(x, node, kind, k1, k2, k3);

	if (h)
		return h;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		struct hold *v = realloc(x->h, nc * sizeof(*v));

		if (!v)
			return NULL;
		x->h = v;
		x->cap = nc;
	}
	h = &x->h[x->n++];
	memset(h, 0, sizeof(*h));
	h->node = node;
	h->kind = kind;
	h->k1 = k1;
	h->k2 = k2;
	h->k3 = k3;
	return h;
}

static void hold_drop(struct exporter *x, struct hold *h)
{
	*h = x->h[--x->n];
}

static void sep(struct exporter *x)
{
	fputs(x->first ? "\n" : ",\n", x->out);
	x->first = false;
}

static void slice(struct exporter *x, const struct hold *h, uint64_t end,
		  bool open)
{
	static const char *const cat[] = { "lock.flock", "lock.dlm",
					   "lock.user" };

	sep(x);
	fprintf(x->out, "{\"ph\":\"X\",\"cat\":\"%s\",\"name\":", cat[h->kind]);
	jsonw_cstr(x->out, h->name);
	fprintf(x->out, ",\"pid\":%u,\"tid\":%" PRId64 ",\"ts\":", h->node + 1,
		h->tid);
	jsonw_us(x->out, h->begin, x->t0);
	fprintf(x->out, ",\"dur\":");
	jsonw_us(x->out, end > h->begin ? end : h->begin, h->begin);
	fprintf(x->out, ",\"args\":{\"resource\":");
	jsonw_str(x->out, h->res, h->res_len);
	fprintf(x->out, ",\"grant_tai_ns\":%" PRIu64 "%s}}", h->begin,
		open ? ",\"open\":true" : "");
	x->slices++;
}

/* Start a hold: a hold already open under the same key ends here. */
static void grant(struct exporter *x, struct hold *h, const struct cevent *ev)
{
	if (h->open)
		slice(x, h, ev->tai_ns, false);
	h->open = true;
	h->begin = ev->tai_ns;
}

static void release(struct exporter *x, struct hold *h, const struct cevent *ev)
{
	if (h && h->open) {
		slice(x, h, ev->tai_ns, false);
		hold_drop(x, h);
	} else if (h) {
		hold_drop(x, h);
	}
}

static void set_res(struct hold *h, const void *p, size_t len)
{
	h->res_len = len < sizeof(h->res) ? len : sizeof(h->res);
	memcpy(h->res, p, h->res_len);
}

static void on_flock(struct exporter *x, const struct cevent *ev)
{
	int64_t type = fint(ev, "type", -1), pid = fint(ev, "pid", 0);
	uint64_t dev = (uint64_t)fint(ev, "s_dev", 0);
	uint64_t ino = (uint64_t)fint(ev, "i_ino", 0);
	uint64_t owner = (uint64_t)fint(ev, "owner", pid);
	struct hold *h;
	char res[64];

	if (fint(ev, "ret", 0) != 0)
		return;
	if (type == 2) {
		release(x,
			hold_find(x, ev->node->index, HOLD_FLOCK, dev, ino,
				  owner),
			ev);
		return;
	}
	if (type != 0 && type != 1)
		return;
	h = hold_add(x, ev->node->index, HOLD_FLOCK, dev, ino, owner);
	if (!h)
		return;
	grant(x, h, ev);
	snprintf(res, sizeof(res), "%u:%u:%" PRIu64, (unsigned int)(dev >> 20),
		 (unsigned int)(dev & 0xfffff), ino);
	set_res(h, res, strlen(res));
	snprintf(h->name, sizeof(h->name), "flock %s %s", type ? "EX" : "SH",
		 res);
	h->tid = pid ? pid : fint(ev, "common_pid", 0);
}

static void on_dlm(struct exporter *x, const struct cevent *ev)
{
	uint64_t ls = (uint64_t)fint(ev, "ls_id", 0);
	uint64_t lkb = (uint64_t)fint(ev, "lkb_id", 0);
	const struct evpack_value *res = fbytes(ev, "res_name");
	const char *name = ev->type->name;
	struct hold *h;

	if (!strcmp(name, "dlm_lock_start")) {
		h = hold_add(x, ev->node->index, HOLD_DLM, ls, lkb, 0);
		if (!h)
			return;
		h->mode = fint(ev, "mode", -1);
		if (res)
			set_res(h, res->bytes, res->len);
		h->tid = fint(ev, "common_pid", 0);
	} else if (!strcmp(name, "dlm_ast")) {
		int64_t st = fint(ev, "sb_status", -1);

		h = hold_find(x, ev->node->index, HOLD_DLM, ls, lkb, 0);
		if (!h)
			return;
		if (st == 0 && h->mode >= 0) {
			grant(x, h, ev);
			snprintf(h->name, sizeof(h->name), "dlm %s %.*s",
				 h->mode < 6 ? dlm_modes[h->mode] : "?",
				 (int)h->res_len, h->res);
			for (char *c = h->name; *c; c++) {
				if ((unsigned char)*c < 0x20 ||
				    (unsigned char)*c >= 0x7f)
					*c = '?';
			}
			h->mode = -1; /* the request is served */
		} else if (st == 0x10002 || st == -0x10002) {
			release(x, h, ev);
		} else if (!h->open) {
			hold_drop(x, h); /* -EAGAIN, cancel: no grant */
		}
	} else if (!strcmp(name, "dlm_unlock_start")) {
		h = hold_find(x, ev->node->index, HOLD_DLM, ls, lkb, 0);
		if (h && h->open) {
			slice(x, h, ev->tai_ns, false);
			h->open = false; /* wait for the unlock ast */
		}
	}
}

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	while (len--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

static void on_user(struct exporter *x, const struct cevent *ev, bool acq)
{
	const struct evpack_value *lock = fbytes(ev, "lock");
	int64_t tid = fint(ev, "common_pid", 0);
	struct hold *h;

	if (!lock)
		return;
	h = (acq ? hold_add : hold_find)(x, ev->node->index, HOLD_USER,
					 hash_bytes(lock->bytes, lock->len),
					 lock->len, (uint64_t)tid);
	if (!acq) {
		release(x, h, ev);
		return;
	}
	if (!h)
		return;
	grant(x, h, ev);
	set_res(h, lock->bytes, lock->len);
	snprintf(h->name, sizeof(h->name), "user mode %" PRId64,
		 fint(ev, "mode", 0));
	h->tid = tid;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void on_event(struct exporter *x, const struct cevent *ev)
{
	const Netrv__EventType *t = ev->type;

	if (!strcmp(t->system, "filelock") &&
	    !strcmp(t->name, "flock_lock_inode"))
		on_flock(x, ev);
	else if (!strcmp(t->system, "dlm"))
		on_dlm(x, ev);
	else if (ends_with(t->name, "lock_acquired"))
		on_user(x, ev, true);
	else if (ends_with(t->name, "lock_released"))
		on_user(x, ev, false);
}

static void instant(struct exporter *x, const struct archive_record *rec,
		    const char *name)
{
	sep(x);
	fprintf(x->out, "{\"ph\":\"i\",\"s\":\"g\",\"cat\":\"%s\",\"name\":",
		rec->kind == AREC_VERDICT ? "verdict" : "netrv");
	jsonw_cstr(x->out, name);
	fprintf(x->out, ",\"pid\":0,\"tid\":0,\"ts\":");
	jsonw_us(x->out, rec->tai_ns, x->t0);
	fprintf(x->out, ",\"args\":{\"tai_ns\":%" PRIu64, rec->tai_ns);
	if (rec->node) {
		fprintf(x->out, ",\"node\":");
		jsonw_cstr(x->out, rec->node->name);
	}
	if (rec->kind == AREC_VERDICT) {
		fprintf(x->out, ",\"resource\":");
		jsonw_str(x->out, rec->resource, rec->resource_len);
	}
	if (rec->kind == AREC_LOSS)
		fprintf(x->out, ",\"to_tai_ns\":%" PRIu64 ",\"count\":%" PRIu64,
			rec->to_tai, rec->count);
	if (rec->json) {
		fprintf(x->out, ",\"json\":");
		jsonw_cstr(x->out, rec->json);
	}
	fprintf(x->out, "}}");
	x->instants++;
}

/* First pass: the earliest time, so every ts is >= 0. */
static int find_t0(const char *path, uint64_t *t0)
{
	struct archive_reader *r = archive_reader_open(path);
	struct archive_record rec;
	int ret;

	if (!r)
		return -1;
	*t0 = UINT64_MAX;
	while ((ret = archive_reader_next(r, &rec)) > 0) {
		if (rec.tai_ns && rec.tai_ns < *t0)
			*t0 = rec.tai_ns;
	}
	archive_reader_close(r);
	if (*t0 == UINT64_MAX)
		*t0 = 0;
	return ret;
}

int tool_export(int argc, char **argv)
{
	struct exporter x = { .out = stdout, .first = true };
	struct archive_reader *r = NULL;
	struct archive_record rec;
	const char *format = NULL, *path = NULL;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc)
			format = argv[++i];
		else if (!strncmp(argv[i], "--format=", 9))
			format = argv[i] + 9;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return tool_usage(stdout, 0);
		else if (argv[i][0] != '-' && !path)
			path = argv[i];
		else
			return tool_usage(stderr, 2);
	}
	if (!path || !format || strcmp(format, "chrome-json")) {
		pr_err("want: netrv export --format chrome-json ARCHIVE");
		return 2;
	}
	if (find_t0(path, &x.t0) < 0 || !(r = archive_reader_open(path)))
		return 1;
	fprintf(x.out,
		"{\"displayTimeUnit\":\"ns\",\"otherData\":{"
		"\"generator\":\"netrv " NETRV_VERSION "\","
		"\"clock\":\"TAI\",\"t0_tai_ns\":%" PRIu64 "},"
		"\"traceEvents\":[",
		x.t0);
	sep(&x);
	fprintf(x.out, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":0,"
		       "\"tid\":0,\"args\":{\"name\":\"cluster\"}}");
	while ((ret = archive_reader_next(r, &rec)) > 0) {
		if (rec.tai_ns > x.last)
			x.last = rec.tai_ns;
		switch (rec.kind) {
		case AREC_EVENT:
			on_event(&x, &rec.ev);
			break;
		case AREC_VERDICT:
			instant(&x, &rec, rec.vclass);
			break;
		case AREC_CLOCK_VIOLATION:
			instant(&x, &rec, "clock-bound violation");
			break;
		case AREC_LOSS:
			instant(&x, &rec, "loss");
			break;
		case AREC_NODE_STATE:
			instant(&x, &rec,
				rec.state == CNODE_UP	? "node up" :
				rec.state == CNODE_DOWN ? "node down" :
							  "node unreachable");
			break;
		case AREC_WATERMARK:
			break;
		}
	}
	for (size_t k = 0; k < x.n; k++) {
		if (x.h[k].open)
			slice(&x, &x.h[k], x.last, true);
	}
	/* Name the node processes (known once the whole archive is read). */
	for (uint32_t k = 0;; k++) {
		const char *name = archive_reader_node_name(r, k);

		if (!name)
			break;
		sep(&x);
		fprintf(x.out,
			"{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,"
			"\"tid\":0,\"args\":{\"name\":",
			k + 1);
		jsonw_cstr(x.out, name);
		fprintf(x.out, "}}");
	}
	fprintf(x.out, "\n]}\n");
	archive_reader_close(r);
	free(x.h);
	if (fflush(x.out) || ferror(x.out)) {
		pr_err("writing the JSON: %m");
		return 1;
	}
	pr_info("%" PRIu64 " slices, %" PRIu64 " instant events", x.slices,
		x.instants);
	return ret < 0 ? 1 : 0;
}
