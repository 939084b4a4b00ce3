// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * writer.c - the archive as a consumer: turns merged events and monitor
 * records into CTF records (ctf.h), packs them into per-stream packets in
 * memory and writes each packet whole with one write(2).
 *
 * The hot path (archive_write_event) looks up the event class by the
 * EventType's address in a small hash, copies fixed-size integers and
 * length-prefixed bytes into the packet buffer, and allocates nothing.
 * New nodes and new event types append a metadata block first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOG_SUBSYS "archive"
#include "log.h"
#include "tsdl.h"
#include "writer_private.h"

#define AR_PACKET_DEFAULT (64u * 1024)
#define AR_FLUSH_DEFAULT 1000000000ull
#define AR_WATERMARK_EVERY 1000000ull /* keep one watermark per ms of TAI */
#define AR_FLUSH_CHECK 256 /* records between looks at the clock */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void write_failed(struct archive *ar, const char *what, uint64_t records)
{
	ar->st.dropped += records;
	if (!ar->failing)
		pr_err("chunk-%08u/%s: %m: %llu records lost; check the disk "
		       "(further errors are counted, not logged)",
		       ar->chunk, what, (unsigned long long)records);
	ar->failing = true;
}

int ar_stream_flush(struct archive *ar, struct ar_stream *s)
{
	uint8_t *ctx = s->buf + CTF_PKT_HEADER;

	if (!s->len)
		return 0;
	if (s->fd < 0) {
		s->fd = openat(ar->chunk_fd, s->file,
			       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (s->fd < 0) {
			write_failed(ar, s->file, s->pkt_records);
			s->len = 0;
			return -1;
		}
	}
	ctf_put64(ctx, s->ts_begin);
	ctf_put64(ctx + 8, s->ts_end);
	ctf_put64(ctx + 16, (uint64_t)s->len * 8);
	ctf_put64(ctx + 24, (uint64_t)s->len * 8);
	ctf_put64(ctx + 32, s->pkt_seq);
	if (ar_write_all(s->fd, s->buf, s->len)) {
		write_failed(ar, s->file, s->pkt_records);
		/* A partial write would tear the stream: cut it back. */
		if (ftruncate(s->fd, (off_t)s->written))
			pr_err("chunk-%08u/%s: cannot cut a torn packet: %m",
			       ar->chunk, s->file);
		s->len = 0;
		return -1;
	}
	s->written += s->len;
	if (ar->failing) {
		pr_info("chunk-%08u/%s: writing again", ar->chunk, s->file);
		ar->failing = false;
	}
	ar->chunk_bytes += s->len;
	ar->st.bytes += s->len;
	ar->st.packets++;
	ar->st.events += s->pkt_events;
	ar->st.records += s->pkt_records - s->pkt_events;
	s->pkt_seq++;
	s->len = 0;
	return 0;
}

int ar_flush_all(struct archive *ar)
{
	int ret = ar_stream_flush(ar, &ar->netrv);
	size_t i;

	for (i = 0; i < ar->n_nodes; i++) {
		if (ar->nodes[i] && ar_stream_flush(ar, &ar->nodes[i]->s))
			ret = -1;
	}
	return ret;
}

static void flush_old(struct archive *ar)
{
	uint64_t now = mono_ns();
	size_t i;

	if (ar->netrv.len && now - ar->netrv.opened_mono >= ar->o.flush_ns)
		ar_stream_flush(ar, &ar->netrv);
	for (i = 0; i < ar->n_nodes; i++) {
		struct ar_stream *s = ar->nodes[i] ? &ar->nodes[i]->s : NULL;

		if (s && s->len && now - s->opened_mono >= ar->o.flush_ns)
			ar_stream_flush(ar, s);
	}
}

/*
 * Rotation is decided before a group of records (an event with its clock
 * and late records) so that a group never spans two chunks.
 */
static int maybe_rotate(struct archive *ar, uint64_t tai)
{
	bool by_size =
		ar->o.chunk_bytes && ar->chunk_bytes >= ar->o.chunk_bytes;
	bool by_time = ar->o.chunk_ns && ar->chunk_has_records &&
		       tai > ar->chunk_first_ts &&
		       tai - ar->chunk_first_ts >= ar->o.chunk_ns;

	if (ar->chunk_fd >= 0 && !by_size && !by_time) {
		if (++ar->flush_check >= AR_FLUSH_CHECK) {
			ar->flush_check = 0;
			flush_old(ar);
		}
		return 0;
	}
	return archive_rotate(ar);
}

/* Would a record wanting @want be stamped exactly @want? */
static bool stamp_exact(const struct archive *ar, uint64_t want)
{
	return !ar->any || want > ar->last_ts ||
	       (want == ar->last_ts && ar->tie < CTF_TIE_MAX);
}

static void stamp(struct archive *ar, uint64_t want)
{
	if (!ar->any || want > ar->last_ts) {
		ar->last_ts = want;
		ar->tie = 0;
	} else if (ar->tie < CTF_TIE_MAX) {
		ar->tie++;
	} else {
		ar->last_ts++; /* 65536 records in one ns: move on */
		ar->tie = 0;
	}
	ar->any = true;
	if (!ar->chunk_has_records) {
		ar->chunk_has_records = true;
		ar->chunk_first_ts = ar->last_ts;
	}
}

/*
 * Room for a record of @need bytes in @s, with the stamp in ar->last_ts;
 * writes the record header and returns where the context goes.
 */
static uint8_t *reserve(struct archive *ar, struct ar_stream *s, size_t need,
			uint16_t id)
{
	uint8_t *p;

	need += CTF_EV_HEADER;
	if (s->len && s->len + need > s->cap)
		ar_stream_flush(ar, s);
	if (CTF_PKT_HDR + need > s->cap) {
		uint8_t *nb = realloc(s->buf, CTF_PKT_HDR + need);

		if (!nb)
			return NULL;
		s->buf = nb;
		s->cap = CTF_PKT_HDR + need;
	}
	if (!s->len) {
		ctf_put32(s->buf, CTF_MAGIC);
		memcpy(s->buf + 4, ar->uuid, 16);
		ctf_put32(s->buf + 20, s->stream_id);
		ctf_put32(s->buf + 24, s->instance);
		s->len = CTF_PKT_HDR;
		s->ts_begin = ar->last_ts;
		s->opened_mono = mono_ns();
		s->pkt_events = 0;
		s->pkt_records = 0;
	}
	s->ts_end = ar->last_ts;
	s->pkt_records++;
	p = s->buf + s->len;
	ctf_put16(p, id);
	ctf_put64(p + 2, ar->last_ts);
	return p + CTF_EV_HEADER;
}

static void stream_init(struct ar_stream *s, uint32_t sid, uint32_t instance,
			const char *file, size_t cap)
{
	s->fd = -1;
	s->stream_id = sid;
	s->instance = instance;
	snprintf(s->file, sizeof(s->file), "%s", file);
	s->cap = cap;
}

static struct ar_node *node_get(struct archive *ar, const struct cnode *cn)
{
	struct ar_node *n;
	char file[24];

	if (cn->index < ar->n_nodes && ar->nodes[cn->index])
		return ar->nodes[cn->index];
	if (cn->index >= UINT16_MAX) {
		errno = ERANGE;
		return NULL;
	}
	if (cn->index >= ar->n_nodes) {
		size_t nn = cn->index + 8;
		struct ar_node **v = realloc(ar->nodes, nn * sizeof(*v));

		if (!v)
			return NULL;
		memset(v + ar->n_nodes, 0, (nn - ar->n_nodes) * sizeof(*v));
		ar->nodes = v;
		ar->n_nodes = nn;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(cn->name ? cn->name : "");
	n->s.buf = malloc(ar->o.packet_bytes);
	if (!n->name || !n->s.buf)
		goto nomem;
	n->index = cn->index;
	snprintf(file, sizeof(file), "node-%u", cn->index);
	stream_init(&n->s, cn->index + 1, cn->index, file, ar->o.packet_bytes);
	if (tsdl_node(&ar->meta, n->index, n->name))
		goto nomem;
	ar->nodes[cn->index] = n;
	if (ar_meta_append(ar))
		return NULL;
	return n;
nomem:
	ar->meta.len = 0;
	free(n->s.buf);
	free(n->name);
	free(n);
	errno = ENOMEM;
	return NULL;
}

static void class_free(struct ar_class *c)
{
	if (c) {
		free(c->store);
		free(c->packed);
		free(c);
	}
}

static struct ar_class *class_new(struct archive *ar, struct ar_node *n,
				  const Netrv__EventType *t)
{
	size_t len = netrv__event_type__get_packed_size(t), i;
	struct ar_class *c, **v;

	ar->scratch.len = 0;
	if (bytebuf_reserve(&ar->scratch, len))
		return NULL;
	netrv__event_type__pack(t, ar->scratch.data);
	for (i = 0; i < n->n_classes; i++) { /* same layout seen before */
		c = n->classes[i];
		if (c->packed_len == len &&
		    !memcmp(c->packed, ar->scratch.data, len))
			return c;
	}
	if (CTF_EV_FIRST_TYPE + n->n_classes > UINT16_MAX) {
		errno = ERANGE;
		return NULL;
	}
	v = realloc(n->classes, (n->n_classes + 1) * sizeof(*v));
	if (!v)
		return NULL;
	n->classes = v;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = (uint16_t)(CTF_EV_FIRST_TYPE + n->n_classes);
	c->n_fields = (uint32_t)t->n_fields;
	c->store = malloc(t->n_fields + 1);
	c->packed = malloc(len + 1);
	c->packed_len = len;
	if (!c->store || !c->packed)
		goto nomem;
	memcpy(c->packed, ar->scratch.data, len);
	for (i = 0; i < t->n_fields; i++) {
		c->store[i] = (uint8_t)tsdl_store(t->fields[i]);
		c->fixed += tsdl_store_size(c->store[i]);
		if (!tsdl_store_size(c->store[i]))
			c->fixed += 4;
	}
	if (tsdl_type(&ar->meta, n->index, c->id, t, c->packed, len))
		goto nomem;
	n->classes[n->n_classes++] = c;
	if (ar_meta_append(ar))
		return NULL;
	return c;
nomem:
	ar->meta.len = 0;
	class_free(c);
	errno = ENOMEM;
	return NULL;
}

static size_t cache_slot(const struct archive *ar, const void *type,
			 const void *node)
{
	uintptr_t h = ((uintptr_t)type >> 4) ^ ((uintptr_t)node >> 6);

	return (size_t)((h * 0x9e3779b97f4a7c15ull) >> 20) &
	       (ar->cache_cap - 1);
}

static int cache_grow(struct archive *ar)
{
	struct ar_cache_ent *old = ar->cache;
	size_t oldcap = ar->cache_cap, i;

	ar->cache_cap = oldcap ? oldcap * 2 : 64;
	ar->cache = calloc(ar->cache_cap, sizeof(*ar->cache));
	if (!ar->cache) {
		ar->cache = old;
		ar->cache_cap = oldcap;
		return -1;
	}
	for (i = 0; i < oldcap; i++) {
		if (old[i].type) {
			size_t s = cache_slot(ar, old[i].type, old[i].node);

			while (ar->cache[s].type)
				s = (s + 1) & (ar->cache_cap - 1);
			ar->cache[s] = old[i];
		}
	}
	free(old);
	return 0;
}

static struct ar_class *class_get(struct archive *ar, struct ar_node *n,
				  const Netrv__EventType *t)
{
	struct ar_class *c;
	size_t s;

	if (ar->cache_cap) {
		s = cache_slot(ar, t, n);
		for (; ar->cache[s].type; s = (s + 1) & (ar->cache_cap - 1)) {
			if (ar->cache[s].type == t && ar->cache[s].node == n)
				return ar->cache[s].cls;
		}
	}
	c = class_new(ar, n, t);
	if (!c)
		return NULL;
	if ((ar->cache_used + 1) * 2 > ar->cache_cap && cache_grow(ar))
		return c; /* not cached, still right */
	s = cache_slot(ar, t, n);
	while (ar->cache[s].type)
		s = (s + 1) & (ar->cache_cap - 1);
	ar->cache[s] = (struct ar_cache_ent){ t, n, c };
	ar->cache_used++;
	return c;
}

void archive_forget_types(struct archive *ar)
{
	if (ar->cache)
		memset(ar->cache, 0, ar->cache_cap * sizeof(*ar->cache));
	ar->cache_used = 0;
}

static void put_node_ctx(uint8_t *p, const struct ar_node *n, uint16_t tie,
			 const struct cevent *ev)
{
	ctf_put16(p, (uint16_t)n->index);
	ctf_put16(p + 2, tie);
	ctf_put32(p + 4, ev->cpu);
	ctf_put64(p + 8, ev->seq);
	ctf_put32(p + 16, ev->index);
	ctf_put64(p + 20, ev->eps_ns);
}

static bool clock_same(const struct ar_node *n, const struct cevent *ev,
		       int64_t trace_offset)
{
	const Netrv__ClockStatus *o = &n->clock, *c = &ev->node->clock;

	return n->have_clock && n->trace_offset == trace_offset &&
	       n->clock_domain == ev->clock_domain && o->source == c->source &&
	       o->synced == c->synced && o->tai_offset_ns == c->tai_offset_ns &&
	       o->epsilon_ns == c->epsilon_ns &&
	       o->master_offset_ns == c->master_offset_ns &&
	       o->path_delay_ns == c->path_delay_ns &&
	       o->port_state == c->port_state &&
	       o->sample_age_ns == c->sample_age_ns &&
	       o->gm_identity.len == c->gm_identity.len &&
	       (!c->gm_identity.len ||
		!memcmp(o->gm_identity.data, c->gm_identity.data,
			c->gm_identity.len));
}

static int write_clock(struct archive *ar, struct ar_node *n,
		       const struct cevent *ev, int64_t trace_offset)
{
	const Netrv__ClockStatus *c = &ev->node->clock;
	size_t gm = c->gm_identity.len > sizeof(n->gm) ? sizeof(n->gm) :
							 c->gm_identity.len;
	uint8_t *p;

	stamp(ar, ar->any ? ar->last_ts : ev->tai_ns);
	p = reserve(ar, &n->s, CTF_NODE_CTX + 2 + 8 * 7 + 4 + 4 + gm,
		    CTF_EV_CLOCK);
	if (!p)
		return -1;
	put_node_ctx(p, n, ar->tie, ev);
	p += CTF_NODE_CTX;
	p[0] = (uint8_t)c->source;
	p[1] = c->synced;
	ctf_put64(p + 2, (uint64_t)c->tai_offset_ns);
	ctf_put64(p + 10, c->epsilon_ns);
	ctf_put64(p + 18, (uint64_t)c->master_offset_ns);
	ctf_put64(p + 26, (uint64_t)c->path_delay_ns);
	ctf_put32(p + 34, c->port_state);
	ctf_put64(p + 38, c->sample_age_ns);
	ctf_put32(p + 46, (uint32_t)gm);
	if (gm)
		memcpy(p + 50, c->gm_identity.data, gm);
	ctf_put64(p + 50 + gm, (uint64_t)trace_offset);
	ctf_put64(p + 58 + gm, ev->clock_domain);
	n->s.len += CTF_EV_HEADER + CTF_NODE_CTX + 66 + gm;
	n->clock_domain = ev->clock_domain;

	n->clock = *c;
	memcpy(n->gm, c->gm_identity.data ? c->gm_identity.data : n->gm, gm);
	n->clock.gm_identity.data = n->gm;
	n->clock.gm_identity.len = gm;
	n->trace_offset = trace_offset;
	n->have_clock = true;
	return 0;
}

static int write_late(struct archive *ar, struct ar_node *n,
		      const struct cevent *ev)
{
	uint8_t *p;

	stamp(ar, ev->tai_ns);
	p = reserve(ar, &n->s, CTF_NODE_CTX + 8, CTF_EV_LATE);
	if (!p)
		return -1;
	put_node_ctx(p, n, ar->tie, ev);
	ctf_put64(p + CTF_NODE_CTX, ev->tai_ns);
	n->s.len += CTF_EV_HEADER + CTF_NODE_CTX + 8;
	return 0;
}

int archive_write_event(struct archive *ar, const struct cevent *ev)
{
	const struct evpack_value *v = ev->vals;
	int64_t trace_offset = (int64_t)(ev->tai_ns - ev->trace_ns);
	struct ar_class *c;
	struct ar_node *n;
	size_t need, i;
	uint8_t *p;

	if (maybe_rotate(ar, ev->tai_ns))
		goto fail;
	n = node_get(ar, ev->node);
	if (!n)
		goto fail;
	c = class_get(ar, n, ev->type);
	if (!c)
		goto fail;
	if (!clock_same(n, ev, trace_offset) &&
	    write_clock(ar, n, ev, trace_offset))
		goto fail;
	if (!stamp_exact(ar, ev->tai_ns) && write_late(ar, n, ev))
		goto fail;

	need = CTF_NODE_CTX + c->fixed;
	for (i = 0; i < c->n_fields; i++) {
		if (c->store[i] >= CTF_STR)
			need += v[i].len;
	}
	stamp(ar, ev->tai_ns);
	p = reserve(ar, &n->s, need, c->id);
	if (!p)
		goto fail;
	put_node_ctx(p, n, ar->tie, ev);
	p += CTF_NODE_CTX;
	for (i = 0; i < c->n_fields; i++) {
		switch (c->store[i]) {
		case CTF_U8:
		case CTF_S8:
			*p++ = (uint8_t)v[i].u;
			break;
		case CTF_U16:
		case CTF_S16:
			ctf_put16(p, (uint16_t)v[i].u);
			p += 2;
			break;
		case CTF_U32:
		case CTF_S32:
			ctf_put32(p, (uint32_t)v[i].u);
			p += 4;
			break;
		case CTF_U64:
		case CTF_S64:
			ctf_put64(p, v[i].u);
			p += 8;
			break;
		default:
			ctf_put32(p, (uint32_t)v[i].len);
			if (v[i].len)
				memcpy(p + 4, v[i].bytes, v[i].len);
			p += 4 + v[i].len;
			break;
		}
	}
	n->s.len += CTF_EV_HEADER + need;
	n->s.pkt_events++;
	return 0;
fail:
	write_failed(ar, "event", 1);
	return -1;
}

/* A record of the netrv stream: header, tie, then @len payload bytes. */
static uint8_t *netrv_record(struct archive *ar, uint16_t id, size_t len,
			     uint64_t tai)
{
	uint8_t *p;

	if (maybe_rotate(ar, ar->any ? ar->last_ts : tai))
		return NULL;
	stamp(ar, ar->any ? ar->last_ts : tai);
	p = reserve(ar, &ar->netrv, CTF_NETRV_CTX + len, id);
	if (!p)
		return NULL;
	ctf_put16(p, ar->tie);
	ar->netrv.len += CTF_EV_HEADER + CTF_NETRV_CTX + len;
	return p + CTF_NETRV_CTX;
}

static uint8_t *put_bytes(uint8_t *p, const void *b, size_t len)
{
	ctf_put32(p, (uint32_t)len);
	if (len)
		memcpy(p + 4, b, len);
	return p + 4 + len;
}

int archive_write_verdict(struct archive *ar, uint64_t tai_ns,
			  const char *vclass, const void *resource,
			  size_t resource_len, const char *json)
{
	size_t cl = strlen(vclass), jl = strlen(json);
	uint8_t *p;

	p = netrv_record(ar, CTF_EV_VERDICT, 8 + 12 + cl + resource_len + jl,
			 tai_ns);
	if (!p) {
		write_failed(ar, "verdict", 1);
		return -1;
	}
	ctf_put64(p, tai_ns);
	p = put_bytes(p + 8, vclass, cl);
	p = put_bytes(p, resource, resource_len);
	put_bytes(p, json, jl);
	return 0;
}

int archive_write_clock_violation(struct archive *ar, uint64_t tai_ns,
				  const struct cnode *node, const char *json)
{
	size_t jl = strlen(json);
	uint8_t *p;

	p = netrv_record(ar, CTF_EV_CLOCK_VIOLATION, 8 + 4 + 4 + jl, tai_ns);
	if (!p) {
		write_failed(ar, "clock violation", 1);
		return -1;
	}
	ctf_put64(p, tai_ns);
	ctf_put32(p + 8, node ? node->index : UINT32_MAX);
	put_bytes(p + 12, json, jl);
	return 0;
}

/* Records about a node declare the node first, for its name. */
static int declare(struct archive *ar, const struct cnode *node)
{
	if (ar->chunk_fd < 0 && archive_rotate(ar))
		return -1;
	return node_get(ar, node) ? 0 : -1;
}

int archive_write_loss(struct archive *ar, const struct cnode *node,
		       uint64_t from_tai, uint64_t to_tai, uint64_t count)
{
	uint8_t *p = NULL;

	if (!declare(ar, node))
		p = netrv_record(ar, CTF_EV_LOSS, 28, from_tai);
	if (!p) {
		write_failed(ar, "loss", 1);
		return -1;
	}
	ctf_put32(p, node->index);
	ctf_put64(p + 4, from_tai);
	ctf_put64(p + 12, to_tai);
	ctf_put64(p + 20, count);
	return 0;
}

int archive_write_node_state(struct archive *ar, const struct cnode *node,
			     enum cnode_state state, uint64_t tai_ns)
{
	uint8_t *p = NULL;

	if (!declare(ar, node))
		p = netrv_record(ar, CTF_EV_NODE_STATE, 13, tai_ns);
	if (!p) {
		write_failed(ar, "node state", 1);
		return -1;
	}
	ctf_put64(p, tai_ns);
	ctf_put32(p + 8, node->index);
	p[12] = (uint8_t)state;
	return 0;
}

int archive_write_watermark(struct archive *ar, uint64_t tai_ns)
{
	uint8_t *p;

	if (ar->last_wm && tai_ns < ar->last_wm + AR_WATERMARK_EVERY)
		return 0;
	ar->last_wm = tai_ns;
	p = netrv_record(ar, CTF_EV_WATERMARK, 8, tai_ns);
	if (!p) {
		write_failed(ar, "watermark", 1);
		return -1;
	}
	ctf_put64(p, tai_ns);
	flush_old(ar);
	return 0;
}

int archive_flush(struct archive *ar)
{
	return ar_flush_all(ar);
}

int archive_rotate(struct archive *ar)
{
	int ret = ar_chunk_end(ar, true);

	if (ar_chunk_begin(ar))
		return -1;
	return ret;
}

void archive_get_stats(const struct archive *ar, struct archive_stats *st)
{
	*st = ar->st;
}

static void c_event(struct consumer *c, const struct cevent *ev)
{
	archive_write_event(container_of(c, struct archive, consumer), ev);
}

static void c_loss(struct consumer *c, const struct cnode *node,
		   uint64_t from_tai, uint64_t to_tai, uint64_t count)
{
	archive_write_loss(container_of(c, struct archive, consumer), node,
			   from_tai, to_tai, count);
}

static void c_node_state(struct consumer *c, const struct cnode *node,
			 enum cnode_state state, uint64_t tai_ns)
{
	archive_write_node_state(container_of(c, struct archive, consumer),
				 node, state, tai_ns);
}

static void c_watermark(struct consumer *c, uint64_t tai_ns)
{
	archive_write_watermark(container_of(c, struct archive, consumer),
				tai_ns);
}

static void c_destroy(struct consumer *c)
{
}

static const struct consumer_ops archive_consumer_ops = {
	.event = c_event,
	.loss = c_loss,
	.node_state = c_node_state,
	.watermark = c_watermark,
	.destroy = c_destroy,
};

struct consumer *archive_consumer(struct archive *ar)
{
	return &ar->consumer;
}

static void archive_free(struct archive *ar)
{
	size_t i, j;

	for (i = 0; i < ar->n_nodes; i++) {
		struct ar_node *n = ar->nodes[i];

		if (!n)
			continue;
		for (j = 0; j < n->n_classes; j++)
			class_free(n->classes[j]);
		free(n->classes);
		free(n->s.buf);
		free(n->name);
		free(n);
	}
	free(ar->nodes);
	free(ar->cache);
	free(ar->netrv.buf);
	bytebuf_release(&ar->meta);
	bytebuf_release(&ar->scratch);
	if (ar->dirfd >= 0)
		close(ar->dirfd);
	free(ar->dir);
	free(ar);
}

struct archive *archive_open(const struct archive_options *o)
{
	struct archive *ar;
	unsigned int last;
	int err;

	ar = calloc(1, sizeof(*ar));
	if (!ar)
		return NULL;
	ar->o = *o;
	ar->dirfd = ar->chunk_fd = ar->meta_fd = -1;
	if (!ar->o.packet_bytes)
		ar->o.packet_bytes = AR_PACKET_DEFAULT;
	if (ar->o.packet_bytes < 4096)
		ar->o.packet_bytes = 4096;
	if (!ar->o.flush_ns)
		ar->o.flush_ns = AR_FLUSH_DEFAULT;
	ar->consumer.ops = &archive_consumer_ops;
	ar->consumer.name = "archive";
	ar->dir = strdup(o->dir);
	ar->netrv.buf = malloc(ar->o.packet_bytes);
	if (!ar->dir || !ar->netrv.buf)
		goto fail;
	stream_init(&ar->netrv, CTF_STREAM_NETRV, UINT16_MAX, "netrv",
		    ar->o.packet_bytes);
	if (mkdir(o->dir, 0755) && errno != EEXIST) {
		pr_err("%s: cannot create the archive directory: %m", o->dir);
		goto fail;
	}
	ar->dirfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ar->dirfd < 0) {
		pr_err("%s: %m", o->dir);
		goto fail;
	}
	if (ar_repair_all(ar->dirfd, &last))
		pr_warning("%s: some chunks could not be repaired; they are "
			   "left as they are",
			   o->dir);
	ar->chunk = last;
	if (ar_chunk_begin(ar))
		goto fail;
	return ar;
fail:
	err = errno;
	archive_free(ar);
	errno = err;
	return NULL;
}

int archive_close(struct archive *ar)
{
	int ret;

	if (!ar)
		return 0;
	ret = ar_chunk_end(ar, true);
	archive_free(ar);
	return ret;
}
