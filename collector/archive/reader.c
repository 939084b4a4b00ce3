// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * reader.c - reads netrv's CTF chunks back (layout in ctf.h).
 *
 * A chunk's stream files are mapped read-only; one cursor per file walks
 * its packets, and the next record is the one with the smallest (timestamp,
 * tie) over all cursors, which is the order the writer saw.  Chunks are
 * read one after the other.  Nodes are known by name across chunks, and
 * identical EventTypes share one pointer, so consumers that cache by
 * address keep working over a whole archive.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_SUBSYS "archive"
#include "archive_reader.h"
#include "ctf.h"
#include "log.h"
#include "tsdl.h"

struct rd_type {
	Netrv__EventType *t;
	uint8_t *packed;
	size_t packed_len;
	uint8_t *store;
};

struct rd_node {
	struct cnode cn;
	char *name;
	uint8_t gm[16];
	int64_t trace_offset;
	uint64_t clock_domain;
};

/* The node and event classes of one stream class in the current chunk. */
struct rd_sclass {
	uint32_t sid;
	struct rd_node *node;
	struct rd_type **types; /* by event id - CTF_EV_FIRST_TYPE */
	size_t n_types;
};

struct rd_cursor {
	char file[256];
	const uint8_t *data;
	size_t size;
	size_t pkt; /* start of the current packet */
	size_t pos; /* next record */
	size_t end; /* end of the current packet's content */
	size_t pkt_next; /* start of the next packet */
	struct rd_sclass *sc; /* NULL: netrv stream */
	bool late;
	uint64_t late_tai;
	bool done;
	/* peeked header */
	bool peeked;
	uint16_t id;
	uint64_t ts;
	uint16_t tie;
};

struct archive_reader {
	char *path;
	unsigned int *chunks;
	size_t n_chunks, next_chunk;
	bool single;
	unsigned int chunk;

	struct rd_node **nodes;
	size_t n_nodes;
	struct rd_type **types;
	size_t n_types;

	struct rd_sclass *sc;
	size_t n_sc;
	struct rd_cursor *cur;
	size_t n_cur;

	struct evpack_value *vals;
	size_t vals_cap;
	struct bytebuf str1, str2;
};

static int bad(struct archive_reader *r, const struct rd_cursor *c, size_t off,
	       const char *what)
{
	pr_err("%s/chunk-%08u/%s: offset %zu: %s; the archive is damaged",
	       r->path, r->chunk, c ? c->file : "metadata", off, what);
	errno = EBADMSG;
	return -1;
}

static struct rd_node *node_by_name(struct archive_reader *r, const char *n)
{
	struct rd_node *nd, **v;
	size_t i;

	for (i = 0; i < r->n_nodes; i++) {
		if (!strcmp(r->nodes[i]->name, n))
			return r->nodes[i];
	}
	v = realloc(r->nodes, (r->n_nodes + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->nodes = v;
	nd = calloc(1, sizeof(*nd));
	if (!nd || !(nd->name = strdup(n))) {
		free(nd);
		return NULL;
	}
	nd->cn.index = (uint32_t)r->n_nodes;
	nd->cn.name = nd->name;
	netrv__clock_status__init(&nd->cn.clock);
	r->nodes[r->n_nodes++] = nd;
	return nd;
}

static struct rd_type *type_by_packed(struct archive_reader *r,
				      const uint8_t *p, size_t len)
{
	struct rd_type *t, **v;
	size_t i;

	for (i = 0; i < r->n_types; i++) {
		if (r->types[i]->packed_len == len &&
		    !memcmp(r->types[i]->packed, p, len))
			return r->types[i];
	}
	v = realloc(r->types, (r->n_types + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->types = v;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->t = netrv__event_type__unpack(NULL, len, p);
	t->packed = malloc(len + 1);
	if (!t->t || !t->packed)
		goto fail;
	memcpy(t->packed, p, len);
	t->packed_len = len;
	t->store = malloc(t->t->n_fields + 1);
	if (!t->store)
		goto fail;
	for (i = 0; i < t->t->n_fields; i++)
		t->store[i] = (uint8_t)tsdl_store(t->t->fields[i]);
	if (t->t->n_fields > r->vals_cap) {
		struct evpack_value *nv =
			realloc(r->vals, t->t->n_fields * sizeof(*nv));

		if (!nv)
			goto fail;
		r->vals = nv;
		r->vals_cap = t->t->n_fields;
	}
	r->types[r->n_types++] = t;
	return t;
fail:
	if (t->t)
		netrv__event_type__free_unpacked(t->t, NULL);
	free(t->packed);
	free(t->store);
	free(t);
	errno = EBADMSG;
	return NULL;
}

static struct rd_sclass *sclass(struct archive_reader *r, uint32_t sid,
				bool create)
{
	struct rd_sclass *v;
	size_t i;

	for (i = 0; i < r->n_sc; i++) {
		if (r->sc[i].sid == sid)
			return &r->sc[i];
	}
	if (!create)
		return NULL;
	v = realloc(r->sc, (r->n_sc + 1) * sizeof(*v));
	if (!v)
		return NULL;
	r->sc = v;
	memset(&v[r->n_sc], 0, sizeof(*v));
	v[r->n_sc].sid = sid;
	return &v[r->n_sc++];
}

static void chunk_free(struct archive_reader *r)
{
	size_t i;

	for (i = 0; i < r->n_cur; i++)
		munmap((void *)r->cur[i].data, r->cur[i].size);
	free(r->cur);
	r->cur = NULL;
	r->n_cur = 0;
	for (i = 0; i < r->n_sc; i++)
		free(r->sc[i].types);
	free(r->sc);
	r->sc = NULL;
	r->n_sc = 0;
}

/* Parse the netrv lines of the chunk's metadata (up to the last commit). */
static int load_metadata(struct archive_reader *r, int cfd)
{
	static const char commit[] = CTF_META_COMMIT;
	char *text = NULL, *line, *end, *save = NULL;
	uint8_t *bin = NULL;
	struct stat st;
	int fd, ret = -1;
	ssize_t n;

	fd = openat(cfd, "metadata", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		pr_err("%s/chunk-%08u/metadata: %m", r->path, r->chunk);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	bin = malloc((size_t)st.st_size / 2 + 1);
	if (!text || !bin)
		goto out;
	n = pread(fd, text, (size_t)st.st_size, 0);
	if (n != st.st_size)
		goto out;
	text[n] = 0;
	end = NULL;
	for (char *p = text; (p = strstr(p, commit)); p++)
		end = p;
	if (!end) {
		ret = bad(r, NULL, 0, "no complete metadata block");
		goto out;
	}
	*end = 0;
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned int sid, x;
		int off = 0;

		if (sscanf(line, CTF_META_NODE " %u %u %n", &sid, &x, &off) ==
			    2 &&
		    off) {
			char *h = line + off, *e = strchr(h, ' ');
			struct rd_sclass *sc;

			if (!e || tsdl_hex_decode(h, (size_t)(e - h), bin))
				goto badline;
			bin[(e - h) / 2] = 0;
			sc = sclass(r, sid, true);
			if (!sc || !(sc->node = node_by_name(r, (char *)bin)))
				goto out;
		} else if (sscanf(line, CTF_META_TYPE " %u %u %n", &sid, &x,
				  &off) == 2 &&
			   off) {
			char *h = line + off, *e = strchr(h, ' ');
			struct rd_sclass *sc = sclass(r, sid, false);
			struct rd_type *t, **v;
			size_t k;

			if (!e || !sc || x < CTF_EV_FIRST_TYPE ||
			    tsdl_hex_decode(h, (size_t)(e - h), bin))
				goto badline;
			t = type_by_packed(r, bin, (size_t)(e - h) / 2);
			if (!t)
				goto badline;
			k = x - CTF_EV_FIRST_TYPE;
			if (k >= sc->n_types) {
				v = realloc(sc->types, (k + 1) * sizeof(*v));
				if (!v)
					goto out;
				memset(v + sc->n_types, 0,
				       (k + 1 - sc->n_types) * sizeof(*v));
				sc->types = v;
				sc->n_types = k + 1;
			}
			sc->types[k] = t;
		}
		continue;
badline:
		ret = bad(r, NULL, (size_t)(line - text), "bad netrv line");
		goto out;
	}
	ret = 0;
out:
	if (ret && errno != EBADMSG && !errno)
		errno = ENOMEM;
	if (fd >= 0)
		close(fd);
	free(text);
	free(bin);
	return ret;
}

static int open_streams(struct archive_reader *r, int cfd)
{
	struct dirent *de;
	int fd = dup(cfd), ret = 0;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		struct rd_cursor *c, *v;
		struct stat st;
		int sfd;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, "metadata"))
			continue;
		sfd = openat(cfd, de->d_name, O_RDONLY | O_CLOEXEC);
		if (sfd < 0 || fstat(sfd, &st) || !S_ISREG(st.st_mode)) {
			if (sfd >= 0)
				close(sfd);
			continue;
		}
		if (!st.st_size) {
			close(sfd);
			continue;
		}
		v = realloc(r->cur, (r->n_cur + 1) * sizeof(*v));
		if (!v) {
			close(sfd);
			ret = -1;
			break;
		}
		r->cur = v;
		c = &v[r->n_cur];
		memset(c, 0, sizeof(*c));
		snprintf(c->file, sizeof(c->file), "%s", de->d_name);
		c->data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			       sfd, 0);
		close(sfd);
		if (c->data == MAP_FAILED) {
			pr_err("%s/chunk-%08u/%s: %m", r->path, r->chunk,
			       c->file);
			ret = -1;
			break;
		}
		c->size = (size_t)st.st_size;
		r->n_cur++;
	}
	closedir(d);
	return ret;
}

static int open_chunk(struct archive_reader *r)
{
	char name[32];
	int cfd, ret;

	chunk_free(r);
	if (r->single) {
		cfd = open(r->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else {
		r->chunk = r->chunks[r->next_chunk];
		snprintf(name, sizeof(name), "chunk-%08u", r->chunk);
		cfd = openat(AT_FDCWD, r->path,
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cfd >= 0) {
			int d = openat(cfd, name,
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			close(cfd);
			cfd = d;
		}
	}
	r->next_chunk++;
	if (cfd < 0) {
		pr_err("%s: chunk %u: %m", r->path, r->chunk);
		return -1;
	}
	ret = load_metadata(r, cfd);
	if (!ret)
		ret = open_streams(r, cfd);
	close(cfd);
	return ret;
}

/* Make c->pos point at a record, entering the next packet if needed. */
static int cursor_peek(struct archive_reader *r, struct rd_cursor *c)
{
	const uint8_t *p;

	if (c->peeked || c->done)
		return 0;
	while (c->pos >= c->end) {
		uint64_t content, size;
		uint32_t sid;

		c->pkt = c->pkt_next;
		if (c->pkt >= c->size) {
			c->done = true;
			return 0;
		}
		if (c->size - c->pkt < CTF_PKT_HDR)
			return bad(r, c, c->pkt, "truncated packet header");
		p = c->data + c->pkt;
		content = ctf_get64(p + CTF_PKT_HEADER + 16) / 8;
		size = ctf_get64(p + CTF_PKT_HEADER + 24) / 8;
		sid = ctf_get32(p + 20);
		if (ctf_get32(p) != CTF_MAGIC)
			return bad(r, c, c->pkt, "bad packet magic");
		if (size < CTF_PKT_HDR || content < CTF_PKT_HDR ||
		    content > size || size > c->size - c->pkt)
			return bad(r, c, c->pkt, "bad packet size");
		if (sid == CTF_STREAM_NETRV) {
			c->sc = NULL;
		} else if (!(c->sc = sclass(r, sid, false)) || !c->sc->node) {
			return bad(r, c, c->pkt,
				   "packet of an undeclared stream");
		}
		c->pos = c->pkt + CTF_PKT_HDR;
		c->end = c->pkt + content;
		c->pkt_next = c->pkt + size;
	}
	p = c->data + c->pos;
	if (c->end - c->pos < CTF_EV_HEADER + CTF_NETRV_CTX ||
	    (c->sc && c->end - c->pos < CTF_EV_HEADER + CTF_NODE_CTX))
		return bad(r, c, c->pos, "truncated record");
	c->id = ctf_get16(p);
	c->ts = ctf_get64(p + 2);
	c->tie = ctf_get16(p + CTF_EV_HEADER + (c->sc ? 2 : 0));
	c->peeked = true;
	return 0;
}

/* Bounds-checked reading inside one record. */
struct rd_in {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t in_int(struct rd_in *in, unsigned int size)
{
	uint64_t v = 0;

	if (in->bad || (size_t)(in->end - in->p) < size) {
		in->bad = true;
		return 0;
	}
	memcpy(&v, in->p, size);
	in->p += size;
	return v;
}

static const uint8_t *in_bytes(struct rd_in *in, size_t *len)
{
	const uint8_t *b;

	*len = (size_t)in_int(in, 4);
	if (in->bad || (size_t)(in->end - in->p) < *len) {
		in->bad = true;
		*len = 0;
		return NULL;
	}
	b = in->p;
	in->p += *len;
	return b;
}

static const char *in_str(struct rd_in *in, struct bytebuf *b)
{
	size_t len;
	const uint8_t *s = in_bytes(in, &len);

	b->len = 0;
	if (in->bad || bytebuf_reserve(b, len + 1)) {
		in->bad = true;
		return "";
	}
	if (len)
		memcpy(b->data, s, len);
	b->data[len] = 0;
	return (const char *)b->data;
}

static int64_t sext(uint64_t v, unsigned int size)
{
	unsigned int shift = 64 - size * 8;

	return (int64_t)(v << shift) >> shift;
}

static const struct cnode *chunk_node(struct archive_reader *r, uint32_t idx)
{
	struct rd_sclass *sc =
		idx < UINT32_MAX ? sclass(r, idx + 1, false) : NULL;

	return sc && sc->node ? &sc->node->cn : NULL;
}

static void decode_clock(struct rd_node *n, struct rd_in *in)
{
	Netrv__ClockStatus *c = &n->cn.clock;
	const uint8_t *gm;
	size_t len;

	c->source = (Netrv__ClockSource)in_int(in, 1);
	c->synced = in_int(in, 1) != 0;
	c->tai_offset_ns = (int64_t)in_int(in, 8);
	c->epsilon_ns = in_int(in, 8);
	c->master_offset_ns = (int64_t)in_int(in, 8);
	c->path_delay_ns = (int64_t)in_int(in, 8);
	c->port_state = (uint32_t)in_int(in, 4);
	c->sample_age_ns = in_int(in, 8);
	gm = in_bytes(in, &len);
	if (len > sizeof(n->gm))
		in->bad = true;
	if (!in->bad && len)
		memcpy(n->gm, gm, len);
	c->gm_identity.data = n->gm;
	c->gm_identity.len = in->bad ? 0 : len;
	n->trace_offset = (int64_t)in_int(in, 8);
	n->clock_domain = in_int(in, 8);
}

/* Decode the record at c->pos; 1: a record for the caller, 0: internal. */
static int decode(struct archive_reader *r, struct rd_cursor *c,
		  struct archive_record *rec)
{
	struct rd_in in = { c->data + c->pos + CTF_EV_HEADER, c->data + c->end,
			    false };
	size_t at = c->pos, i;
	int out = 1;

	memset(rec, 0, sizeof(*rec));
	rec->chunk = r->chunk;
	rec->stamp = c->ts;
	c->peeked = false;
	if (c->sc) {
		struct rd_node *n = c->sc->node;
		struct cevent *ev = &rec->ev;
		struct rd_type *t;

		in.p += 4; /* node, tie */
		ev->cpu = (uint32_t)in_int(&in, 4);
		ev->seq = in_int(&in, 8);
		ev->index = (uint32_t)in_int(&in, 4);
		ev->eps_ns = in_int(&in, 8);
		if (c->id == CTF_EV_CLOCK) {
			decode_clock(n, &in);
			out = 0;
		} else if (c->id == CTF_EV_LATE) {
			c->late_tai = in_int(&in, 8);
			c->late = true;
			out = 0;
		} else {
			size_t k = (size_t)c->id - CTF_EV_FIRST_TYPE;

			if (k >= c->sc->n_types || !(t = c->sc->types[k]))
				return bad(r, c, at, "undeclared event id");
			rec->kind = AREC_EVENT;
			rec->node = &n->cn;
			ev->node = &n->cn;
			ev->tai_ns = c->late ? c->late_tai : c->ts;
			c->late = false;
			ev->trace_ns = ev->tai_ns - (uint64_t)n->trace_offset;
			ev->clock_domain = n->clock_domain;
			ev->type = t->t;
			ev->vals = r->vals;
			rec->tai_ns = ev->tai_ns;
			for (i = 0; i < t->t->n_fields; i++) {
				struct evpack_value *v = &r->vals[i];
				unsigned int sz = tsdl_store_size(t->store[i]);

				v->bytes = NULL;
				v->len = 0;
				if (!sz) {
					v->bytes = in_bytes(&in, &v->len);
					v->u = 0;
				} else if (t->store[i] >= CTF_S8) {
					v->s = sext(in_int(&in, sz), sz);
				} else {
					v->u = in_int(&in, sz);
				}
			}
		}
	} else {
		in.p += CTF_NETRV_CTX;
		switch (c->id) {
		case CTF_EV_VERDICT:
			rec->kind = AREC_VERDICT;
			rec->tai_ns = in_int(&in, 8);
			rec->vclass = in_str(&in, &r->str1);
			rec->resource = in_bytes(&in, &rec->resource_len);
			rec->json = in_str(&in, &r->str2);
			break;
		case CTF_EV_CLOCK_VIOLATION:
			rec->kind = AREC_CLOCK_VIOLATION;
			rec->tai_ns = in_int(&in, 8);
			rec->node = chunk_node(r, (uint32_t)in_int(&in, 4));
			rec->json = in_str(&in, &r->str2);
			break;
		case CTF_EV_NODE_STATE:
			rec->kind = AREC_NODE_STATE;
			rec->tai_ns = in_int(&in, 8);
			rec->node = chunk_node(r, (uint32_t)in_int(&in, 4));
			rec->state = (enum cnode_state)in_int(&in, 1);
			if (!rec->node)
				return bad(r, c, at, "node state of no node");
			break;
		case CTF_EV_LOSS:
			rec->kind = AREC_LOSS;
			rec->node = chunk_node(r, (uint32_t)in_int(&in, 4));
			rec->tai_ns = in_int(&in, 8);
			rec->to_tai = in_int(&in, 8);
			rec->count = in_int(&in, 8);
			if (!rec->node)
				return bad(r, c, at, "loss of no node");
			break;
		case CTF_EV_WATERMARK:
			rec->kind = AREC_WATERMARK;
			rec->tai_ns = in_int(&in, 8);
			break;
		default:
			return bad(r, c, at, "unknown netrv record");
		}
	}
	if (in.bad)
		return bad(r, c, at, "record runs past its packet");
	c->pos = (size_t)(in.p - c->data);
	return out;
}

int archive_reader_next(struct archive_reader *r, struct archive_record *rec)
{
	for (;;) {
		struct rd_cursor *best = NULL;
		size_t i;
		int ret;

		for (i = 0; i < r->n_cur; i++) {
			struct rd_cursor *c = &r->cur[i];

			if (cursor_peek(r, c))
				return -1;
			if (c->done)
				continue;
			if (!best || c->ts < best->ts ||
			    (c->ts == best->ts && c->tie < best->tie))
				best = c;
		}
		if (!best) {
			if (r->next_chunk >= r->n_chunks)
				return 0;
			if (open_chunk(r))
				return -1;
			continue;
		}
		ret = decode(r, best, rec);
		if (ret)
			return ret;
	}
}

static int cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

struct archive_reader *archive_reader_open(const char *path)
{
	struct archive_reader *r = calloc(1, sizeof(*r));
	struct dirent *de;
	char meta[4096];
	DIR *d;

	if (!r || !(r->path = strdup(path)))
		goto fail;
	snprintf(meta, sizeof(meta), "%s/metadata", path);
	if (!access(meta, F_OK)) {
		r->single = true;
		r->n_chunks = 1;
		return r;
	}
	d = opendir(path);
	if (!d) {
		pr_err("%s: %m", path);
		goto fail;
	}
	while ((de = readdir(d))) {
		unsigned int num, *v;
		char end;

		if (sscanf(de->d_name, "chunk-%u%c", &num, &end) != 1)
			continue;
		v = realloc(r->chunks, (r->n_chunks + 1) * sizeof(*v));
		if (!v) {
			closedir(d);
			goto fail;
		}
		r->chunks = v;
		v[r->n_chunks++] = num;
	}
	closedir(d);
	if (!r->n_chunks) {
		pr_err("%s: no chunk-* directories and no metadata: not a "
		       "netrv archive",
		       path);
		errno = ENOENT;
		goto fail;
	}
	qsort(r->chunks, r->n_chunks, sizeof(*r->chunks), cmp_uint);
	return r;
fail:
	archive_reader_close(r);
	return NULL;
}

const char *archive_reader_node_name(const struct archive_reader *r,
				     uint32_t index)
{
	return index < r->n_nodes ? r->nodes[index]->name : NULL;
}

void archive_reader_close(struct archive_reader *r)
{
	size_t i;
	int err = errno;

	if (!r)
		return;
	chunk_free(r);
	for (i = 0; i < r->n_nodes; i++) {
		free(r->nodes[i]->name);
		free(r->nodes[i]);
	}
	free(r->nodes);
	for (i = 0; i < r->n_types; i++) {
		netrv__event_type__free_unpacked(r->types[i]->t, NULL);
		free(r->types[i]->packed);
		free(r->types[i]->store);
		free(r->types[i]);
	}
	free(r->types);
	free(r->vals);
	bytebuf_release(&r->str1);
	bytebuf_release(&r->str2);
	free(r->chunks);
	free(r->path);
	free(r);
	errno = err;
}

long long archive_replay(struct archive_reader *r, struct consumer *consumers,
			 void (*record)(const struct archive_record *rec,
					void *arg),
			 void *arg)
{
	struct archive_record rec;
	uint64_t last = 0;
	long long n = 0;
	struct consumer *c;
	int ret;

	while ((ret = archive_reader_next(r, &rec)) > 0) {
		n++;
		if (record)
			record(&rec, arg);
		if (rec.stamp > last)
			last = rec.stamp;
		for (c = consumers; c; c = c->next) {
			switch (rec.kind) {
			case AREC_EVENT:
				if (c->ops->event)
					c->ops->event(c, &rec.ev);
				break;
			case AREC_LOSS:
				if (c->ops->loss)
					c->ops->loss(c, rec.node, rec.tai_ns,
						     rec.to_tai, rec.count);
				break;
			case AREC_NODE_STATE:
				if (c->ops->node_state)
					c->ops->node_state(c, rec.node,
							   rec.state,
							   rec.tai_ns);
				break;
			case AREC_WATERMARK:
				if (c->ops->watermark)
					c->ops->watermark(c, rec.tai_ns);
				break;
			default: /* archived verdicts: for @record only */
				break;
			}
		}
	}
	if (ret < 0)
		return -1;
	for (c = consumers; c; c = c->next) {
		if (c->ops->watermark && last)
			c->ops->watermark(c, last);
	}
	return n;
}
