// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * spool.c - the on-disk store of batches not yet acknowledged.
 *
 * A spool is a directory of segment files "seg-<first seq>.nrs", each a
 * sequence of records:
 *
 *   0       4       8       16        20        24        28   32       40       48
 *   | magic | crc32 | seq   | frame_len | carry_len | n_events | flags | first_ns | last_ns | frame | carry |
 *
 * (little-endian; crc32 covers bytes 8..47 and the payload).  seq 0 marks a
 * carry-only record.  The frame is the whole Batch frame as sent; the carry
 * holds records read from the kernel but not yet safe to send (trace.c):
 * only the newest record's carry counts.  All records of one drain go out in
 * one write() and count only together: every one but the last has
 * SPOOL_MORE in its flags, and the carry rides on the last.  A write torn
 * by a kill -9 (the kernel stops copying at a fatal signal), a crash or a
 * full disk leaves a prefix, which is cut at open back to the last whole
 * drain, so batches and carry never disagree.
 *
 * The newest segment is never deleted: its name and records keep the next
 * sequence number across restarts.  Older segments go when every batch in
 * them is acknowledged, or - the spool being over its size - when they are
 * the oldest: then their unacknowledged batches are reported as loss.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#define LOG_SUBSYS "spool"
#include "agent.h"
#include "log.h"

#define REC_MAGIC 0x5053524eu /* "NRSP" */
#define REC_HDR 48

struct seg {
	uint64_t name_seq;
	int fd;
	uint64_t size;
};

struct entry {
	uint64_t seq;
	uint64_t name_seq; /* the segment it lives in */
	uint64_t off; /* of the frame */
	uint32_t len;
	struct spool_info info;
};

struct spool {
	char *dir;
	uint64_t max_bytes, seg_bytes;
	bool sync;
	struct seg *segs;
	size_t n_segs;
	struct entry *ents;
	size_t n_ents, cap_ents;
	uint64_t next_seq, acked;
	struct bytebuf carry, wbuf;
	bool lost;
	struct spool_info loss;
};

static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, hdr + 8, REC_HDR - 8);
	c = crc32(c, payload, (uInt)len);
	return (uint32_t)c;
}

static void seg_path(const struct spool *s, uint64_t name_seq, char *buf,
		     size_t len)
{
	snprintf(buf, len, "%s/seg-%020" PRIu64 ".nrs", s->dir, name_seq);
}

static struct seg *seg_find(struct spool *s, uint64_t name_seq)
{
	for (size_t i = 0; i < s->n_segs; i++)
		if (s->segs[i].name_seq == name_seq)
			return &s->segs[i];
	return NULL;
}

static int add_entry(struct spool *s, const struct entry *e)
{
	if (s->n_ents == s->cap_ents) {
		size_t nc = s->cap_ents ? 2 * s->cap_ents : 256;
		struct entry *n = realloc(s->ents, nc * sizeof(*n));

		if (!n)
			return -1;
		s->ents = n;
		s->cap_ents = nc;
	}
	s->ents[s->n_ents++] = *e;
	return 0;
}

/* Check every record of @g; cut at the first bad one's append. */
static int scan_seg(struct spool *s, struct seg *g)
{
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t off = 0, whole = 0, whole_next = s->next_seq;
	size_t whole_ents = s->n_ents;

	if (fstat(g->fd, &st))
		return -1;
	if (st.st_size) {
		buf = malloc(st.st_size);
		if (!buf || pread(g->fd, buf, st.st_size, 0) != st.st_size) {
			free(buf);
			return -1;
		}
	}
	while (off + REC_HDR <= (uint64_t)st.st_size) {
		const uint8_t *h = buf + off;
		uint32_t magic, crc, flen, clen;
		struct entry e = { 0 };
		bool more;

		memcpy(&magic, h, 4);
		memcpy(&crc, h + 4, 4);
		memcpy(&e.seq, h + 8, 8);
		memcpy(&flen, h + 16, 4);
		memcpy(&clen, h + 20, 4);
		memcpy(&e.info.n_events, h + 24, 4);
		memcpy(&e.info.flags, h + 28, 4);
		memcpy(&e.info.first_ns, h + 32, 8);
		memcpy(&e.info.last_ns, h + 40, 8);
		more = e.info.flags & SPOOL_MORE;
		e.info.flags &= ~SPOOL_MORE;
		if (magic != REC_MAGIC ||
		    (uint64_t)flen + clen >
			    (uint64_t)st.st_size - off - REC_HDR ||
		    rec_crc(h, h + REC_HDR, (size_t)flen + clen) != crc)
			break;
		if (e.seq) {
			e.info.seq = e.seq;
			e.name_seq = g->name_seq;
			e.off = off + REC_HDR;
			e.len = flen;
			if (e.seq < s->next_seq) {
				pr_err("segment %" PRIu64 ": seq %" PRIu64
				       " out of order; cut here",
				       g->name_seq, e.seq);
				break;
			}
			if (add_entry(s, &e))
				goto fail;
			s->next_seq = e.seq + 1;
		}
		off += REC_HDR + flen + clen;
		if (more)
			continue;
		/* an append is whole; the newest carry wins, in any segment */
		whole = off;
		whole_next = s->next_seq;
		whole_ents = s->n_ents;
		s->carry.len = 0;
		if (clen) {
			if (bytebuf_reserve(&s->carry, clen))
				goto fail;
			memcpy(s->carry.data, h + REC_HDR + flen, clen);
			s->carry.len = clen;
		}
	}
	/* forget the records of a torn append */
	off = whole;
	s->next_seq = whole_next;
	s->n_ents = whole_ents;
	if (off != (uint64_t)st.st_size) {
		pr_warning("segment %" PRIu64
			   ": corrupt or torn tail at byte %" PRIu64
			   " of %lld cut off",
			   g->name_seq, off, (long long)st.st_size);
		if (ftruncate(g->fd, (off_t)off))
			goto fail;
	}
	g->size = off;
	free(buf);
	return 0;
fail:
	free(buf);
	return -1;
}

static int name_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->name_seq < y->name_seq ? -1 : x->name_seq > y->name_seq;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes,
			 uint64_t seg_bytes, bool sync)
{
	struct spool *s = calloc(1, sizeof(*s));
	struct dirent *de;
	DIR *d;

	if (!s)
		return NULL;
	s->dir = strdup(dir);
	s->max_bytes = max_bytes;
	s->seg_bytes = seg_bytes;
	s->sync = sync;
	s->next_seq = 1;
	if (!s->dir)
		goto fail;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %m", dir);
		goto fail;
	}
	d = opendir(dir);
	if (!d) {
		pr_err("cannot open %s: %m", dir);
		goto fail;
	}
	while ((de = readdir(d))) {
		unsigned long long n;
		char path[4096];
		struct seg *ns;
		int used = 0;

		if (sscanf(de->d_name, "seg-%llu.nrs%n", &n, &used) != 1 ||
		    de->d_name[used])
			continue;
		ns = realloc(s->segs, (s->n_segs + 1) * sizeof(*ns));
		if (!ns) {
			closedir(d);
			goto fail;
		}
		s->segs = ns;
		seg_path(s, n, path, sizeof(path));
		ns[s->n_segs].name_seq = n;
		ns[s->n_segs].size = 0;
		ns[s->n_segs].fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
		if (ns[s->n_segs].fd < 0) {
			pr_err("%s: %m", path);
			closedir(d);
			goto fail;
		}
		s->n_segs++;
	}
	closedir(d);
	if (s->n_segs)
		qsort(s->segs, s->n_segs, sizeof(*s->segs), name_cmp);
	for (size_t i = 0; i < s->n_segs; i++) {
		if (s->segs[i].name_seq > s->next_seq)
			s->next_seq = s->segs[i].name_seq;
		if (scan_seg(s, &s->segs[i])) {
			pr_err("cannot read segment %" PRIu64 ": %m",
			       s->segs[i].name_seq);
			goto fail;
		}
	}
	pr_info("%s: %zu batches spooled in %zu segments, next seq %" PRIu64,
		dir, s->n_ents, s->n_segs, s->next_seq);
	return s;
fail:
	spool_close(s);
	return NULL;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_segs; i++)
		close(s->segs[i].fd);
	free(s->segs);
	free(s->ents);
	free(s->dir);
	bytebuf_release(&s->carry);
	bytebuf_release(&s->wbuf);
	free(s);
}

uint64_t spool_next_seq(const struct spool *s)
{
	return s->next_seq;
}

const struct bytebuf *spool_last_carry(const struct spool *s)
{
	return &s->carry;
}

uint64_t spool_first_seq(const struct spool *s)
{
	return s->n_ents ? s->ents[0].seq : s->next_seq;
}

uint64_t spool_bytes(const struct spool *s)
{
	uint64_t b = 0;

	for (size_t i = 0; i < s->n_segs; i++)
		b += s->segs[i].size;
	return b;
}

static void put_hdr(uint8_t *h, uint64_t seq, uint32_t flen, uint32_t clen,
		    const struct spool_info *info, bool more)
{
	uint32_t magic = REC_MAGIC, n = info ? info->n_events : 0;
	uint32_t flags = (info ? info->flags : 0) | (more ? SPOOL_MORE : 0);
	uint64_t first = info ? info->first_ns : 0;
	uint64_t last = info ? info->last_ns : 0;

	memcpy(h, &magic, 4);
	memcpy(h + 8, &seq, 8);
	memcpy(h + 16, &flen, 4);
	memcpy(h + 20, &clen, 4);
	memcpy(h + 24, &n, 4);
	memcpy(h + 28, &flags, 4);
	memcpy(h + 32, &first, 8);
	memcpy(h + 40, &last, 8);
}

static struct seg *new_seg(struct spool *s)
{
	struct seg *ns = realloc(s->segs, (s->n_segs + 1) * sizeof(*ns));
	char path[4096];
	int fd;

	if (!ns)
		return NULL;
	s->segs = ns;
	seg_path(s, s->next_seq, path, sizeof(path));
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	ns[s->n_segs].name_seq = s->next_seq;
	ns[s->n_segs].fd = fd;
	ns[s->n_segs].size = 0;
	return &ns[s->n_segs++];
}

static void drop_seg(struct spool *s, size_t idx)
{
	char path[4096];
	uint64_t name = s->segs[idx].name_seq;
	size_t k = 0;

	for (size_t i = 0; i < s->n_ents && s->ents[i].name_seq == name; i++) {
		const struct spool_info *in = &s->ents[i].info;

		k = i + 1;
		if (in->seq <= s->acked)
			continue;
		if (!s->lost) {
			s->loss = *in;
			s->loss.n_events = 0;
		}
		s->lost = true;
		s->loss.n_events += in->n_events;
		if (in->first_ns < s->loss.first_ns)
			s->loss.first_ns = in->first_ns;
		if (in->last_ns > s->loss.last_ns)
			s->loss.last_ns = in->last_ns;
	}
	memmove(s->ents, s->ents + k, (s->n_ents - k) * sizeof(*s->ents));
	s->n_ents -= k;
	close(s->segs[idx].fd);
	seg_path(s, name, path, sizeof(path));
	unlink(path);
	memmove(s->segs + idx, s->segs + idx + 1,
		(s->n_segs - idx - 1) * sizeof(*s->segs));
	s->n_segs--;
}

int spool_append(struct spool *s, const struct bytebuf *frames,
		 const size_t *frame_len, const struct spool_info *info,
		 size_t n, const struct bytebuf *carry)
{
	size_t total = 0, off = 0, wpos;
	size_t n_recs = n ? n : 1;
	struct seg *g;
	uint64_t base;

	for (size_t i = 0; i < n; i++)
		total += REC_HDR + frame_len[i];
	if (!n)
		total = REC_HDR;
	total += carry ? carry->len : 0;
	/*
	 * A segment is named after the next seq when it starts.  Records
	 * without a batch (carry only) do not advance it, so a segment
	 * holding no batch yet is never closed: a new one would get the
	 * same name, share its file and give its batches wrong offsets.
	 * Such a segment exceeds seg_bytes by the carries of one hold-back.
	 */
	g = s->n_segs ? &s->segs[s->n_segs - 1] : NULL;
	if (!g || (g->size && g->size + total > s->seg_bytes &&
		   g->name_seq != s->next_seq))
		g = new_seg(s);
	if (!g)
		return -1;
	s->wbuf.len = 0;
	if (bytebuf_reserve(&s->wbuf, total))
		return -1;
	for (size_t i = 0; i < n_recs; i++) {
		bool last = i + 1 == n_recs;
		uint32_t flen = n ? (uint32_t)frame_len[i] : 0;
		uint32_t clen = last && carry ? (uint32_t)carry->len : 0;
		uint8_t *h = s->wbuf.data + s->wbuf.len;
		uint32_t crc;

		put_hdr(h, n ? s->next_seq + i : 0, flen, clen,
			n ? &info[i] : NULL, !last);
		if (flen)
			memcpy(h + REC_HDR, frames->data + off, flen);
		if (clen)
			memcpy(h + REC_HDR + flen, carry->data, clen);
		crc = rec_crc(h, h + REC_HDR, flen + clen);
		memcpy(h + 4, &crc, 4);
		s->wbuf.len += REC_HDR + flen + clen;
		off += flen;
	}
	if (write(g->fd, s->wbuf.data, s->wbuf.len) != (ssize_t)s->wbuf.len) {
		int e = errno ? errno : ENOSPC;

		/* Leave no partial record behind. */
		if (ftruncate(g->fd, (off_t)g->size))
			pr_err("cannot cut a failed append: %m");
		errno = e;
		return -1;
	}
	if (s->sync && fdatasync(g->fd))
		return -1;
	wpos = g->size;
	base = s->next_seq;
	off = 0;
	for (size_t i = 0; i < n; i++) {
		struct entry e = { .seq = base + i,
				   .name_seq = g->name_seq,
				   .off = wpos + REC_HDR,
				   .len = (uint32_t)frame_len[i],
				   .info = info[i] };

		e.info.seq = e.seq;
		if (add_entry(s, &e))
			return -1;
		wpos += REC_HDR + frame_len[i];
	}
	g->size += s->wbuf.len;
	s->next_seq += n;
	s->carry.len = 0;
	if (carry && carry->len && !bytebuf_reserve(&s->carry, carry->len)) {
		memcpy(s->carry.data, carry->data, carry->len);
		s->carry.len = carry->len;
	}
	while (s->n_segs > 1 && spool_bytes(s) > s->max_bytes) {
		pr_warning("spool over %" PRIu64
			   " bytes: dropping segment %" PRIu64
			   " (reported as loss)",
			   s->max_bytes, s->segs[0].name_seq);
		drop_seg(s, 0);
	}
	return 0;
}

static struct entry *find(struct spool *s, uint64_t seq)
{
	size_t lo = 0, hi = s->n_ents;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->ents[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n_ents && s->ents[lo].seq == seq ? &s->ents[lo] : NULL;
}

int spool_read(struct spool *s, uint64_t seq, struct bytebuf *out,
	       struct spool_info *info)
{
	struct entry *e = find(s, seq);
	struct seg *g;

	if (!e)
		return 0;
	g = seg_find(s, e->name_seq);
	out->len = 0;
	if (!g || bytebuf_reserve(out, e->len))
		return -1;
	if (pread(g->fd, out->data, e->len, (off_t)e->off) != e->len)
		return -1;
	out->len = e->len;
	if (info)
		*info = e->info;
	return 1;
}

void spool_ack(struct spool *s, uint64_t seq)
{
	if (seq > s->acked)
		s->acked = seq;
	while (s->n_segs > 1) {
		uint64_t name = s->segs[0].name_seq;
		uint64_t last = 0;

		for (size_t i = 0; i < s->n_ents && s->ents[i].name_seq == name;
		     i++)
			last = s->ents[i].seq;
		if (last > s->acked)
			break;
		drop_seg(s, 0);
	}
}

bool spool_take_loss(struct spool *s, struct spool_info *lost)
{
	if (!s->lost)
		return false;
	*lost = s->loss;
	s->lost = false;
	return true;
}
