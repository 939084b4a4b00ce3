// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * consumers.c - see consumers.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define LOG_SUBSYS "consumer"
#include "clocks.h"
#include "consumers.h"
#include "jsonesc.h"
#include "log.h"

/* Latency histogram: 8 sub-buckets per power of two of nanoseconds. */
#define HIST_SUB 8
#define HIST_N (64 * HIST_SUB)

struct stats_node {
	char *name;
	uint64_t events, lost, loss_reports, unreachable;
};

struct stats {
	struct consumer c;
	struct stats_node *nodes;
	uint32_t n_nodes;
	uint64_t events, watermark;
	uint64_t hist[HIST_N];
	uint64_t start_ns;
};

static unsigned int hist_bucket(uint64_t v)
{
	unsigned int msb, sub;

	if (v < HIST_SUB)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	sub = (unsigned int)(v >> (msb - 3)) & (HIST_SUB - 1);
	return msb * HIST_SUB + sub;
}

static uint64_t hist_value(unsigned int b)
{
	unsigned int msb = b / HIST_SUB, sub = b % HIST_SUB;

	if (msb < 3)
		return b;
	return ((uint64_t)(HIST_SUB + sub) << (msb - 3));
}

static struct stats_node *stats_node(struct stats *s, const struct cnode *n)
{
	if (n->index >= s->n_nodes) {
		uint32_t cnt = n->index + 1;
		struct stats_node *nn = realloc(s->nodes, cnt * sizeof(*nn));

		if (!nn)
			return NULL;
		memset(nn + s->n_nodes, 0, (cnt - s->n_nodes) * sizeof(*nn));
		s->nodes = nn;
		s->n_nodes = cnt;
	}
	if (!s->nodes[n->index].name)
		s->nodes[n->index].name = strdup(n->name);
	return &s->nodes[n->index];
}

static void stats_event(struct consumer *c, const struct cevent *ev)
{
	struct stats *s = (struct stats *)c;
	struct stats_node *sn = stats_node(s, ev->node);
	uint64_t now = clocks_now(CLOCK_TAI);

	if (sn)
		sn->events++;
	s->events++;
	s->hist[hist_bucket(now > ev->tai_ns ? now - ev->tai_ns : 0)]++;
}

static void stats_loss(struct consumer *c, const struct cnode *node,
		       uint64_t from, uint64_t to, uint64_t count)
{
	struct stats_node *sn = stats_node((struct stats *)c, node);

	if (sn) {
		sn->lost += count;
		sn->loss_reports++;
	}
}

static void stats_state(struct consumer *c, const struct cnode *node,
			enum cnode_state state, uint64_t tai)
{
	struct stats_node *sn = stats_node((struct stats *)c, node);

	if (sn && state == CNODE_UNREACHABLE)
		sn->unreachable++;
}

static void stats_watermark(struct consumer *c, uint64_t tai)
{
	((struct stats *)c)->watermark = tai;
}

static void stats_destroy(struct consumer *c)
{
	struct stats *s = (struct stats *)c;

	for (uint32_t i = 0; i < s->n_nodes; i++)
		free(s->nodes[i].name);
	free(s->nodes);
	free(s);
}

static const struct consumer_ops stats_ops = {
	.event = stats_event,
	.loss = stats_loss,
	.node_state = stats_state,
	.watermark = stats_watermark,
	.destroy = stats_destroy,
};

struct consumer *stats_consumer_create(void)
{
	struct stats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c.ops = &stats_ops;
	s->c.name = "stats";
	s->start_ns = clocks_now(CLOCK_MONOTONIC);
	return &s->c;
}

static uint64_t percentile(const struct stats *s, double q)
{
	uint64_t want = (uint64_t)((double)s->events * q), seen = 0;

	for (unsigned int b = 0; b < HIST_N; b++) {
		seen += s->hist[b];
		if (seen > want)
			return hist_value(b);
	}
	return 0;
}

void stats_consumer_write(struct consumer *c, FILE *out)
{
	struct stats *s = (struct stats *)c;
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(out,
		"{\"events\":%" PRIu64 ",\"latency_p50_ns\":%" PRIu64
		",\"latency_p99_ns\":%" PRIu64 ",\"cpu_user_s\":%.3f,"
		"\"cpu_sys_s\":%.3f,\"wall_s\":%.3f,\"nodes\":[",
		s->events, percentile(s, 0.50), percentile(s, 0.99),
		(double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
		(double)(clocks_now(CLOCK_MONOTONIC) - s->start_ns) / 1e9);
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		const struct stats_node *n = &s->nodes[i];

		fprintf(out,
			"%s{\"node\":\"%s\",\"events\":%" PRIu64
			",\"lost\":%" PRIu64 ",\"loss_reports\":%" PRIu64
			",\"unreachable\":%" PRIu64 "}",
			i ? "," : "", n->name ? n->name : "", n->events,
			n->lost, n->loss_reports, n->unreachable);
	}
	fprintf(out, "]}\n");
}

struct eventlog {
	struct consumer c;
	char *path;
	FILE *f;
};

void eventlog_json_escape(FILE *out, const uint8_t *p, size_t len)
{
	jsonesc_file(out, p, len, JSONESC_ASCII);
}

/* {"node":"NAME" (names are certificate CNs: escaped all the same) */
static void node_key(FILE *f, const struct cnode *n)
{
	fputs("{\"node\":\"", f);
	eventlog_json_escape(f, (const uint8_t *)n->name, strlen(n->name));
	putc('"', f);
}

static void eventlog_event(struct consumer *c, const struct cevent *ev)
{
	struct eventlog *l = (struct eventlog *)c;
	const Netrv__EventType *t = ev->type;
	FILE *f = l->f;

	node_key(f, ev->node);
	fprintf(f,
		",\"seq\":%" PRIu64 ",\"index\":%u,\"cpu\":%u,"
		"\"trace_ns\":%" PRIu64 ",\"tai_ns\":%" PRIu64
		",\"eps_ns\":%" PRIu64 ",\"event\":\"",
		ev->seq, ev->index, ev->cpu, ev->trace_ns, ev->tai_ns,
		ev->eps_ns);
	eventlog_json_escape(f, (const uint8_t *)t->system, strlen(t->system));
	putc(':', f);
	eventlog_json_escape(f, (const uint8_t *)t->name, strlen(t->name));
	fputs("\",\"fields\":{", f);
	for (size_t i = 0; i < t->n_fields; i++) {
		const Netrv__Field *fd = t->fields[i];
		const struct evpack_value *v = &ev->vals[i];

		fprintf(f, "%s\"", i ? "," : "");
		eventlog_json_escape(f, (const uint8_t *)fd->name,
				     strlen(fd->name));
		fputs("\":", f);
		if (fd->kind == NETRV__FIELD_KIND__FIELD_INT) {
			if (fd->is_signed)
				fprintf(f, "%" PRId64, v->s);
			else
				fprintf(f, "%" PRIu64, v->u);
		} else {
			putc('"', f);
			eventlog_json_escape(f, v->bytes, v->len);
			putc('"', f);
		}
	}
	fputs("}}\n", f);
}

static void eventlog_loss(struct consumer *c, const struct cnode *node,
			  uint64_t from, uint64_t to, uint64_t count)
{
	struct eventlog *l = (struct eventlog *)c;

	node_key(l->f, node);
	fprintf(l->f,
		",\"loss\":{\"from_tai\":%" PRIu64 ",\"to_tai\":%" PRIu64
		",\"count\":%" PRIu64 "}}\n",
		from, to, count);
}

static void eventlog_state(struct consumer *c, const struct cnode *node,
			   enum cnode_state state, uint64_t tai)
{
	struct eventlog *l = (struct eventlog *)c;

	node_key(l->f, node);
	fprintf(l->f, ",\"state\":\"%s\",\"tai_ns\":%" PRIu64 "}\n",
		cnode_state_name(state), tai);
}

static int eventlog_checkpoint(struct consumer *c, uint64_t *token)
{
	struct eventlog *l = (struct eventlog *)c;
	off_t off;

	if (fflush(l->f) || fdatasync(fileno(l->f))) {
		pr_err("event log %s: %m", l->path);
		return -1;
	}
	off = ftello(l->f);
	if (off < 0)
		return -1;
	*token = (uint64_t)off;
	return 0;
}

static int eventlog_resume(struct consumer *c, uint64_t token)
{
	struct eventlog *l = (struct eventlog *)c;
	off_t end;

	if (fflush(l->f))
		return -1;
	end = ftello(l->f);
	if (end >= 0 && (uint64_t)end > token) {
		pr_notice("event log %s: cut from %lld to %" PRIu64
			  " bytes (the checkpoint); the WAL replays the rest",
			  l->path, (long long)end, token);
		if (ftruncate(fileno(l->f), (off_t)token) ||
		    fseeko(l->f, 0, SEEK_END)) {
			pr_err("event log %s: cannot truncate: %m", l->path);
			return -1;
		}
	}
	return 0;
}

static void eventlog_destroy(struct consumer *c)
{
	struct eventlog *l = (struct eventlog *)c;

	if (fclose(l->f))
		pr_err("event log %s: %m", l->path);
	free(l->path);
	free(l);
}

static const struct consumer_ops eventlog_ops = {
	.event = eventlog_event,
	.loss = eventlog_loss,
	.node_state = eventlog_state,
	.destroy = eventlog_destroy,
	.checkpoint = eventlog_checkpoint,
	.resume = eventlog_resume,
};

struct consumer *eventlog_consumer_create(const char *path)
{
	struct eventlog *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->path = strdup(path);
	l->f = fopen(path, "ae");
	if (!l->path || !l->f) {
		pr_err("cannot open event log %s: %m", path);
		free(l->path);
		free(l);
		return NULL;
	}
	setvbuf(l->f, NULL, _IOFBF, 1 << 20);
	fseeko(l->f, 0, SEEK_END);
	l->c.ops = &eventlog_ops;
	l->c.name = "eventlog";
	return &l->c;
}
