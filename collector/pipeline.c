// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * pipeline.c - see pipeline.h.
 *
 * Exactly once, across restarts: a batch reaches the merge only after it
 * was written to the WAL, and an Ack only after the write is durable.  A
 * checkpoint stores, atomically, how far the merge has delivered each
 * node's stream (seq, index) together with a token from every consumer
 * whose output is durable.  At start the consumers cut their output back
 * to their token and the WAL is replayed into the merge, which skips what
 * the checkpoint says was delivered.  Agents resend what is not durable;
 * those batches are deduplicated by sequence against the WAL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_SUBSYS "collector"
#include "clocks.h"
#include "colpack.h"
#include "escape.h"
#include "ingest.h"
#include "log.h"
#include "msg.h"
#include "pipeline.h"
#include "rtclock.h"
#include "schema.h"
#include "wal.h"

#define CHECKPOINT_FILE "checkpoint"
#define CHECKPOINT_MAGIC "netrv-checkpoint 1"
#define PIPELINE_MAX_SCHEMAS 64

struct pnode {
	char *name;
	uint32_t idx;
	struct wal_node *wal;
	struct schema **schemas;
	size_t n_schemas;
	struct session *sess;
	uint64_t acked;
	uint64_t dups;
	bool paused;
	struct rtclock rt; /* round-trip clock estimate (no PTP sync) */
};

struct ctoken {
	char *name;
	uint64_t token;
};

struct pipeline {
	struct event_base *base;
	struct pipeline_config cfg;
	struct wal *wal;
	struct merge *merge;
	struct pnode **nodes; /* same index as in the merge */
	uint32_t n_nodes;
	struct event *sync_ev, *tick_ev, *walsync_ev;
	bool sync_armed;
	uint64_t last_ckpt_ns;
	uint64_t released_at_ckpt;
	uint64_t checkpoints;
	struct ctoken *tokens;
	size_t n_tokens;
	struct colpack *colpack; /* expands Batch.columns_zstd */
};

static uint64_t now_mono(void)
{
	return clocks_now(CLOCK_MONOTONIC);
}

static const char *escape(const char *in, char *out, size_t outlen)
{
	return escape_bytes(in, strlen(in), out, outlen);
}

static struct pnode *pnode_get(struct pipeline *p, const char *name)
{
	struct pnode *n, **nn;
	int idx = merge_node(p->merge, name, now_mono());

	if (idx < 0)
		return NULL;
	if ((uint32_t)idx < p->n_nodes)
		return p->nodes[idx];
	n = calloc(1, sizeof(*n));
	nn = realloc(p->nodes, (p->n_nodes + 1) * sizeof(*nn));
	if (!n || !nn) {
		free(n);
		if (nn)
			p->nodes = nn;
		return NULL;
	}
	p->nodes = nn;
	n->name = strdup(name);
	n->wal = wal_node(p->wal, name);
	if (!n->name || !n->wal) {
		free(n->name);
		free(n);
		return NULL;
	}
	n->idx = (uint32_t)idx;
	p->nodes[p->n_nodes++] = n;
	return n;
}

static const struct schema *pnode_schema(const struct pnode *n, uint64_t id)
{
	for (size_t i = 0; i < n->n_schemas; i++)
		if (n->schemas[i]->id == id)
			return n->schemas[i];
	return NULL;
}

/*
 * Keep the Schema in @f for @n.  Return: 1 if it was new, 0 if known,
 * -1 with the reason in @err.
 */
static int pnode_add_schema(struct pnode *n, const uint8_t *payload,
			    uint32_t len, char *err, size_t errlen)
{
	struct frame f = { FRAME_SCHEMA, len, payload };
	Netrv__Schema *msg = (Netrv__Schema *)msg_unpack(&f, NULL);
	struct schema *s, **ns;

	if (!msg) {
		snprintf(err, errlen, "malformed schema message");
		return -1;
	}
	if (pnode_schema(n, msg->schema_id)) {
		protobuf_c_message_free_unpacked(&msg->base, NULL);
		return 0;
	}
	/* schemas are kept for good and head every WAL segment: bound them */
	if (n->n_schemas >= PIPELINE_MAX_SCHEMAS) {
		snprintf(err, errlen,
			 "more than %d different schemas from one node",
			 PIPELINE_MAX_SCHEMAS);
		protobuf_c_message_free_unpacked(&msg->base, NULL);
		return -1;
	}
	s = schema_create(msg, err, errlen);
	if (!s) {
		protobuf_c_message_free_unpacked(&msg->base, NULL);
		return -1;
	}
	ns = realloc(n->schemas, (n->n_schemas + 1) * sizeof(*ns));
	if (!ns) {
		schema_destroy(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n->schemas = ns;
	n->schemas[n->n_schemas++] = s;
	return 1;
}

/* What an Ack may claim for @n under the sync policy. */
static uint64_t ackable(const struct pipeline *p, const struct pnode *n)
{
	return p->cfg.sync == WAL_SYNC_NONE ? wal_written_seq(n->wal) :
					      wal_durable_seq(n->wal);
}

static void send_acks(struct pipeline *p)
{
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct pnode *n = p->nodes[i];
		Netrv__Ack ack = NETRV__ACK__INIT;

		ack.seq = ackable(p, n);
		if (!n->sess || ack.seq <= n->acked)
			continue;
		if (!session_send(n->sess, FRAME_ACK, &ack.base))
			n->acked = ack.seq;
	}
}

static void sync_now(struct pipeline *p)
{
	if (wal_pending(p->wal) && wal_sync(p->wal))
		pr_err("WAL sync failed: batches stay unacknowledged; agents keep them in their spool");
	send_acks(p);
}

static void resume_nodes(struct pipeline *p)
{
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct pnode *n = p->nodes[i];

		if (n->paused &&
		    merge_queued(p->merge, n->idx) <= p->cfg.queue_events / 2) {
			n->paused = false;
			if (n->sess)
				session_pause(n->sess, false);
		}
	}
}

static int take_checkpoint(struct pipeline *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret = -1;

	sync_now(p); /* everything released is in batches now durable */
	f = open_memstream(&buf, &len);
	if (!f)
		return -1;
	fprintf(f, "%s\n", CHECKPOINT_MAGIC);
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		uint64_t seq;
		uint32_t next;

		merge_position(p->merge, i, &seq, &next);
		fprintf(f, "node %s %" PRIu64 " %u\n", p->nodes[i]->name, seq,
			next);
	}
	for (struct consumer *c = merge_consumers(p->merge); c; c = c->next) {
		uint64_t token;

		if (!c->ops->checkpoint)
			continue;
		if (c->ops->checkpoint(c, &token)) {
			if (errno == EAGAIN)
				pr_debug("consumer %s defers the checkpoint",
					 c->name);
			else
				pr_err("consumer %s cannot checkpoint; will retry",
				       c->name);
			fclose(f);
			goto out;
		}
		fprintf(f, "consumer %s %" PRIu64 "\n", c->name, token);
	}
	if (fclose(f))
		goto out;
	ret = wal_put_file(p->wal, CHECKPOINT_FILE, buf, len);
	if (!ret) {
		struct merge_stats st;
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (uint32_t i = 0; i < p->n_nodes; i++) {
			uint64_t seq;
			uint32_t next;

			merge_position(p->merge, i, &seq, &next);
			wal_trim(p->nodes[i]->wal, seq,
				 (uint64_t)ts.tv_sec * NSEC_PER_SEC +
					 (uint64_t)ts.tv_nsec);
		}
		merge_get_stats(p->merge, &st);
		p->released_at_ckpt = st.released + st.late;
		p->checkpoints++;
		for (struct consumer *c = merge_consumers(p->merge); c;
		     c = c->next)
			if (c->ops->checkpoint && c->ops->committed)
				c->ops->committed(c);
	}
out:
	free(buf);
	return ret;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;
	uint64_t now = now_mono();
	struct merge_stats st;

	merge_tick(p->merge, now, clocks_now(CLOCK_TAI));
	merge_run(p->merge);
	resume_nodes(p);
	merge_get_stats(p->merge, &st);
	if (now - p->last_ckpt_ns >= p->cfg.checkpoint_ns &&
	    st.released + st.late != p->released_at_ckpt) {
		p->last_ckpt_ns = now;
		take_checkpoint(p);
	}
}

/*
 * Start a background sync when the policy wants one: at once for "always"
 * or when sync_bytes are written, else after sync_interval.  A sync in
 * flight batches everything written meanwhile into the next (group
 * commit); the loop never waits for the disk.
 */
static void kick_sync(struct pipeline *p, bool now)
{
	if (!wal_pending(p->wal) || p->cfg.sync == WAL_SYNC_NONE)
		return;
	if (now || p->cfg.sync == WAL_SYNC_ALWAYS ||
	    wal_pending(p->wal) >= p->cfg.sync_bytes) {
		wal_sync_start(p->wal);
		return;
	}
	if (!p->sync_armed) {
		struct timeval tv = { (time_t)(p->cfg.sync_interval_ns /
					       NSEC_PER_SEC),
				      (suseconds_t)(p->cfg.sync_interval_ns %
						    NSEC_PER_SEC / 1000) };

		p->sync_armed = true;
		evtimer_add(p->sync_ev, &tv);
	}
}

static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;

	p->sync_armed = false;
	kick_sync(p, true);
}

static void walsync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline *p = arg;

	wal_sync_finish(p->wal);
	send_acks(p);
	kick_sync(p, false);
}

struct pipeline *pipeline_create(struct event_base *base,
				 const struct pipeline_config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	struct wal_config wc = {
		.dir = cfg->wal_dir,
		.segment_size = cfg->segment_size,
		.retain_size = cfg->retain_size,
		.retain_ns = cfg->retain_ns,
	};

	if (!p)
		return NULL;
	p->base = base;
	p->cfg = *cfg;
	p->colpack = colpack_create(1);
	if (!p->colpack) {
		free(p);
		return NULL;
	}
	p->wal = wal_open(&wc);
	p->merge = merge_create(cfg->liveness_ns);
	p->sync_ev = evtimer_new(base, sync_cb, p);
	p->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, p);
	if (p->wal)
		p->walsync_ev = event_new(base, wal_sync_fd(p->wal),
					  EV_READ | EV_PERSIST, walsync_cb, p);
	if (!p->wal || !p->merge || !p->sync_ev || !p->tick_ev ||
	    !p->walsync_ev || event_add(p->walsync_ev, NULL)) {
		pipeline_destroy(p);
		return NULL;
	}
	return p;
}

void pipeline_add_consumer(struct pipeline *p, struct consumer *c)
{
	merge_add_consumer(p->merge, c);
}

struct merge *pipeline_merge(struct pipeline *p)
{
	return p->merge;
}

uint32_t pipeline_max_frame(const struct pipeline *p)
{
	return p->cfg.max_frame;
}

static int read_checkpoint(struct pipeline *p)
{
	char *text = wal_get_file(p->wal, CHECKPOINT_FILE, NULL);
	char *line, *save;
	int lineno = 0;

	if (!text)
		return errno == ENOENT ? 0 : -1;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		uint64_t a;
		uint32_t b;

		lineno++;
		if (lineno == 1) {
			if (strcmp(line, CHECKPOINT_MAGIC))
				goto bad;
		} else if (sscanf(line, "node %127s %" SCNu64 " %u", name, &a,
				  &b) == 3) {
			struct pnode *n = pnode_get(p, name);

			if (!n)
				goto bad;
			merge_set_position(p->merge, n->idx, a, b);
		} else if (sscanf(line, "consumer %127s %" SCNu64, name, &a) ==
			   2) {
			struct ctoken *t = realloc(
				p->tokens, (p->n_tokens + 1) * sizeof(*t));

			if (!t)
				goto bad;
			p->tokens = t;
			t[p->n_tokens].name = strdup(name);
			t[p->n_tokens++].token = a;
		} else {
			goto bad;
		}
	}
	free(text);
	return 0;
bad:
	pr_err("%s/%s:%d: damaged checkpoint; move it away to start over (events may then be delivered twice)",
	       p->cfg.wal_dir, CHECKPOINT_FILE, lineno);
	free(text);
	errno = EINVAL;
	return -1;
}

static int replay_cb(void *arg, const char *node, enum frame_type type,
		     uint64_t seq, const uint8_t *payload, uint32_t len)
{
	struct pipeline *p = arg;
	struct pnode *n = pnode_get(p, node);
	struct frame f = { type, len, payload };
	const struct schema *s;
	Netrv__Batch *b;
	char err[256];

	if (!n)
		return -1;
	if (type == FRAME_SCHEMA) {
		if (pnode_add_schema(n, payload, len, err, sizeof(err)) < 0)
			pr_err("WAL of %s: schema skipped: %s", node, err);
		return 0;
	}
	if (type == FRAME_HELLO) {
		Netrv__Hello *h = (Netrv__Hello *)msg_unpack(&f, NULL);

		if (h) {
			merge_set_clock_domain(p->merge, n->idx, h->boot_id,
					       h->trace_clock);
			protobuf_c_message_free_unpacked(&h->base, NULL);
		}
		return 0;
	}
	if (type != FRAME_BATCH)
		return 0;
	b = (Netrv__Batch *)msg_unpack(&f, NULL);
	if (!b || !(s = pnode_schema(n, b->schema_id)) ||
	    colpack_expand_batch(p->colpack, b, s->by_id, s->n_by_id, err,
				 sizeof(err)) ||
	    schema_check_batch(s, b, err, sizeof(err))) {
		pr_err("WAL of %s: batch %" PRIu64
		       " cannot be replayed; its events are lost",
		       node, seq);
		if (b)
			protobuf_c_message_free_unpacked(&b->base, NULL);
		return 0;
	}
	merge_push(p->merge, n->idx, b, s, now_mono());
	return 0;
}

int pipeline_start(struct pipeline *p)
{
	struct timeval tv;
	uint64_t tick = p->cfg.liveness_ns / 4;
	struct merge_stats st;

	if (read_checkpoint(p))
		return -1;
	for (struct consumer *c = merge_consumers(p->merge); c; c = c->next) {
		if (!c->ops->resume)
			continue;
		for (size_t i = 0; i < p->n_tokens; i++) {
			if (strcmp(p->tokens[i].name, c->name))
				continue;
			if (c->ops->resume(c, p->tokens[i].token)) {
				pr_err("consumer %s cannot resume from the checkpoint",
				       c->name);
				return -1;
			}
		}
	}
	if (wal_replay(p->wal, replay_cb, p)) {
		pr_err("cannot replay the WAL in %s: %m", p->cfg.wal_dir);
		return -1;
	}
	merge_get_stats(p->merge, &st);
	pr_notice("WAL replayed: %u nodes, %" PRIu64 " bytes, %" PRIu64
		  " events already processed skipped",
		  p->n_nodes, wal_bytes(p->wal), st.skipped);
	/* record tokens of consumers new to this WAL before any event */
	if (take_checkpoint(p))
		return -1;
	p->last_ckpt_ns = now_mono();
	if (tick > 100000000ull)
		tick = 100000000ull;
	if (tick < 1000000ull)
		tick = 1000000ull;
	tv.tv_sec = (time_t)(tick / NSEC_PER_SEC);
	tv.tv_usec = (suseconds_t)(tick % NSEC_PER_SEC / 1000);
	event_add(p->tick_ev, &tv);
	return 0;
}

void pipeline_stop(struct pipeline *p)
{
	event_del(p->tick_ev);
	event_del(p->sync_ev);
	event_del(p->walsync_ev);
	merge_run(p->merge);
	merge_log_waiting(p->merge);
	take_checkpoint(p);
}

void pipeline_destroy(struct pipeline *p)
{
	if (!p)
		return;
	if (p->sync_ev)
		event_free(p->sync_ev);
	if (p->tick_ev)
		event_free(p->tick_ev);
	if (p->walsync_ev)
		event_free(p->walsync_ev);
	merge_destroy(p->merge);
	for (uint32_t i = 0; i < p->n_nodes; i++) {
		struct pnode *n = p->nodes[i];

		for (size_t j = 0; j < n->n_schemas; j++)
			schema_destroy(n->schemas[j]);
		free(n->schemas);
		free(n->name);
		free(n);
	}
	for (size_t i = 0; i < p->n_tokens; i++)
		free(p->tokens[i].name);
	free(p->tokens);
	free(p->nodes);
	wal_close(p->wal);
	colpack_destroy(p->colpack);
	free(p);
}

struct pnode *pipeline_hello(struct pipeline *p, struct session *s,
			     const char *cn, const struct frame *f)
{
	Netrv__Hello *h = (Netrv__Hello *)msg_unpack(f, NULL);
	Netrv__HelloAck ack = NETRV__HELLO_ACK__INIT;
	char esc[300];
	struct pnode *n;

	if (!h) {
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
			       "malformed hello message");
		return NULL;
	}
	if (strcmp(h->node, cn)) {
		session_refuse(
			s, NETRV__GOODBYE_CODE__GOODBYE_IDENTITY,
			"hello names node '%s' but the certificate is for '%s': a node cannot speak for another",
			escape(h->node, esc, 200), cn);
		protobuf_c_message_free_unpacked(&h->base, NULL);
		return NULL;
	}
	n = pnode_get(p, cn);
	if (!n) {
		session_refuse(
			s, NETRV__GOODBYE_CODE__GOODBYE_SHUTDOWN,
			"collector out of memory or cannot open the node's WAL");
		protobuf_c_message_free_unpacked(&h->base, NULL);
		return NULL;
	}
	if (n->sess)
		session_refuse(n->sess, NETRV__GOODBYE_CODE__GOODBYE_NORMAL,
			       "replaced by a new connection of the same node");
	n->sess = s;
	n->paused = false;
	merge_heard(p->merge, n->idx, now_mono());
	merge_set_clock_domain(p->merge, n->idx, h->boot_id, h->trace_clock);
	/* a replay after a restart needs it too: it says who stamps what */
	if (wal_append(n->wal, FRAME_HELLO, 0, f->payload, f->len))
		pr_warning(
			"%s: hello not kept in the WAL: after a restart, its batches are compared by TAI only",
			session_peer(s));
	ack.last_seq = ackable(p, n);
	ack.max_frame = p->cfg.max_frame;
	ack.collector_version = NETRV_VERSION;
	ack.accepts_columns = true;
	n->acked = ack.last_seq;
	session_send(s, FRAME_HELLO_ACK, &ack.base);
	pr_info("%s: hello: session %016" PRIx64
		", trace clock %s, boot %s, agent %s; resuming after seq %" PRIu64,
		session_peer(s), h->session_id, escape(h->trace_clock, esc, 32),
		escape(h->boot_id, esc + 200, 64),
		escape(h->agent_version, esc + 100, 64), ack.last_seq);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	if (merge_queued(p->merge, n->idx) > p->cfg.queue_events) {
		n->paused = true;
		session_pause(s, true);
	}
	return n;
}

static int on_batch(struct pipeline *p, struct pnode *n, struct session *s,
		    const struct frame *f)
{
	Netrv__Batch *b = (Netrv__Batch *)msg_unpack(f, NULL);
	uint64_t written = wal_written_seq(n->wal);
	const struct schema *sc;
	char err[256];

	if (!b) {
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
			       "malformed batch message (%u bytes)", f->len);
		return -1;
	}
	if (b->seq <= written) {
		/* a replay after reconnect: durable already, or soon */
		n->dups++;
		pr_debug("%s: batch %" PRIu64
			 " is a duplicate (have up to %" PRIu64 ")",
			 session_peer(s), b->seq, written);
		protobuf_c_message_free_unpacked(&b->base, NULL);
		merge_heard(p->merge, n->idx, now_mono());
		return 0;
	}
	sc = pnode_schema(n, b->schema_id);
	if (!sc) {
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
			       "batch %" PRIu64 " names schema %016" PRIx64
			       " that was not sent",
			       b->seq, b->schema_id);
		protobuf_c_message_free_unpacked(&b->base, NULL);
		return -1;
	}
	if (colpack_expand_batch(p->colpack, b, sc->by_id, sc->n_by_id, err,
				 sizeof(err)) ||
	    schema_check_batch(sc, b, err, sizeof(err))) {
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
			       "batch %" PRIu64 ": %s", b->seq, err);
		protobuf_c_message_free_unpacked(&b->base, NULL);
		return -1;
	}
	if (wal_append(n->wal, FRAME_BATCH, b->seq, f->payload, f->len)) {
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_SHUTDOWN,
			       "the collector cannot write its WAL");
		protobuf_c_message_free_unpacked(&b->base, NULL);
		return -1;
	}
	if (written && b->seq != written + 1)
		pr_info("%s: batch seq jumps from %" PRIu64 " to %" PRIu64
			" (the agent reports its losses)",
			session_peer(s), written, b->seq);
	/* after the WAL: it keeps what the agent sent */
	if (p->cfg.roundtrip_clock)
		rtclock_apply(&n->rt, b->clock,
			      b->base_ns +
				      (b->n_time_delta ? b->time_delta[0] : 0),
			      clocks_now(CLOCK_TAI));
	merge_push(p->merge, n->idx, b, sc, now_mono());
	if (merge_queued(p->merge, n->idx) > p->cfg.queue_events) {
		n->paused = true;
		session_pause(s, true);
	}
	return 0;
}

int pipeline_frame(struct pipeline *p, struct pnode *n, struct session *s,
		   const struct frame *f)
{
	ProtobufCMessage *m;
	char err[256];

	switch (f->type) {
	case FRAME_BATCH:
		return on_batch(p, n, s, f);
	case FRAME_SCHEMA: {
		int r = pnode_add_schema(n, f->payload, f->len, err,
					 sizeof(err));

		if (r < 0) {
			session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
				       "invalid schema: %s", err);
			return -1;
		}
		if (r > 0 &&
		    wal_append(n->wal, FRAME_SCHEMA, 0, f->payload, f->len)) {
			session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_SHUTDOWN,
				       "the collector cannot write its WAL");
			return -1;
		}
		return 0;
	}
	case FRAME_HEARTBEAT: {
		Netrv__Heartbeat *h;
		Netrv__Ack ack = NETRV__ACK__INIT;
		uint64_t now_tai;

		m = msg_unpack(f, NULL);
		if (!m)
			break;
		h = (Netrv__Heartbeat *)m;
		now_tai = clocks_now(CLOCK_TAI);
		rtclock_heartbeat(&n->rt, h, now_tai);
		if (h->clock && p->cfg.roundtrip_clock)
			rtclock_apply(&n->rt, h->clock, h->watermark_ns,
				      now_tai);
		merge_heartbeat(p->merge, n->idx, h->watermark_ns, h->clock,
				now_mono());
		ack.seq = n->acked;
		ack.echo_sent_ns = h->sent_ns;
		session_send(s, FRAME_ACK, &ack.base);
		protobuf_c_message_free_unpacked(m, NULL);
		return 0;
	}
	case FRAME_GOODBYE: {
		Netrv__Goodbye *g;
		char esc[300];

		m = msg_unpack(f, NULL);
		if (!m)
			break;
		g = (Netrv__Goodbye *)m;
		pr_info("%s: goodbye from the agent (code %d): %s",
			session_peer(s), g->code, escape(g->reason, esc, 200));
		/* it said it leaves: do not wait for the liveness timeout */
		merge_gone(p->merge, n->idx, clocks_now(CLOCK_TAI));
		protobuf_c_message_free_unpacked(m, NULL);
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_NORMAL,
			       "agent said goodbye");
		return -1;
	}
	default:
		session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
			       "unexpected %s frame", frame_type_str(f->type));
		return -1;
	}
	session_refuse(s, NETRV__GOODBYE_CODE__GOODBYE_PROTOCOL,
		       "malformed %s message", frame_type_str(f->type));
	return -1;
}

void pipeline_read_done(struct pipeline *p)
{
	if (p->cfg.sync == WAL_SYNC_NONE)
		send_acks(p);
	else
		kick_sync(p, false);
	merge_run(p->merge);
	resume_nodes(p);
}

void pipeline_session_gone(struct pipeline *p, struct pnode *n,
			   struct session *s)
{
	if (n->sess == s)
		n->sess = NULL;
}

uint32_t pipeline_n_nodes(const struct pipeline *p)
{
	return p->n_nodes;
}

void pipeline_node_info(const struct pipeline *p, uint32_t idx,
			struct pipeline_node_info *out)
{
	const struct pnode *n = p->nodes[idx];

	*out = (struct pipeline_node_info){
		.name = n->name,
		.idx = n->idx,
		.connected = n->sess != NULL,
		.paused = n->paused,
		.queued = merge_queued(p->merge, n->idx),
		.written_seq = wal_written_seq(n->wal),
		.durable_seq = wal_durable_seq(n->wal),
		.acked_seq = n->acked,
		.dups = n->dups,
	};
	out->have_watermark =
		merge_node_watermark(p->merge, n->idx, &out->watermark_tai);
}

void pipeline_info(const struct pipeline *p, struct pipeline_info *out)
{
	*out = (struct pipeline_info){
		.wal_bytes = wal_bytes(p->wal),
		.wal_pending = wal_pending(p->wal),
		.checkpoints = p->checkpoints,
	};
	merge_get_stats(p->merge, &out->merge);
}
