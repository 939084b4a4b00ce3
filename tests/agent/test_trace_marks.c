// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_trace_marks.c - the agent's per-CPU read marks (agent/trace.c)
 * against a scripted fake of the kernel's ring-buffer mapping.
 *
 * The mark says which sub-buffer was taken last (by its header stamp), up
 * to which byte, and the stamp of the last record taken.  An older mark
 * ("the last stamp and how many records had it") skipped a record with the
 * same stamp as the last one taken when it arrived a round later.  Equal
 * stamps are too rare on the real kernel to provoke, and the real
 * TRACE_MMAP_IOCTL_GET_READER cannot be scripted, so this test fakes it:
 * struct fake_rb is one CPU's mapping (meta page, then the sub-buffers by
 * id) with a writer that appends records as the kernel lays them out, and
 * __wrap_ioctl() (linked with -Wl,--wrap=ioctl) does GET_READER as
 * ring_buffer_map_get_reader() does.  Everything else is the agent's own
 * code: trace_drain(), trace_carry_pack() and trace_carry_load().
 *
 * A sub-buffer that opens with the header stamp of the one before, which
 * held records of that stamp only, is told from it by the kernel's
 * consumed-entries counter in the mark (is_marked()): the scripts make such
 * sub-buffers and kill the agent right after the round that swapped one in.
 *
 * The oracle is what the script wrote: per CPU, the records delivered
 * (released by a drain and "spooled" with its carry) must be exactly the
 * records written, in order, each once; over all CPUs the stamps never go
 * back.  A "restart" drops what was drained but not spooled (kill -9
 * between the drain and its spool write), builds a new trace from the last
 * spooled carry and renumbers the sub-buffers, as every new mapping does.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The marks, the mapping's fields and the sources live in trace.c's static
 * functions and its private struct trace; a test seam in that file would
 * be more code to keep than including it here.  The library's own trace.o
 * is then never pulled from libnetrv_agent.a: this file defines all of its
 * symbols.
 */
#include "../../agent/trace.c"
#include "check.h"

#define SB_SIZE 256u /* bytes per sub-buffer, header included */
#define SB_HDR 16u
#define SB_CAP (SB_SIZE - SB_HDR)
#define META_SIZE 4096u
#define NR_SB 6u /* sub-buffers per CPU, the reader's included */
#define MAX_CPUS 3
#define FAKE_FD 1000 /* fd of the fake of cpu c: FAKE_FD + c */
#define OUR_KID 7 /* common_type of the one schema type */
#define OTHER_KID 9 /* a type the schema does not know */
#define NONE UINT32_MAX
#define SLACK_NS 1000000ULL

/* --- the fake kernel ring buffer --------------------------------------- */

/*
 * One CPU's ring buffer as its mapping shows it.  Sub-buffers are kept in
 * the mapping itself, at META_SIZE + id * SB_SIZE; the ring is kept as
 * lists of ids: the reader's, the written ones not yet swapped in (oldest
 * first; the writer's is the last of them, or the reader's own after a
 * GET_READER swapped the writer's sub-buffer in), and the free ones.
 */
struct fake_rb {
	uint8_t *map;
	struct rb_meta *meta;
	uint32_t reader; /* id of the reader sub-buffer */
	uint32_t reader_read; /* its data bytes handed out */
	uint32_t reader_nread; /* its data records handed out */
	uint32_t writer; /* id the writer appends to, NONE before any */
	uint64_t writer_ts; /* stamp of the writer's last record */
	uint32_t q[NR_SB], nq; /* written, waiting to be the reader */
	uint32_t free_ids[NR_SB], nfree;
	uint32_t nrec[NR_SB]; /* data records in each sub-buffer */
	uint64_t entries, read; /* the kernel's counters */
	uint32_t opened; /* sub-buffers the writer moved to */
	uint32_t swaps; /* sub-buffers GET_READER swapped in */
};

static struct fake_rb *fakes[MAX_CPUS];

static uint8_t *fake_sb(struct fake_rb *f, uint32_t id)
{
	return f->map + META_SIZE + (size_t)id * SB_SIZE;
}

static uint32_t fake_commit(struct fake_rb *f, uint32_t id)
{
	uint64_t c;

	memcpy(&c, fake_sb(f, id) + 8, 8);
	return (uint32_t)c;
}

static void fake_set_commit(struct fake_rb *f, uint32_t id, uint32_t c)
{
	uint64_t v = c;

	memcpy(fake_sb(f, id) + 8, &v, 8);
}

static void put32(struct fake_rb *f, uint32_t id, uint32_t v)
{
	uint32_t c = fake_commit(f, id);

	memcpy(fake_sb(f, id) + SB_HDR + c, &v, 4);
	fake_set_commit(f, id, c + 4);
}

/* rb_update_meta_page() */
static void fake_update_meta(struct fake_rb *f)
{
	f->meta->reader.id = f->reader;
	f->meta->reader.read = f->reader_read;
	f->meta->reader.lost_events = 0;
	f->meta->entries = f->entries;
	f->meta->overrun = 0; /* the writer never overwrites: see fake_write */
	f->meta->read = f->read;
}

static struct fake_rb *fake_create(void)
{
	struct fake_rb *f = calloc(1, sizeof(*f));

	if (!f || !(f->map = calloc(1, META_SIZE + NR_SB * SB_SIZE))) {
		free(f);
		return NULL;
	}
	f->meta = (struct rb_meta *)f->map;
	f->meta->meta_page_size = META_SIZE;
	f->meta->meta_struct_len = sizeof(struct rb_meta);
	f->meta->subbuf_size = SB_SIZE;
	f->meta->nr_subbufs = NR_SB;
	f->reader = 0; /* an empty reader sub-buffer, as at allocation */
	f->writer = NONE;
	for (uint32_t i = 1; i < NR_SB; i++)
		f->free_ids[f->nfree++] = i;
	fake_update_meta(f);
	return f;
}

static void fake_destroy(struct fake_rb *f)
{
	if (f)
		free(f->map);
	free(f);
}

static uint32_t rec_bytes(uint32_t len)
{
	return len <= 112 ? 4 + len : 8 + len;
}

/* Nothing is left that a GET_READER would hand out. */
static bool fake_empty(struct fake_rb *f)
{
	return f->reader_read == fake_commit(f, f->reader) && !f->nq;
}

/*
 * Append a data record of @len bytes (a multiple of 4, at least 8) with
 * stamp @ts, laid out as the kernel's writer does: the first record of a
 * sub-buffer sets its header stamp and has delta 0, a delta too big for 27
 * bits goes into a time extend, a record that does not fit pads the rest
 * of the sub-buffer (a discarded event, delta 1) and opens the next one.
 * The fake never overwrites unread data (no overrun): return -1 when the
 * ring is full, and the script drains first.
 */
static int fake_write(struct fake_rb *f, uint64_t ts, const uint8_t *data,
		      uint32_t len)
{
	uint32_t need = rec_bytes(len), w = f->writer;
	uint64_t delta = w == NONE ? 0 : ts - f->writer_ts;

	if (delta >= 1u << 27)
		need += 8;
	if (w == NONE || fake_commit(f, w) + need > SB_CAP) {
		if (!f->nfree)
			return -1;
		if (w != NONE && SB_CAP - fake_commit(f, w) >= 8) {
			uint32_t rest = SB_CAP - fake_commit(f, w);

			put32(f, w, (1u << 5) | 29);
			put32(f, w, rest - 4);
			fake_set_commit(f, w, SB_CAP);
		}
		w = f->free_ids[0];
		memmove(f->free_ids, f->free_ids + 1,
			--f->nfree * sizeof(*f->free_ids));
		/* rb_init_page(): a new header, the old bytes stay behind it */
		memset(fake_sb(f, w), 0, SB_HDR);
		memcpy(fake_sb(f, w), &ts, 8);
		f->nrec[w] = 0;
		f->q[f->nq++] = w;
		f->writer = w;
		f->opened++;
		delta = 0;
	}
	if (delta >= 1u << 27) {
		put32(f, w, (uint32_t)(delta & ((1u << 27) - 1)) << 5 | 30);
		put32(f, w, (uint32_t)(delta >> 27));
		delta = 0;
	}
	if (len <= 112) {
		put32(f, w, (uint32_t)delta << 5 | len / 4);
	} else {
		put32(f, w, (uint32_t)delta << 5);
		put32(f, w, len + 4);
	}
	memcpy(fake_sb(f, w) + SB_HDR + fake_commit(f, w), data, len);
	fake_set_commit(f, w, fake_commit(f, w) + len);
	f->writer_ts = ts;
	f->nrec[w]++;
	f->entries++;
	return 0;
}

/*
 * Would a record of @len bytes at @ts open a sub-buffer whose header stamp
 * is the same as the one before it (that one holds nothing but @ts)?
 */
static bool fake_same_header(struct fake_rb *f, uint64_t ts, uint32_t len)
{
	uint32_t need = rec_bytes(len) + (ts - f->writer_ts >= 1u << 27) * 8;
	uint64_t stamp;

	if (f->writer == NONE || fake_commit(f, f->writer) + need <= SB_CAP)
		return false;
	memcpy(&stamp, fake_sb(f, f->writer), 8);
	return stamp == ts;
}

/*
 * ring_buffer_map_get_reader(): while the buffer is not empty, if the
 * reader sub-buffer has bytes not handed out, hand them all out (reader
 * read = commit) and stop; else swap the oldest written sub-buffer in as
 * the reader (the old reader goes back to the ring) and look again.  Then
 * rb_update_meta_page().
 */
static void fake_get_reader(struct fake_rb *f)
{
	while (!fake_empty(f)) {
		if (f->reader_read < fake_commit(f, f->reader)) {
			f->read += f->nrec[f->reader] - f->reader_nread;
			f->reader_nread = f->nrec[f->reader];
			f->reader_read = fake_commit(f, f->reader);
			break;
		}
		f->free_ids[f->nfree++] = f->reader;
		f->reader = f->q[0];
		memmove(f->q, f->q + 1, --f->nq * sizeof(*f->q));
		f->reader_read = 0;
		f->reader_nread = 0;
		f->swaps++;
	}
	fake_update_meta(f);
}

/*
 * ring_buffer_reset_cpu() (a trace clock or buffer size change): every
 * sub-buffer emptied (commit 0, header stamps left behind), the reader's
 * stays the reader, the counters start from 0.
 */
static void fake_reset(struct fake_rb *f)
{
	f->nq = 0;
	f->nfree = 0;
	for (uint32_t i = 0; i < NR_SB; i++) {
		fake_set_commit(f, i, 0);
		f->nrec[i] = 0;
		if (i != f->reader)
			f->free_ids[f->nfree++] = i;
	}
	f->writer = NONE;
	f->reader_read = 0;
	f->reader_nread = 0;
	f->entries = 0;
	f->read = 0;
	fake_update_meta(f);
}

/* A new mapping numbers the sub-buffers anew: move each to id perm[id]. */
static void fake_renumber(struct fake_rb *f, const uint32_t *perm)
{
	uint8_t old[NR_SB * SB_SIZE];
	uint32_t nrec[NR_SB];

	memcpy(old, fake_sb(f, 0), sizeof(old));
	memcpy(nrec, f->nrec, sizeof(nrec));
	for (uint32_t i = 0; i < NR_SB; i++) {
		memcpy(fake_sb(f, perm[i]), old + i * SB_SIZE, SB_SIZE);
		f->nrec[perm[i]] = nrec[i];
	}
	f->reader = perm[f->reader];
	if (f->writer != NONE)
		f->writer = perm[f->writer];
	for (uint32_t i = 0; i < f->nq; i++)
		f->q[i] = perm[f->q[i]];
	for (uint32_t i = 0; i < f->nfree; i++)
		f->free_ids[i] = perm[f->free_ids[i]];
	fake_update_meta(f);
}

int __real_ioctl(int fd, unsigned long req, ...);

/* Every ioctl() of this program: GET_READER on a fake's fd goes to it. */
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	if (fd >= FAKE_FD && fd < FAKE_FD + MAX_CPUS && fakes[fd - FAKE_FD]) {
		if (req != TRACE_MMAP_IOCTL_GET_READER) {
			errno = ENOTTY;
			return -1;
		}
		fake_get_reader(fakes[fd - FAKE_FD]);
		return 0;
	}
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	return __real_ioctl(fd, req, arg);
}

/* --- the agent's side, and the oracle ---------------------------------- */

struct wrec {
	uint64_t ts;
	uint32_t id; /* the record's number in the script, in its payload */
	uint32_t len;
};

struct wlist {
	struct wrec *v;
	size_t n, cap;
};

static int wlist_add(struct wlist *l, uint64_t ts, uint32_t id, uint32_t len)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		struct wrec *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct wrec){ ts, id, len };
	return 0;
}

struct world {
	int n_cpus;
	struct fake_rb *rb[MAX_CPUS];
	struct trace *t;
	struct bytebuf carry; /* the last spooled carry */
	bool have_carry;
	struct wlist written[MAX_CPUS]; /* the oracle: our records written */
	struct wlist pending[MAX_CPUS]; /* drained, not spooled yet */
	struct wlist delivered[MAX_CPUS]; /* drained and spooled */
	uint64_t last_ts; /* of the delivered records, over all CPUs */
	uint64_t pending_ts; /* of the pending ones */
	uint32_t next_id;
	unsigned int bad; /* delivered records that broke a rule */
	bool more; /* the last drain's */
};

static int16_t by_kernel_id[65536];
static struct schema_type test_type = { .src = SCHEMA_SRC_TEP,
					.kernel_id = OUR_KID };
static struct schema test_schema = { .id = 0x6d61726b73,
				     .n_types = 1,
				     .types = &test_type,
				     .raw_data_id = -1,
				     .by_kernel_id = by_kernel_id };

/* What map_cpu() and trace_open() set up, on the fakes. */
static int world_open(struct world *w)
{
	struct trace *t = calloc(1, sizeof(*t));

	w->t = t;
	if (!t || !(t->cpus = calloc(w->n_cpus, sizeof(*t->cpus))) ||
	    !(t->page = malloc(SB_SIZE)))
		return -1;
	t->schema = &test_schema;
	t->n_cpus = w->n_cpus;
	t->page_size = SB_SIZE;
	t->clockid = CLOCK_MONOTONIC;
	t->slack_ns = SLACK_NS;
	snprintf(t->boot_id, sizeof(t->boot_id), "test_trace_marks\n");
	for (int c = 0; c < w->n_cpus; c++) {
		struct trace_cpu *tc = &t->cpus[c];

		tc->fd = FAKE_FD + c;
		tc->map = w->rb[c]->map;
		tc->map_len = META_SIZE + NR_SB * SB_SIZE;
		tc->meta = w->rb[c]->meta;
		tc->cur_id = UINT32_MAX;
		tc->fresh = true;
	}
	return 0;
}

static void world_close_trace(struct world *w)
{
	struct trace *t = w->t;

	if (!t)
		return;
	/* the mappings, fds and schema are the fakes', not the trace's */
	for (int c = 0; t->cpus && c < t->n_cpus; c++) {
		t->cpus[c].map = NULL;
		t->cpus[c].fd = -1;
	}
	t->schema = NULL;
	trace_close(t, false);
	w->t = NULL;
}

static int world_init(struct world *w, int n_cpus)
{
	memset(w, 0, sizeof(*w));
	w->n_cpus = n_cpus;
	for (int c = 0; c < n_cpus; c++)
		if (!(fakes[c] = w->rb[c] = fake_create()))
			return -1;
	return world_open(w);
}

static void world_free(struct world *w)
{
	world_close_trace(w);
	for (int c = 0; c < MAX_CPUS; c++) {
		fake_destroy(w->rb[c]);
		fakes[c] = NULL;
		free(w->written[c].v);
		free(w->pending[c].v);
		free(w->delivered[c].v);
	}
	bytebuf_release(&w->carry);
}

/* Write one record on @cpu; @ours: a type in the schema. */
static int world_write(struct world *w, int cpu, uint64_t ts, uint32_t len,
		       bool ours)
{
	uint8_t data[256];
	uint16_t kid = ours ? OUR_KID : OTHER_KID, c16 = (uint16_t)cpu;
	uint32_t id = w->next_id++;

	memcpy(data, &kid, 2);
	memcpy(data + 2, &c16, 2);
	memcpy(data + 4, &id, 4);
	for (uint32_t i = 8; i < len; i++)
		data[i] = (uint8_t)(id * 7 + i);
	if (fake_write(w->rb[cpu], ts, data, len))
		return -1;
	return ours ? wlist_add(&w->written[cpu], ts, id, len) : 0;
}

static int world_round(struct world *w);

/* Write, draining first while the ring is full (as the agent would). */
static int world_put(struct world *w, int cpu, uint64_t ts, uint32_t len,
		     bool ours)
{
	for (int tries = 0; world_write(w, cpu, ts, len, ours); tries++)
		if (tries == 8 || world_round(w))
			return -1;
	return 0;
}

/* A released record: its bytes must be the ones written. */
static int take_rec(struct world *w, const struct trace_rec *r)
{
	const uint8_t *d = trace_rec_data(w->t, r);
	uint16_t kid, cpu;
	uint32_t id;
	bool ok = r->len >= 8 && r->type == 0;

	if (ok) {
		memcpy(&kid, d, 2);
		memcpy(&cpu, d + 2, 2);
		memcpy(&id, d + 4, 4);
		ok = kid == OUR_KID && cpu == r->cpu;
		for (uint32_t i = 8; ok && i < r->len; i++)
			ok = d[i] == (uint8_t)(id * 7 + i);
	}
	if (!ok || (int)r->cpu >= w->n_cpus) {
		w->bad++;
		return 0;
	}
	return wlist_add(&w->pending[r->cpu], r->ts, id, r->len);
}

/* One trace_drain(); its records wait in w->pending for the spool. */
static int world_drain(struct world *w)
{
	const struct trace_rec *recs;
	const struct trace_loss *losses;
	size_t n, n_losses;
	uint64_t wm;

	if (trace_drain(w->t, &recs, &n, &wm, &losses, &n_losses, &w->more))
		return -1;
	w->bad += n_losses > 0; /* nothing was overwritten, nobody lost */
	for (size_t i = 0; i < n; i++) {
		if (recs[i].ts < w->pending_ts)
			w->bad++; /* the local order went back */
		w->pending_ts = recs[i].ts;
		if (take_rec(w, &recs[i]))
			return -1;
	}
	return 0;
}

/* The spool write: the drained records and the carry, at once. */
static int world_spool(struct world *w, bool clean)
{
	for (int c = 0; c < w->n_cpus; c++) {
		struct wlist *p = &w->pending[c];

		for (size_t i = 0; i < p->n; i++) {
			if (wlist_add(&w->delivered[c], p->v[i].ts, p->v[i].id,
				      p->v[i].len))
				return -1;
		}
		p->n = 0;
	}
	w->last_ts = w->pending_ts;
	if (trace_carry_pack(w->t, &w->carry, clean))
		return -1;
	w->have_carry = true;
	return 0;
}

static int world_round(struct world *w)
{
	return world_drain(w) || world_spool(w, false) ? -1 : 0;
}

static uint64_t header_stamp(struct fake_rb *f, uint32_t id)
{
	uint64_t stamp;

	memcpy(&stamp, fake_sb(f, id), 8);
	return stamp;
}

/*
 * Kills right after a round whose GET_READER swapped in a sub-buffer with
 * the same header stamp as the marked one: the case is_marked() is for.
 */
static size_t same_header_kills;

/* A drain that a kill -9 will interrupt before its spool write. */
static int world_drain_killed(struct world *w)
{
	uint32_t swaps[MAX_CPUS];
	uint64_t mark[MAX_CPUS];

	for (int c = 0; c < w->n_cpus; c++) {
		swaps[c] = w->rb[c]->swaps;
		mark[c] = w->t->cpus[c].cur_read ? w->t->cpus[c].cur_stamp : 0;
	}
	if (world_drain(w))
		return -1;
	for (int c = 0; c < w->n_cpus; c++)
		same_header_kills +=
			w->rb[c]->swaps != swaps[c] && mark[c] &&
			header_stamp(w->rb[c], w->rb[c]->reader) == mark[c];
	return 0;
}

/*
 * The agent stops (kill -9 after the last spool write, or a clean exit
 * when @clean) and starts again on a new mapping: numbered anew by
 * @seed, from the spooled carry.  What was drained since is lost with the
 * process, and is in the kernel still.
 */
static int world_restart(struct world *w, bool clean, unsigned int seed)
{
	int r;

	if (clean && world_spool(w, true))
		return -1;
	for (int c = 0; c < w->n_cpus; c++)
		w->pending[c].n = 0;
	w->pending_ts = w->last_ts;
	world_close_trace(w);
	for (int c = 0; c < w->n_cpus; c++) {
		uint32_t perm[NR_SB];

		for (uint32_t i = 0; i < NR_SB; i++)
			perm[i] = i;
		for (uint32_t i = NR_SB - 1; i > 0; i--) {
			uint32_t j = (seed = seed * 1103515245 + 12345) %
				     (i + 1),
				 x = perm[i];

			perm[i] = perm[j];
			perm[j] = x;
		}
		fake_renumber(w->rb[c], perm);
	}
	if (world_open(w))
		return -1;
	if (!w->have_carry)
		return 0;
	r = trace_carry_load(w->t, w->carry.data, w->carry.len);
	if (r < 0 || r != clean)
		return -1;
	/* as the agent does after a clean carry: a kill from now is unclean */
	return r == 1 ? world_spool(w, false) : 0;
}

/*
 * Rewrite the last spooled carry as an NRCARY4 agent wrote it: its magic,
 * and per CPU a mark of 20 bytes, without the read counter.
 */
static int carry_to_v4(struct world *w)
{
	const uint64_t magic = 0x3459524143524eULL;
	uint8_t *p = w->carry.data;
	size_t n = (size_t)w->n_cpus;

	if (!w->have_carry || w->carry.len < 64 + n * CARRY_MARK + 4)
		return -1;
	memcpy(p, &magic, 8);
	for (size_t c = 0; c < n; c++)
		memmove(p + 64 + c * CARRY_MARK4, p + 64 + c * CARRY_MARK,
			CARRY_MARK4);
	memmove(p + 64 + n * CARRY_MARK4, p + 64 + n * CARRY_MARK,
		w->carry.len - 64 - n * CARRY_MARK);
	w->carry.len -= n * (CARRY_MARK - CARRY_MARK4);
	return 0;
}

/* Drain until the fakes are empty and nothing is held. */
static int world_flush(struct world *w)
{
	for (int i = 0; i < 4 * (int)NR_SB + 4; i++) {
		bool empty = !w->t->n_held;

		for (int c = 0; c < w->n_cpus; c++)
			empty &= fake_empty(w->rb[c]);
		if (empty && i > 0)
			return 0;
		if (world_round(w))
			return -1;
	}
	return -1;
}

/*
 * The oracle: per CPU, the delivered records are the written ones, in
 * order, each once; over all CPUs no stamp went back (checked as they
 * were drained).  Return: the records out of place, 0 if none.
 */
static size_t world_mismatches(struct world *w, bool verbose)
{
	size_t bad = w->bad;

	for (int c = 0; c < w->n_cpus; c++) {
		struct wlist *a = &w->written[c], *b = &w->delivered[c];
		size_t n = a->n < b->n ? a->n : b->n, first = SIZE_MAX;

		for (size_t i = 0; i < n; i++) {
			if (a->v[i].ts == b->v[i].ts &&
			    a->v[i].id == b->v[i].id &&
			    a->v[i].len == b->v[i].len)
				continue;
			bad++;
			if (first == SIZE_MAX)
				first = i;
		}
		bad += a->n > b->n ? a->n - b->n : b->n - a->n;
		if (first == SIZE_MAX)
			first = n;
		if (!verbose || (first == n && a->n == b->n))
			continue;
		fprintf(stderr,
			"  cpu%d: %zu written, %zu delivered, first difference at %zu:",
			c, a->n, b->n, first);
		if (first < a->n)
			fprintf(stderr, " written id %u ts %llu",
				a->v[first].id,
				(unsigned long long)a->v[first].ts);
		if (first < b->n)
			fprintf(stderr, " delivered id %u ts %llu",
				b->v[first].id,
				(unsigned long long)b->v[first].ts);
		fprintf(stderr, "\n");
	}
	if (verbose && w->bad)
		fprintf(stderr,
			"  %u records broke the order, a payload or a loss report\n",
			w->bad);
	return bad;
}

/* Record lengths for the hand-made cases: small, a mix, length words. */
static const uint32_t sizes[][4] = {
	{ 8, 8, 8, 8 },
	{ 12, 40, 8, 20 },
	{ 116, 8, 36, 120 }, /* > 112: type_len 0 with a length word */
};

#define T0 1000000ULL /* stamps long past on CLOCK_MONOTONIC */

/* --- 1: equal stamps split across two rounds on the writer's sub-buffer */

static void test_split_same_subbuf(void)
{
	size_t cases = 0, bad = 0;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		/* how many records fill one sub-buffer with these sizes */
		uint32_t fill = 0, used = 0;

		while (used + rec_bytes(sizes[s][fill % 4]) <= SB_CAP)
			used += rec_bytes(sizes[s][fill++ % 4]);
		/* a first record with an older stamp, or all equal */
		for (int lead = 0; lead < 2; lead++) {
			for (uint32_t k = 0; k <= fill; k++) {
				struct world w;
				uint64_t ts = T0;
				bool ok = false;

				if (world_init(&w, 1) || world_round(&w))
					goto next;
				for (uint32_t i = 0; i < fill; i++) {
					if (i == k && world_round(&w))
						goto next;
					if (i == k && k > 0 &&
					    w.rb[0]->reader != w.rb[0]->writer)
						goto next; /* not what we test */
					if (world_write(&w, 0,
							ts + (lead && i > 0),
							sizes[s][i % 4], true))
						goto next;
				}
				/* nothing padded: still one sub-buffer */
				if (w.rb[0]->nq > 1 || world_round(&w) ||
				    world_flush(&w))
					goto next;
				ok = true;
next:
				if (!ok || world_mismatches(&w, true)) {
					fprintf(stderr,
						"  split: sizes %zu, lead %d, first round after %u of %u records\n",
						s, lead, k, fill);
					bad++;
				}
				cases++;
				world_free(&w);
			}
		}
	}
	printf("split on the writer's sub-buffer: %zu cases, %zu failed\n",
	       cases, bad);
	CHECK(cases > 30);
	CHECK_INT(bad, 0);
}

/* --- 2: equal stamps across a sub-buffer boundary ----------------------- */

static void test_across_subbufs(void)
{
	size_t cases = 0, bad = 0;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		/* a run of equal stamps from the middle of one sub-buffer
		 * into the next, a round after record k */
		uint32_t n = 0, used = 0;

		while (used + rec_bytes(sizes[s][n % 4]) <= SB_CAP)
			used += rec_bytes(sizes[s][n++ % 4]);
		n += n / 2 + 1;
		for (uint32_t k = 0; k <= n; k++) {
			struct world w;
			bool ok = false;

			if (world_init(&w, 1) || world_round(&w))
				goto next;
			for (uint32_t i = 0; i < n; i++) {
				uint64_t ts = T0 + (i < n / 3 ? i : n / 3);

				if (i == k && world_round(&w))
					goto next;
				if (world_write(&w, 0, ts, sizes[s][i % 4],
						true))
					goto next;
			}
			/* the run did cross into a second sub-buffer */
			if (w.rb[0]->opened < 2)
				goto next;
			if (world_round(&w) || world_flush(&w))
				goto next;
			ok = true;
next:
			if (!ok || world_mismatches(&w, true)) {
				fprintf(stderr,
					"  across: sizes %zu, round after %u of %u records\n",
					s, k, n);
				bad++;
			}
			cases++;
			world_free(&w);
		}
	}
	printf("equal stamps across sub-buffers: %zu cases, %zu failed\n",
	       cases, bad);
	CHECK(cases > 30);
	CHECK_INT(bad, 0);
}

/* --- 3: restarts -------------------------------------------------------- */

/*
 * Stamps of test_restart(): @v 0, two runs of equal stamps, each shorter
 * than a sub-buffer; @v 1, one run over three sub-buffers, each opening
 * with the stamp of the one before, which holds nothing else.
 */
static uint64_t restart_ts(int v, uint32_t i)
{
	if (v)
		return T0 + (i < 4 ? i : i < 34 ? 4 : i - 29);
	return T0 + (i < 12 ? i :
		     i < 20 ? 12 :
		     i < 28 ? i - 7 :
		     i < 35 ? 21 :
			      i - 13);
}

/*
 * Records 0..n-1, a round after record k and after every 6th record from
 * there, a restart after record r: after a spool write (kill -9 or clean
 * exit), or between a round and its spool write (kill -9), on a mapping
 * numbered anew.
 */
static void test_restart(void)
{
	size_t cases = 0, bad = 0, swapped = 0, kills0 = same_header_kills;
	const uint32_t n = 40;

	for (int how = 0; how < 6; how++) {
		for (uint32_t k = 0; k <= n; k += 2) {
			for (uint32_t r = 0; r <= n; r++) {
				struct world w;
				bool ok = false;
				int v = how / 3;
				uint32_t sw;

				if (world_init(&w, 1) || world_round(&w))
					goto next;
				for (uint32_t i = 0; i <= n; i++) {
					if (i >= k && (i - k) % 6 == 0 &&
					    world_round(&w))
						goto next;
					sw = w.rb[0]->swaps;
					if (i == r && how % 3 == 2 &&
					    world_drain_killed(&w))
						goto next;
					swapped += w.rb[0]->swaps != sw;
					if (i == r &&
					    world_restart(&w, how % 3 == 1,
							  k * 131 + r))
						goto next;
					if (i == n)
						break;
					if (world_put(&w, 0, restart_ts(v, i),
						      sizes[1][i % 4], true))
						goto next;
				}
				if (world_flush(&w))
					goto next;
				ok = true;
next:
				if (!ok || world_mismatches(&w, true)) {
					fprintf(stderr,
						"  restart: stamps %d, how %d, rounds from %u, restart after %u of %u records\n",
						v, how % 3, k, r, n);
					bad++;
				}
				cases++;
				world_free(&w);
			}
		}
	}
	kills0 = same_header_kills - kills0;
	printf("restarts: %zu cases (%zu killed after a round that swapped in a sub-buffer, %zu of them one with the marked one's header stamp), %zu failed\n",
	       cases, swapped, kills0, bad);
	CHECK(cases > 2000);
	CHECK(swapped > 50);
	CHECK(kills0 > 20);
	CHECK_INT(bad, 0);
}

/* --- 4: the caught-up rule ---------------------------------------------- */

static uint64_t released_max(struct world *w, int cpu)
{
	struct wlist *p = &w->pending[cpu];

	return p->n ? p->v[p->n - 1].ts : 0;
}

static void test_caught_up(void)
{
	uint64_t future = clocks_now(CLOCK_MONOTONIC) + 3600000000000ULL;
	struct world w;
	uint64_t last0;

	/*
	 * Both CPUs handed out all they had: everything older than the drain
	 * minus order_slack is released, newer records are held.
	 */
	REQUIRE(!world_init(&w, 2) && !world_round(&w));
	for (int i = 0; i < 3; i++) {
		REQUIRE(!world_write(&w, 0, T0 + 10 * i, 8, true));
		REQUIRE(!world_write(&w, 1, T0 + 10 * i + 5, 8, true));
	}
	REQUIRE(!world_write(&w, 1, future, 8, true));
	REQUIRE(!world_drain(&w));
	CHECK_INT(w.pending[0].n, 3);
	CHECK_INT(w.pending[1].n, 3);
	CHECK_INT(w.t->n_held, 1);
	CHECK(w.t->n_held == 1 && w.t->held[0].ts == future);
	CHECK(!w.more);
	REQUIRE(!world_spool(&w, false));
	/* nothing new: still caught up, the future record still held */
	REQUIRE(!world_drain(&w));
	CHECK_INT(w.pending[0].n + w.pending[1].n, 0);
	CHECK_INT(w.t->n_held, 1);
	world_free(&w);

	/*
	 * CPU 0 has more than one sub-buffer: after one GET_READER it is not
	 * caught up, and nothing newer than its last record taken may go
	 * out yet, from any CPU.  Its next sub-buffer opens with the same
	 * stamp as that record.
	 */
	REQUIRE(!world_init(&w, 2) && !world_round(&w));
	for (uint32_t i = 0; i < 30; i++) /* 20 bytes each: 12 fit */
		REQUIRE(!world_write(&w, 0, T0 + (i < 14 ? 10 * i : 130), 16,
				     true));
	REQUIRE(w.rb[0]->nq == 3);
	for (uint32_t i = 0; i < 20; i++) /* 12 bytes each: all fit */
		REQUIRE(!world_write(&w, 1, T0 + 7 * i, 8, true));
	REQUIRE(w.rb[1]->nq == 1);
	REQUIRE(!world_drain(&w));
	last0 = released_max(&w, 0);
	CHECK_INT(w.pending[0].n, 12);
	CHECK_INT(last0, T0 + 110);
	/* CPU 1 was caught up: its records up to CPU 0's mark, no more */
	CHECK_INT(released_max(&w, 1), T0 + 105);
	CHECK_INT(w.pending[1].n, 16);
	CHECK_INT(w.t->n_held, 4);
	CHECK(w.more);
	REQUIRE(!world_spool(&w, false));
	/* the next sub-buffer: 12 more of CPU 0, up to stamp 130 */
	REQUIRE(!world_drain(&w));
	CHECK_INT(w.pending[0].n, 12);
	CHECK_INT(released_max(&w, 0), T0 + 130);
	CHECK_INT(released_max(&w, 1), T0 + 126);
	CHECK_INT(w.t->n_held, 1);
	REQUIRE(!world_spool(&w, false));
	/* the rest of CPU 0, all stamped 130: now both are caught up */
	REQUIRE(!world_drain(&w));
	CHECK_INT(w.pending[0].n, 6);
	CHECK_INT(released_max(&w, 0), T0 + 130);
	CHECK_INT(w.pending[1].n, 1);
	CHECK_INT(released_max(&w, 1), T0 + 133);
	CHECK_INT(w.t->n_held, 0);
	CHECK(!w.more);
	REQUIRE(!world_spool(&w, false));
	REQUIRE(!world_flush(&w));
	CHECK_INT(world_mismatches(&w, true), 0);
out:
	world_free(&w);
}

/*
 * --- 5: a sub-buffer opening with the stamp of the marked one ----------
 *
 * A holds 12 records of one stamp, exactly full; B opens with that stamp.
 * A round swaps B in and a kill -9 comes before its spool write: after the
 * restart both headers say the same, and only the read counter in the mark
 * tells B from A (a stamp alone lost all 12 records of B).  @v4: the carry
 * is rewritten as an NRCARY4 agent wrote it, without the counter.
 */
static void same_header(bool v4, size_t *mismatches)
{
	struct world w;

	*mismatches = SIZE_MAX;
	REQUIRE(!world_init(&w, 1) && !world_round(&w));
	for (int i = 0; i < 12; i++)
		REQUIRE(!world_write(&w, 0, T0 + 100, 16, true));
	REQUIRE(!world_round(&w)); /* the mark: A, byte 240, stamp 100 */
	/* B: 6 more of stamp 100, then 6 of 101 */
	for (int i = 0; i < 12; i++)
		REQUIRE(!world_write(&w, 0, T0 + 100 + (i >= 6), 16, true));
	REQUIRE(w.rb[0]->opened == 2);
	REQUIRE(!world_drain_killed(&w));
	REQUIRE(header_stamp(w.rb[0], w.rb[0]->reader) == T0 + 100);
	if (v4)
		REQUIRE(!carry_to_v4(&w));
	REQUIRE(!world_restart(&w, false, 1));
	REQUIRE(!world_flush(&w));
	*mismatches = world_mismatches(&w, !v4);
out:
	world_free(&w);
}

static void test_same_header(void)
{
	size_t bad, bad4;

	same_header(false, &bad);
	CHECK_INT(bad, 0);
	/* documented fallback: an old carry knows A by its stamp alone */
	same_header(true, &bad4);
	printf("same header stamp after a kill: %zu records missed with an NRCARY5 carry, %zu with an NRCARY4 one (stamp only)\n",
	       bad, bad4);
	CHECK(bad4 != SIZE_MAX);
}

/*
 * --- 6: old carries, resets ----------------------------------------------
 *
 * An NRCARY4 carry (no read counter) still loads and restarts without loss
 * where the stamps tell the sub-buffers apart, also when the agent that
 * loaded it is killed before its first round (its carry must not make up
 * a counter).
 */
static void test_carry_v4(void)
{
	size_t cases = 0, bad = 0;

	for (uint32_t r = 1; r < 40; r++) {
		struct world w;
		bool ok = false;

		if (world_init(&w, 1) || world_round(&w))
			goto next;
		for (uint32_t i = 0; i < 40; i++) {
			if (i % 5 == 0 && world_round(&w))
				goto next;
			if (i == r &&
			    (world_drain_killed(&w) || carry_to_v4(&w) ||
			     world_restart(&w, false, r)))
				goto next;
			/*
			 * Killed again before a round: the carry it wrote
			 * keeps the marks, still without a counter.
			 */
			if (i == r && (world_spool(&w, false) ||
				       world_restart(&w, false, r + 1)))
				goto next;
			if (i == r && w.t->cpus[0].have_entries)
				goto next;
			if (world_put(&w, 0, T0 + 3 * i, sizes[1][i % 4], true))
				goto next;
		}
		if (world_flush(&w))
			goto next;
		ok = true;
next:
		if (!ok || world_mismatches(&w, true)) {
			fprintf(stderr, "  NRCARY4: restart after %u records\n",
				r);
			bad++;
		}
		cases++;
		world_free(&w);
	}
	printf("NRCARY4 carries: %zu restarts, %zu failed\n", cases, bad);
	CHECK_INT(bad, 0);
}

/*
 * The buffer is reset (the kernel's counter starts from 0 again), here
 * while the agent runs: its last round swaps in B, written after the
 * reset and opening with the marked stamp, and is killed before its spool
 * write.  The mark's counter (24) is ahead of the kernel's (12): B is
 * parsed from its start, nothing is lost or sent twice.  With @kill_first
 * the agent is killed before the reset and the reader sub-buffer is the
 * emptied A: the same.
 */
static void test_reset(void)
{
	for (int kill_first = 0; kill_first < 2; kill_first++) {
		struct world w;

		REQUIRE(!world_init(&w, 1) && !world_round(&w));
		for (int i = 0; i < 24; i++) /* 12 distinct, 12 of stamp 100 */
			REQUIRE(!world_write(&w, 0, T0 + (i < 12 ? i : 100), 16,
					     true));
		REQUIRE(!world_flush(&w));
		REQUIRE(w.t->cpus[0].cur_entries == 24);
		if (kill_first)
			REQUIRE(!world_restart(&w, false, 3));
		fake_reset(w.rb[0]);
		for (int i = 0; i < 12; i++)
			REQUIRE(!world_write(&w, 0, T0 + 100 + (i >= 6), 16,
					     true));
		if (!kill_first) {
			REQUIRE(!world_drain_killed(&w));
			REQUIRE(header_stamp(w.rb[0], w.rb[0]->reader) ==
				T0 + 100);
			REQUIRE(w.rb[0]->meta->read == 12);
			REQUIRE(!world_restart(&w, false, 3));
		}
		REQUIRE(!world_flush(&w));
		CHECK_INT(world_mismatches(&w, true), 0);
out:
		world_free(&w);
	}
}

/*
 * A carry whose counter is ahead of the kernel's while the reader
 * sub-buffer has the marked stamp (as after a reset, or another consumer):
 * it is not taken for the marked one and is parsed from its start.  What
 * was taken of it before comes again (the documented duplicates); nothing
 * is lost.
 */
static void test_counter_ahead(void)
{
	struct world w;
	uint64_t ahead;
	struct wlist *a, *b;
	size_t first = 5, dup_ok = 0;

	REQUIRE(!world_init(&w, 1) && !world_round(&w));
	for (uint32_t i = 0; i < 10; i++) {
		if (i == first)
			REQUIRE(!world_round(&w)); /* the mark: 5 records */
		REQUIRE(!world_write(&w, 0, T0 + i, 16, true));
	}
	/* the counter sits after the per-CPU mark's first 20 bytes */
	memcpy(&ahead, w.carry.data + 64 + 20, 8);
	REQUIRE(ahead == first);
	ahead += 1000;
	memcpy(w.carry.data + 64 + 20, &ahead, 8);
	REQUIRE(!world_restart(&w, false, 5));
	REQUIRE(!world_flush(&w));
	a = &w.written[0];
	b = &w.delivered[0];
	/* delivered: records 0..4, then 0..9 again from the start */
	CHECK_INT(b->n, a->n + first);
	for (size_t i = 0; i < b->n && i < a->n + first; i++) {
		size_t k = i < first ? i : i - first;

		dup_ok += b->v[i].id == a->v[k].id && b->v[i].ts == a->v[k].ts;
	}
	CHECK_INT(dup_ok, a->n + first);
out:
	world_free(&w);
}

/* --- 7: random scripts -------------------------------------------------- */

static unsigned int rnd(uint64_t *s, unsigned int n)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (unsigned int)(*s % n);
}

/* Sub-buffers the scripts opened with the stamp of an all-equal one. */
static size_t same_header_opened;

/* Return: 0 if the script delivered every record once, in order. */
static int run_script(uint64_t seed, bool verbose, size_t *recs)
{
	struct world w;
	uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1, ts = T0;
	unsigned int steps = 50 + rnd(&s, 250), eq_left = 0;
	int ret = -1;

	if (world_init(&w, 1 + (int)rnd(&s, MAX_CPUS)) || world_round(&w))
		goto out;
	for (unsigned int i = 0; i < steps; i++) {
		unsigned int a = rnd(&s, 100);

		if (a < 70) {
			int cpu = (int)rnd(&s, (unsigned int)w.n_cpus);
			uint32_t len = 8 + 4 * rnd(&s, 10);
			bool ours = rnd(&s, 10);

			if (!rnd(&s, 8))
				len = 8 + 4 * rnd(&s, 50);
			if (eq_left) {
				eq_left--;
			} else {
				ts += rnd(&s, 50) ? 1 + rnd(&s, 1000) :
						    (1u << 27) + rnd(&s, 1000);
				if (!rnd(&s, 3))
					eq_left = 1 + rnd(&s, 25);
			}
			same_header_opened +=
				ours && fake_same_header(w.rb[cpu], ts, len);
			if (world_put(&w, cpu, ts, len, ours))
				goto out;
		} else if (a < 94) {
			if (world_round(&w))
				goto out;
		} else if (a < 97) {
			/* kill -9 between a round and its spool write */
			if (world_drain_killed(&w) ||
			    world_restart(&w, false, (unsigned int)s))
				goto out;
		} else {
			if (world_restart(&w, !rnd(&s, 3), (unsigned int)s))
				goto out;
		}
	}
	if (world_flush(&w))
		goto out;
	ret = 0;
out:
	if (ret && verbose)
		fprintf(stderr, "  script %llu: a step failed\n",
			(unsigned long long)seed);
	if (world_mismatches(&w, verbose))
		ret = -1;
	for (int c = 0; c < w.n_cpus; c++)
		*recs += w.written[c].n;
	world_free(&w);
	return ret;
}

/*
 * Random scripts of writes, rounds, kills and clean restarts on up to
 * three CPUs.  Runs of equal stamps fill whole 256-byte sub-buffers often
 * (a 4 KB one of one nanosecond stamp does not happen on a real clock), so
 * sub-buffers open with the stamp of an all-equal one before them, and
 * kills come right after rounds that swapped such a one in.
 */
static void test_random(void)
{
	size_t recs = 0, failed = 0, kills0 = same_header_kills;
	uint64_t first = 0;
	const char *one = getenv("MARKS_SCRIPT");

	if (one) { /* MARKS_SCRIPT=N: script N alone, with the agent's debug */
		log_setup("test_trace_marks", LOG_DEBUG);
		CHECK(!run_script(strtoull(one, NULL, 10), true, &recs));
		return;
	}

	for (uint64_t seed = 1; seed <= 2000; seed++) {
		if (!run_script(seed, false, &recs))
			continue;
		if (!failed++)
			first = seed;
	}
	kills0 = same_header_kills - kills0;
	printf("random scripts: 2000, %zu records, %zu sub-buffers opened with the stamp of an all-equal one, %zu kills right after one was swapped in, %zu failed\n",
	       recs, same_header_opened, kills0, failed);
	CHECK(same_header_opened > 100);
	CHECK(kills0 > 5);
	if (failed) {
		size_t n = 0;

		fprintf(stderr, "  first failing script: %llu\n",
			(unsigned long long)first);
		run_script(first, true, &n);
	}
	CHECK_INT(failed, 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	for (size_t i = 0; i < 65536; i++)
		by_kernel_id[i] = -1;
	by_kernel_id[OUR_KID] = 0;
	log_setup("test_trace_marks", LOG_WARNING);
	/* the stamps of the scripts must lie in the past of the drains */
	if (!CHECK(clocks_now(CLOCK_MONOTONIC) > T0 + 100000000000ULL))
		return check_summary(argv[0]);
	test_split_same_subbuf();
	test_across_subbufs();
	test_restart();
	test_caught_up();
	test_same_header();
	test_carry_v4();
	test_reset();
	test_counter_ahead();
	test_random();
	return check_summary(argv[0]);
}
