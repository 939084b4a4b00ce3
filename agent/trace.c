// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * trace.c - the agent's tracefs instance and the reading of its buffers.
 *
 * The instance is named in the config and re-used across restarts: nothing
 * that would reset its ring buffers (trace clock, buffer size) is written
 * unless it differs, so records made while the agent was down are read
 * after it comes back.
 *
 * A timer calls trace_drain(): each CPU's trace_pipe_raw is memory-mapped
 * (the kernel's ring-buffer mapping, 6.10+; libtracefs 1.6 has no wrapper)
 * and TRACE_MMAP_IOCTL_GET_READER hands out the reader sub-buffer, which is
 * parsed by subbuf.c.  Nobody polls, so writers never pay for wake-ups.
 * Where the mapping fails (older kernels) or agent.read_mode says so, the
 * sub-buffers come from read() instead (see read_next()).  Either source
 * only says where a sub-buffer's bytes are (the mapping, parsed in place,
 * or t->page that read() filled); take_subbuf() parses them.
 *
 * Why mmap and not read(): read() consumes, so a kill -9 between read()
 * and the spool write loses what was read.  With the mapping, the reader
 * sub-buffer stays where it is until the next GET_READER, and survives the
 * agent.  Per CPU, the carry keeps a mark: which sub-buffer was taken last
 * (its header time stamp: the kernel numbers sub-buffers anew at every
 * mapping), up to which byte, the kernel's count of consumed entries after
 * the GET_READER that handed those bytes out (meta->read), and the stamp
 * of the last record taken.  After a restart the reader sub-buffer is
 * parsed again: if it is the marked one, from the marked byte on, else
 * from its start.  The caller spools between rounds: each round takes at
 * most one new sub-buffer per CPU, so the sub-buffer before the marked one
 * was taken whole.  A header stamp alone does not tell the marked
 * sub-buffer from the next one when both open with the same stamp: see
 * is_marked() for how the counter does.
 *
 * The records of all CPUs are sorted into one local order.  A record is
 * released only when no CPU can still deliver an older one: for a CPU read
 * until caught up (GET_READER handed out all it had committed, or read()
 * found it empty), that is anything older than the drain's start minus
 * order_slack (a writer between reserve and commit); for a CPU with more to
 * read, anything not newer than its last record.  The rest is held for the
 * next drain and goes into the spool as the "carry", so a kill -9 loses it
 * neither.  The sub-buffer headers give exact overrun counts per CPU.
 *
 * Read mode has the window mmap closes: what read() returned is gone from
 * the kernel, so a kill -9 between a round's read() and its spool write
 * loses that round.  The carry therefore says whether it was written at a
 * clean exit; after any other exit each CPU reports a loss of unknown
 * count (0) from its last record taken to its first record read now.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>
#include <traceevent/event-parse.h>
#include <tracefs/tracefs.h>

#define LOG_SUBSYS "trace"
#include "agent.h"
#include "clocks.h"
#include "log.h"

/* The kernel's struct trace_buffer_meta (include/uapi/linux/trace_mmap.h) */
struct rb_meta {
	uint32_t meta_page_size;
	uint32_t meta_struct_len;
	uint32_t subbuf_size;
	uint32_t nr_subbufs;
	struct {
		uint64_t lost_events;
		uint32_t id;
		uint32_t read;
	} reader;
	uint64_t flags;
	uint64_t entries;
	uint64_t overrun;
	uint64_t read;
};

#define TRACE_MMAP_IOCTL_GET_READER _IO('R', 0x20)
#define CARRY_MAGIC3 0x3359524143524eULL /* "NRCARY3": no flags */
#define CARRY_MAGIC4 0x3459524143524eULL /* "NRCARY4": no read counter */
#define CARRY_MAGIC 0x3559524143524eULL /* "NRCARY5" */
#define CARRY_MARK4 20 /* bytes per CPU in NRCARY3 and NRCARY4 */
#define CARRY_MARK 28 /* bytes per CPU */
#define CARRY_NO_ENTRIES UINT64_MAX /* a mark without meta->read */
#define CARRY_CLEAN 1u /* written at a clean exit, after the last round */
#define CARRY_READ 2u /* written by an agent in read mode */

enum { READ_MODE_AUTO, READ_MODE_MMAP, READ_MODE_READ };

struct trace_cpu {
	int fd;
	uint8_t *map;
	size_t map_len;
	struct rb_meta *meta;
	bool fresh; /* mapped, no GET_READER yet */
	/* the mark: sub-buffer taken last, how far, its last record's stamp */
	uint32_t cur_id; /* its number in this mapping, UINT32_MAX: none */
	uint64_t cur_stamp; /* its header time stamp, across mappings */
	uint32_t cur_read; /* bytes of it taken */
	uint64_t cur_entries; /* meta->read after they were handed out */
	bool have_entries; /* cur_entries is known (not an NRCARY4 mark) */
	uint64_t last_ts;
	uint64_t got; /* bytes parsed since trace_take_peak() */
	bool more; /* the last drain left data in the buffer */
	bool gap; /* read mode after an unclean exit: report the lost round */
	uint64_t wm; /* the last drain's mark for the watermark */
};

/* The bytes of one sub-buffer that a source hands out. */
struct subbuf {
	const uint8_t *page; /* the sub-buffer: the mapping's, or t->page */
	size_t len; /* bytes readable at @page */
	uint32_t start, end; /* data bytes [start, end) are new */
	bool fresh; /* first look at it: its missed-events count is news */
	bool copy; /* @page is reused before the records are encoded */
};

struct trace {
	struct tracefs_instance *inst;
	struct tep_handle *tep;
	struct schema *schema;
	int n_cpus;
	struct trace_cpu *cpus;
	void *page; /* read mode: the sub-buffer read() fills */
	size_t page_size;
	bool use_read; /* read() instead of the mapping */
	int reads; /* read mode: sub-buffers per CPU and round */
	char boot_id[40];
	char clock_name[8];
	clockid_t clockid;
	uint64_t slack_ns;
	char **events;
	int n_events;
	/* records: all read and held (recs), the held copy (held) */
	struct trace_rec *recs, *held, *tmp;
	size_t n_recs, cap_recs, n_held, cap_held, cap_tmp;
	struct bytebuf arena, held_arena;
	uint32_t seq;
	struct trace_loss *losses;
	size_t n_losses, cap_losses;
	uint64_t skipped;
	bool losses_given; /* the last drain handed t->losses out */
};

static int split_events(const char *list, char ***out)
{
	char *copy = strdup(list ? list : ""), *save = NULL, *tok;
	int n = 0;

	*out = NULL;
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, " \t,", &save); tok;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char **nv;

		if (!strcmp(tok, "none"))
			continue;
		nv = realloc(*out, (n + 1) * sizeof(**out));
		if (!nv || !(nv[n] = strdup(tok))) {
			free(nv ? nv : *out);
			free(copy);
			return -1;
		}
		*out = nv;
		n++;
	}
	free(copy);
	return n;
}

/* Disable events of a re-used instance that the config no longer names. */
static void disable_stale(struct trace *t)
{
	char *cur = tracefs_instance_file_read(t->inst, "set_event", NULL);
	char *save = NULL, *line;

	for (line = cur ? strtok_r(cur, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		bool keep = false;
		char *name;

		for (int i = 0; i < t->n_events; i++)
			keep |= !strcmp(line, t->events[i]);
		if (keep || !(name = strchr(line, ':')))
			continue;
		*name++ = '\0';
		tracefs_event_disable(t->inst, line, name);
		pr_info("disabled %s:%s (no longer configured)", line, name);
	}
	free(cur);
}

static int setup_instance(struct trace *t, const struct config *cfg)
{
	const char *clock = t->clock_name;
	uint64_t want_kb =
		(uint64_t)config_int(cfg, "agent", "buffer_size") / 1024;
	char *cur = tracefs_get_clock(t->inst);
	ssize_t cur_kb;
	uint64_t want_sub;
	char buf[32], *sub;

	if (!cur || strcmp(cur, clock)) {
		/* This resets the buffers: only on a new or changed instance. */
		if (tracefs_instance_file_write(t->inst, "trace_clock", clock) <
		    0) {
			pr_err("cannot set trace clock %s: %m", clock);
			free(cur);
			return -1;
		}
	}
	free(cur);
	/* Like the buffer size: changing it drops what is recorded. */
	want_sub = (uint64_t)config_int(cfg, "agent", "subbuf_size") / 1024;
	sub = tracefs_instance_file_read(t->inst, "buffer_subbuf_size_kb",
					 NULL);
	if (sub && strtoull(sub, NULL, 10) != want_sub) {
		snprintf(buf, sizeof(buf), "%llu",
			 (unsigned long long)want_sub);
		if (tracefs_instance_file_write(
			    t->inst, "buffer_subbuf_size_kb", buf) < 0) {
			pr_err("cannot set sub-buffer size %s KB: %m", buf);
			free(sub);
			return -1;
		}
	}
	free(sub);
	cur_kb = tracefs_instance_get_buffer_size(t->inst, 0);
	/*
	 * The kernel rounds the size up to whole sub-buffers (4096 KB reads
	 * back as 4099).  Resizing drops what is written meanwhile, without
	 * counting it as overrun: only resize when the size really differs.
	 */
	if (cur_kb < 0 || (uint64_t)cur_kb < want_kb ||
	    (uint64_t)cur_kb > want_kb + want_kb / 64 + 64) {
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)want_kb);
		if (tracefs_instance_file_write(t->inst, "buffer_size_kb",
						buf) < 0) {
			pr_err("cannot set buffer size %s KB: %m", buf);
			return -1;
		}
	}
	/* poll() on a CPU's pipe says readable when it is this full */
	snprintf(buf, sizeof(buf), "%lld",
		 (long long)config_int(cfg, "agent", "wake_percent"));
	if (tracefs_instance_file_write(t->inst, "buffer_percent", buf) < 0) {
		pr_err("cannot set buffer_percent %s: %m", buf);
		return -1;
	}
	/* the scope first: enabled events record only whom it lets through */
	if (scope_apply(t->inst,
			(enum scope_mode)config_enum(cfg, "agent", "scope"),
			config_string(cfg, "agent", "pids"), false))
		return -1;
	disable_stale(t);
	for (int i = 0; i < t->n_events; i++) {
		char sys[128], *name;

		snprintf(sys, sizeof(sys), "%s", t->events[i]);
		name = strchr(sys, ':');
		if (!name) {
			pr_err("event '%s' is not \"system:name\"",
			       t->events[i]);
			return -1;
		}
		*name++ = '\0';
		if (tracefs_event_enable(t->inst, sys, name)) {
			pr_err("cannot enable %s:%s: %m (is it in available_events?)",
			       sys, name);
			return -1;
		}
	}
	if (tracefs_trace_on(t->inst)) {
		pr_err("cannot turn tracing on: %m");
		return -1;
	}
	return 0;
}

static struct tep_handle *load_formats(struct trace *t)
{
	const char *systems[64];
	struct tep_handle *tep;
	int n = 0, cut = 0;

	systems[n++] = "ftrace";
	for (int i = 0; i < t->n_events && n < 63; i++, cut++) {
		size_t len = strcspn(t->events[i], ":");
		bool dup = false;

		t->events[i][len] = '\0';
		for (int j = 0; j < n; j++)
			dup |= !strcmp(systems[j], t->events[i]);
		if (!dup)
			systems[n++] = t->events[i];
	}
	systems[n] = NULL;
	tep = tracefs_local_events_system(NULL, systems);
	/* systems[] pointed into events[]: put the ':' back */
	for (int i = 0; i < cut; i++)
		t->events[i][strlen(t->events[i])] = ':';
	return tep;
}

/* Map @c's ring buffer.  Return: 0, or -1 with errno (nothing logged). */
static int map_cpu(struct trace *t, int c)
{
	struct trace_cpu *tc = &t->cpus[c];
	struct rb_meta *m;
	long pg = getpagesize();

	m = mmap(NULL, pg, PROT_READ, MAP_SHARED, tc->fd, 0);
	if (m == MAP_FAILED)
		return -1;
	tc->map_len =
		m->meta_page_size + (size_t)m->subbuf_size * m->nr_subbufs;
	if (m->subbuf_size > t->page_size)
		t->page_size = m->subbuf_size;
	munmap(m, pg);
	tc->map = mmap(NULL, tc->map_len, PROT_READ, MAP_SHARED, tc->fd, 0);
	if (tc->map == MAP_FAILED) {
		tc->map = NULL;
		return -1;
	}
	tc->meta = (struct rb_meta *)tc->map;
	tc->cur_id = UINT32_MAX;
	tc->fresh = true;
	return 0;
}

static void unmap_cpus(struct trace *t)
{
	for (int c = 0; c < t->n_cpus; c++) {
		if (t->cpus[c].map)
			munmap(t->cpus[c].map, t->cpus[c].map_len);
		t->cpus[c].map = NULL;
	}
}

/*
 * Read mode reads whole sub-buffers with a plain non-blocking read() of the
 * fd we already hold (and poll for wake-ups), straight into t->page.
 * tracefs_cpu_read() would be the same read() behind another object;
 * tracefs_cpu_buffered_read() splices only full sub-buffers, so a partly
 * filled one would cost a tracefs_cpu_flush() and a pipe on top.  A read()
 * shorter than a sub-buffer leaves the rest in the kernel for the next
 * read(), without a header: the buffer must hold a whole sub-buffer.
 */
static int setup_read(struct trace *t, const struct config *cfg)
{
	char *kb = tracefs_instance_file_read(t->inst, "buffer_subbuf_size_kb",
					      NULL);
	size_t sub = kb ? strtoull(kb, NULL, 10) * 1024 : 0;
	int64_t want = config_int(cfg, "agent", "subbuf_size");

	free(kb);
	if (!sub) /* before 6.8 a sub-buffer is a page */
		sub = getpagesize();
	t->page_size = sub;
	/* spool about once per agent.subbuf_size, as the mapping does */
	t->reads = want > (int64_t)sub ? (int)(want / sub) : 1;
	return 0;
}

static int open_cpus(struct trace *t, const struct config *cfg)
{
	char *dir = tracefs_instance_get_dir(t->inst);
	int mode = config_enum(cfg, "agent", "read_mode");

	t->n_cpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	t->cpus = calloc(t->n_cpus, sizeof(*t->cpus));
	for (int c = 0; t->cpus && c < t->n_cpus; c++)
		t->cpus[c].fd = -1;
	if (!dir || !t->cpus)
		goto fail;
	t->use_read = mode == READ_MODE_READ;
	for (int c = 0; c < t->n_cpus; c++) {
		char path[4096];
		struct trace_cpu *tc = &t->cpus[c];

		snprintf(path, sizeof(path), "%s/per_cpu/cpu%d/trace_pipe_raw",
			 dir, c);
		tc->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (tc->fd < 0) {
			if (errno == ENOENT) /* CPU not possible */
				continue;
			pr_err("%s: %m", path);
			goto fail;
		}
		if (t->use_read || !map_cpu(t, c))
			continue;
		if (mode == READ_MODE_MMAP) {
			pr_err("mmap %s: %m (the ring-buffer mapping needs Linux 6.10 or later; set agent.read_mode = auto or read)",
			       path);
			goto fail;
		}
		pr_info("reading the buffers with read(): cannot map %s: %m (the mapping needs Linux 6.10 or later)",
			path);
		unmap_cpus(t);
		t->use_read = true;
	}
	if (t->use_read)
		setup_read(t, cfg);
	if (mode == READ_MODE_READ)
		pr_info("reading the buffers with read() (agent.read_mode = read)");
	else if (!t->use_read)
		pr_info("reading the buffers through their mapping (mmap, agent.read_mode = %s)",
			mode == READ_MODE_AUTO ? "auto" : "mmap");
	if (t->use_read)
		pr_info("read mode: %zu-byte sub-buffers, up to %d per CPU and round; a kill -9 loses the records of the round it interrupts (reported after the restart as a loss of unknown count)",
			t->page_size, t->reads);
	if (t->use_read && !(t->page = malloc(t->page_size)))
		goto fail;
	tracefs_put_tracing_file(dir);
	return 0;
fail:
	tracefs_put_tracing_file(dir);
	return -1;
}

/* The marks in a carry are only valid for the boot that wrote them. */
static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	memset(buf, 0, len);
	if (!f)
		return;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
}

struct trace *trace_open(const struct config *cfg)
{
	const char *name = config_string(cfg, "agent", "instance");
	struct trace *t = calloc(1, sizeof(*t));
	char **uprobe_events = NULL;
	int n_up;

	if (!t)
		return NULL;
	static const char *const clocks[] = { "mono", "boot", "tai" };

	snprintf(t->clock_name, sizeof(t->clock_name), "%s",
		 clocks[config_enum(cfg, "agent", "trace_clock")]);
	t->clockid = clocks_parse_trace_clock(t->clock_name);
	t->slack_ns = (uint64_t)config_int(cfg, "agent", "order_slack");
	t->n_events =
		split_events(config_string(cfg, "agent", "events"), &t->events);
	if (t->n_events < 0)
		goto fail;
	n_up = uprobe_create_all(cfg, &uprobe_events);
	if (n_up < 0)
		goto fail;
	if (n_up) {
		char **nv =
			realloc(t->events, (t->n_events + n_up) * sizeof(*nv));

		if (!nv) {
			for (int i = 0; i < n_up; i++)
				free(uprobe_events[i]);
			free(uprobe_events);
			goto fail;
		}
		memcpy(nv + t->n_events, uprobe_events, n_up * sizeof(*nv));
		free(uprobe_events);
		t->events = nv;
		t->n_events += n_up;
	}
	t->inst = tracefs_instance_create(name);
	if (!t->inst) {
		pr_err("cannot create tracefs instance %s: %m (is tracefs mounted at /sys/kernel/tracing, and are we root?)",
		       name);
		goto fail;
	}
	t->tep = load_formats(t);
	if (!t->tep) {
		pr_err("cannot read event formats: %m");
		goto fail;
	}
	t->schema = schema_create(t->tep, t->events, t->n_events, cfg);
	if (!t->schema)
		goto fail;
	if (setup_instance(t, cfg))
		goto fail;
	if (config_section(cfg, "marker", 0)) {
		char *dir = tracefs_instance_get_dir(t->inst);

		pr_info("markers: write to %s/trace_marker_raw",
			dir ? dir : "?");
		tracefs_put_tracing_file(dir);
	}
	read_boot_id(t->boot_id, sizeof(t->boot_id));
	if (open_cpus(t, cfg))
		goto fail;
	pr_info("instance %s: %d events, clock %s", name, t->n_events,
		t->clock_name);
	return t;
fail:
	trace_close(t, false);
	uprobe_destroy_all(cfg);
	return NULL;
}

void trace_close(struct trace *t, bool remove)
{
	if (!t)
		return;
	for (int c = 0; t->cpus && c < t->n_cpus; c++) {
		if (t->cpus[c].map)
			munmap(t->cpus[c].map, t->cpus[c].map_len);
		if (t->cpus[c].fd >= 0)
			close(t->cpus[c].fd);
	}
	free(t->cpus);
	if (t->inst) {
		if (remove) {
			tracefs_instance_destroy(t->inst);
			pr_info("removed instance %s",
				tracefs_instance_get_name(t->inst));
		}
		tracefs_instance_free(t->inst);
	}
	schema_destroy(t->schema);
	if (t->tep)
		tep_free(t->tep);
	for (int i = 0; i < t->n_events; i++)
		free(t->events[i]);
	free(t->events);
	free(t->page);
	free(t->recs);
	free(t->held);
	free(t->tmp);
	free(t->losses);
	bytebuf_release(&t->arena);
	bytebuf_release(&t->held_arena);
	free(t);
}

const struct schema *trace_schema(const struct trace *t)
{
	return t->schema;
}

clockid_t trace_clockid(const struct trace *t)
{
	return t->clockid;
}

const char *trace_clock_name(const struct trace *t)
{
	return t->clock_name;
}

struct tracefs_instance *trace_instance(const struct trace *t)
{
	return t->inst;
}

const uint8_t *trace_rec_data(const struct trace *t, const struct trace_rec *r)
{
	return r->data ? r->data : t->arena.data + r->off;
}

static int grow(void **arr, size_t *cap, size_t want, size_t elem)
{
	size_t nc = *cap ? *cap : 1024;
	void *n;

	if (want <= *cap)
		return 0;
	while (nc < want)
		nc *= 2;
	n = realloc(*arr, nc * elem);
	if (!n)
		return -1;
	*arr = n;
	*cap = nc;
	return 0;
}

static int add_loss(struct trace *t, uint32_t cpu, Netrv__LossReason reason,
		    uint64_t count, uint64_t from, uint64_t to)
{
	struct trace_loss *l;

	if (grow((void **)&t->losses, &t->cap_losses, t->n_losses + 1,
		 sizeof(*t->losses)))
		return -1;
	l = &t->losses[t->n_losses++];
	l->cpu = cpu;
	l->reason = reason;
	l->count = count;
	l->from_ns = from;
	l->to_ns = to;
	return 0;
}

static int type_of(const struct trace *t, const uint8_t *data, int size)
{
	const struct schema *s = t->schema;
	uint16_t kid;
	uint32_t mid;

	if (size < 8)
		return -1;
	memcpy(&kid, data, 2);
	if (kid != s->raw_data_id || s->raw_data_id < 0)
		return s->by_kernel_id[kid];
	if (size < 12)
		return -1;
	memcpy(&mid, data + 8, 4);
	for (uint32_t i = 0; i < s->n_types; i++)
		if (s->types[i].src == SCHEMA_SRC_MARKER &&
		    (uint32_t)s->types[i].kernel_id == mid)
			return (int)i;
	return -1;
}

/*
 * A record to merge.  Records in the mapping are used where they are: the
 * sub-buffer stays ours until the next GET_READER, after the round's
 * records were encoded and spooled (the held ones are copied).  @copy:
 * the bytes are in t->page, which the next read() reuses.
 */
static int add_rec(struct trace *t, uint64_t ts, uint32_t cpu, int type,
		   const uint8_t *data, uint32_t len, bool copy)
{
	struct trace_rec *r;

	if (grow((void **)&t->recs, &t->cap_recs, t->n_recs + 1,
		 sizeof(*t->recs)) ||
	    (copy && bytebuf_reserve(&t->arena, len)))
		return -1;
	r = &t->recs[t->n_recs++];
	r->ts = ts;
	r->cpu = cpu;
	r->type = (uint32_t)type;
	r->data = data;
	r->len = len;
	r->seq = t->seq++;
	if (copy) {
		/* an offset: the arena may move while the round goes on */
		r->data = NULL;
		r->off = (uint32_t)t->arena.len;
		memcpy(t->arena.data + t->arena.len, data, len);
		t->arena.len += len;
	}
	return 0;
}

/*
 * After a GET_READER: did it hand out all the CPU had committed?  That is
 * the kernel's own count of unread entries (entries - overrun - read, as in
 * per_cpu/cpuN/stats) being 0.  Only GET_READER moves read; the writer can
 * raise entries and overrun at any time (rb_wake_up_waiters), so entries is
 * loaded last: a writer racing with us can only turn the answer into "no".
 */
static bool handed_out_all(const struct rb_meta *m)
{
	uint64_t overrun = __atomic_load_n(&m->overrun, __ATOMIC_ACQUIRE);
	uint64_t read = __atomic_load_n(&m->read, __ATOMIC_ACQUIRE);
	uint64_t entries = __atomic_load_n(&m->entries, __ATOMIC_ACQUIRE);

	return entries == overrun + read;
}

/*
 * First round after a restart, no GET_READER yet: is the reader sub-buffer
 * (@page, bytes [0, @end) handed out) the marked one?  Its header stamp is
 * the same (the caller checked); so is the next sub-buffer's when the
 * marked one holds records of one stamp only and the next opens with it.
 * The kernel's consumed-entries counter tells them apart: GET_READER
 * advances meta->read over every data record it hands out (rb_advance_reader
 * counts type_len <= 28: length-word records too, not padding, discarded
 * records or time stamps, as subbuf_next() returns them), the value stored
 * in the mark was read right after the GET_READER that handed out the
 * marked bytes, and no one else consumes.  If the marked sub-buffer is still
 * the reader, meta->read went on by exactly its records in [cur_read, end)
 * (a killed agent may have taken more of it).  If a killed agent's
 * GET_READER swapped another one in, it went on by all of that one's
 * records, also those before cur_read (the rest of the marked one was
 * taken and spooled: a round takes one sub-buffer and is spooled before
 * the next), so the counts differ unless the other sub-buffer has no data
 * record before cur_read, and then taking it for the marked one skips no
 * record (only its missed-events count goes unreported).
 *
 * Degenerate cases: cur_read 0 (nothing of the marked one taken): the
 * sub-buffer is parsed from its start either way, the answer only says
 * whether its missed-events count is news.  meta->read behind the mark (the
 * buffer was reset: a trace clock or buffer size change while the agent was
 * down): never the marked one, parsed from its start; a reset empties the
 * buffer, so nothing is sent twice.  Overrun (the writer overwrote
 * sub-buffers while we were down) leaves the reader sub-buffer and
 * meta->read alone: the count stays exact.  Another consumer of the
 * instance's buffers (reading its trace_pipe) moves meta->read: the marked
 * sub-buffer is then taken for another one and its first cur_read bytes
 * are sent again (duplicates, no loss).  A malformed sub-buffer counts
 * short: the same.  A mark without the counter (an NRCARY4 carry) falls
 * back to the stamp alone, with the gap described above.
 */
static bool is_marked(const struct trace_cpu *tc, int c, const uint8_t *page,
		      size_t len, uint32_t end)
{
	uint64_t read = __atomic_load_n(&tc->meta->read, __ATOMIC_ACQUIRE);
	struct subbuf_iter it;
	struct subbuf_rec r;
	uint64_t n = 0;

	if (!tc->have_entries)
		return true;
	if (read < tc->cur_entries || subbuf_load(&it, page, len) < 0)
		return false;
	while (subbuf_next(&it, &r) && r.off < end)
		n += r.off >= tc->cur_read;
	pr_debug(
		"cpu%d: marked sub-buffer? %llu records after byte %u, %llu consumed since the mark",
		c, (unsigned long long)n, tc->cur_read,
		(unsigned long long)(read - tc->cur_entries));
	return n == read - tc->cur_entries;
}

/*
 * The mapping's source: GET_READER, then the bytes of the reader sub-buffer
 * not taken before.  Return: 1 with @sb set, 0 if nothing new, -1 on error.
 * *caught_up: nothing is left in the buffer beyond what this hands out.
 */
static int mmap_next(struct trace *t, int c, struct subbuf *sb, bool *caught_up,
		     bool *more)
{
	struct trace_cpu *tc = &t->cpus[c];
	struct rb_meta *m = tc->meta;
	uint32_t id, end, start;
	uint64_t stamp;
	bool fresh, same;

	*caught_up = false;
	/*
	 * First round after opening: the reader sub-buffer as the last agent
	 * left it.  Its first reader.read bytes were handed out, perhaps to a
	 * process killed before it spooled them: parse them (the mark skips
	 * what was taken) before GET_READER could swap them away.
	 */
	if (!tc->fresh && ioctl(tc->fd, TRACE_MMAP_IOCTL_GET_READER) < 0) {
		pr_err("cpu%d: GET_READER: %m", c);
		return -1;
	}
	id = m->reader.id;
	end = m->reader.read;
	if (id >= m->nr_subbufs || end > m->subbuf_size) {
		pr_err("cpu%d: reader sub-buffer %u (%u bytes) out of range", c,
		       id, end);
		errno = EPROTO;
		return -1;
	}
	/*
	 * Parsed in place, up to @end: the bytes before it no longer change
	 * (the writer, if it is still on this sub-buffer, appends after its
	 * commit, and only GET_READER stores a missed-events count).
	 */
	sb->page = tc->map + m->meta_page_size + (size_t)id * m->subbuf_size;
	sb->len = m->subbuf_size;
	sb->copy = false;
	memcpy(&stamp, sb->page, sizeof(stamp)); /* set by its first record */
	fresh = tc->fresh;
	if (fresh)
		same = end && stamp == tc->cur_stamp &&
		       is_marked(tc, c, sb->page, sb->len, end);
	else
		same = id == tc->cur_id;
	tc->fresh = false;
	/* the marked sub-buffer by its number in this mapping */
	tc->cur_id = id;
	start = same ? tc->cur_read : 0;
	if (end < start) { /* reset under us (resized): all of it is new */
		start = 0;
	} else if (same && end == start) {
		/* without a GET_READER, the rest of the ring is unknown */
		*caught_up = !fresh;
		*more = fresh;
		return 0;
	}
	*caught_up = !fresh && handed_out_all(m);
	/*
	 * Another round right away only pays when more is there and this
	 * sub-buffer was well filled; a little is left for the next drain,
	 * keeping batches big.
	 */
	*more = !*caught_up && end - start >= m->subbuf_size / 4;
	tc->cur_stamp = stamp;
	tc->cur_read = end;
	/* GET_READER (ours, or the killed agent's) counted these as read */
	tc->cur_entries = __atomic_load_n(&m->read, __ATOMIC_ACQUIRE);
	tc->have_entries = true;
	pr_debug("cpu%d: sub-buffer %u (stamp %llu) bytes %u..%u", c, id,
		 (unsigned long long)stamp, start, end);
	sb->start = start;
	sb->end = end;
	sb->fresh = !same;
	return 1;
}

/*
 * The read() source: the next whole sub-buffer, consumed from the kernel.
 * Return: 1 with @sb set, 0 if nothing was read (*caught_up: the buffer is
 * empty), -1 on error.
 */
static int read_next(struct trace *t, int c, struct subbuf *sb, bool *caught_up)
{
	ssize_t n = read(t->cpus[c].fd, t->page, t->page_size);
	struct subbuf_iter it;

	*caught_up = n < 0 && errno == EAGAIN;
	if (*caught_up)
		return 0;
	if (n < 0) {
		pr_err("cpu%d: read trace_pipe_raw: %m", c);
		return -1;
	}
	if (n == 0) /* not empty, but nothing could be handed out yet */
		return 0;
	/* a whole sub-buffer: its header's commit fits in what was read */
	if (subbuf_load(&it, t->page, (size_t)n) < 0) {
		pr_err("cpu%d: read %zd bytes, not a whole sub-buffer (agent.read_mode = read on an unexpected kernel?)",
		       c, n);
		return -1;
	}
	sb->page = t->page;
	sb->len = (size_t)n;
	sb->copy = true;
	sb->start = 0;
	sb->end = it.size;
	sb->fresh = true;
	return 1;
}

/* Loss news at @c's first new record (stamp @ts; the one before: @prev). */
static int note_losses(struct trace *t, int c, int missed, uint64_t prev,
		       uint64_t ts)
{
	struct trace_cpu *tc = &t->cpus[c];

	if (missed) {
		if (add_loss(t, c, NETRV__LOSS_REASON__LOSS_OVERRUN,
			     missed > 0 ? missed : 0, prev, ts))
			return -1;
		pr_warning(
			"cpu%d: kernel overwrote %d events; enlarge agent.buffer_size or shorten drain_interval",
			c, missed);
	}
	if (tc->gap) {
		tc->gap = false;
		return add_loss(t, c, NETRV__LOSS_REASON__LOSS_AGENT_DOWN, 0,
				prev, ts);
	}
	return 0;
}

/*
 * Parse the data bytes [sb->start, sb->end) of the sub-buffer into
 * records; the same for both sources.
 */
static int take_subbuf(struct trace *t, int c, const struct subbuf *sb)
{
	struct trace_cpu *tc = &t->cpus[c];
	struct subbuf_iter it;
	struct subbuf_rec r;
	int missed;
	bool first = true;

	if (subbuf_load(&it, sb->page, sb->len) < 0) {
		pr_err("cpu%d: malformed sub-buffer (commit beyond its size)",
		       c);
		return -1;
	}
	missed = sb->fresh ? (int)it.missed : 0;
	tc->got += sb->end - sb->start;
	while (subbuf_next(&it, &r) && r.off < sb->end) {
		uint64_t prev = tc->last_ts;
		int type;

		/* taken before (the stamp guards against a reset buffer) */
		if (r.off < sb->start && r.ts <= tc->last_ts)
			continue;
		tc->last_ts = r.ts;
		if (first && note_losses(t, c, missed, prev, r.ts))
			return -1;
		first = false;
		type = type_of(t, r.data, r.len);
		if (type < 0) {
			t->skipped++;
			continue;
		}
		if (add_rec(t, r.ts, c, type, r.data, r.len, sb->copy))
			return -1;
	}
	if (it.truncated && it.next < sb->end) {
		t->skipped++;
		pr_warning(
			"cpu%d: sub-buffer record at byte %u runs past its end: rest skipped",
			c, it.next);
	}
	if (first && missed) /* nothing new but the gap */
		if (add_loss(t, c, NETRV__LOSS_REASON__LOSS_OVERRUN,
			     missed > 0 ? missed : 0, tc->last_ts, tc->last_ts))
			return -1;
	return 0;
}

/*
 * Take the next piece of one CPU's buffer: the mapping's next sub-buffer,
 * or in read mode up to t->reads of them.  *caught_up: nothing is left
 * beyond what was taken (read mode: read until nothing was left); *more:
 * worth another round now.
 */
static int drain_cpu(struct trace *t, int c, bool *caught_up, bool *more)
{
	struct subbuf sb;
	int r;

	if (!t->use_read) {
		r = mmap_next(t, c, &sb, caught_up, more);
		return r <= 0 ? r : take_subbuf(t, c, &sb);
	}
	*caught_up = false;
	*more = false;
	for (int i = 0; i < t->reads; i++) {
		r = read_next(t, c, &sb, caught_up);
		if (r <= 0)
			return r;
		if (take_subbuf(t, c, &sb))
			return -1;
	}
	*more = true;
	return 0;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct trace_rec *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Sort t->recs: it is a few runs already in order (the held records, then
 * each CPU's), so merge neighbouring runs until one is left.
 */
static int sort_recs(struct trace *t)
{
	struct trace_rec *a = t->recs, *b;
	size_t n = t->n_recs, i;
	bool sorted = false;

	/* often one CPU was busy and the records are in order already */
	for (i = 1; i < n && rec_cmp(&a[i - 1], &a[i]) <= 0; i++)
		;
	if (i >= n)
		return 0;
	if (grow((void **)&t->tmp, &t->cap_tmp, n, sizeof(*t->tmp)))
		return -1;
	b = t->tmp;
	while (!sorted) {
		size_t o = 0;

		i = 0;
		sorted = true;
		while (i < n) {
			size_t m = i + 1, e;

			while (m < n && rec_cmp(&a[m - 1], &a[m]) <= 0)
				m++;
			e = m;
			if (m < n) {
				sorted = false;
				for (e = m + 1;
				     e < n && rec_cmp(&a[e - 1], &a[e]) <= 0;)
					e++;
			}
			/* merge a[i..m) and a[m..e) into b[o..] */
			for (size_t x = i, y = m; x < m || y < e;) {
				if (y >= e ||
				    (x < m && rec_cmp(&a[x], &a[y]) <= 0))
					b[o++] = a[x++];
				else
					b[o++] = a[y++];
			}
			i = e;
		}
		/* b holds this pass; swap roles */
		t->tmp = a;
		a = b;
		b = t->tmp;
	}
	/* a is sorted; make it t->recs and keep the other as scratch */
	t->tmp = b;
	if (a != t->recs) {
		size_t cap = t->cap_recs;

		t->recs = a;
		t->cap_recs = t->cap_tmp;
		t->cap_tmp = cap;
	}
	return 0;
}

int trace_drain(struct trace *t, const struct trace_rec **recs, size_t *n,
		uint64_t *wm, const struct trace_loss **losses,
		size_t *n_losses, bool *more)
{
	uint64_t start = clocks_now(t->clockid), mark = UINT64_MAX;
	struct bytebuf tmp;
	size_t k;

	/* The held records become the first of this drain. */
	tmp = t->arena;
	t->arena = t->held_arena;
	t->held_arena = tmp;
	t->held_arena.len = 0;
	if (grow((void **)&t->recs, &t->cap_recs, t->n_held, sizeof(*t->recs)))
		return -1;
	if (t->n_held)
		memcpy(t->recs, t->held, t->n_held * sizeof(*t->recs));
	t->n_recs = t->n_held;
	t->n_held = 0;
	if (t->losses_given)
		t->n_losses = 0;
	t->losses_given = true;

	*more = false;
	for (int c = 0; c < t->n_cpus; c++) {
		struct trace_cpu *tc = &t->cpus[c];
		bool caught_up;

		if (tc->fd < 0)
			continue;
		tc->more = false;
		if (drain_cpu(t, c, &caught_up, &tc->more))
			return -1;
		/* read mode, unclean exit, nothing read: the gap ends now */
		if (tc->gap && note_losses(t, c, 0, tc->last_ts, start))
			return -1;
		tc->wm = caught_up ?
				 (start > t->slack_ns ? start - t->slack_ns :
							0) :
				 tc->last_ts;
		*more |= tc->more;
		if (tc->wm < mark)
			mark = tc->wm;
	}
	if (sort_recs(t))
		return -1;
	for (k = 0; k < t->n_recs && t->recs[k].ts <= mark; k++)
		;
	/* Keep the rest for next time, in their own arena. */
	if (grow((void **)&t->held, &t->cap_held, t->n_recs - k,
		 sizeof(*t->held)))
		return -1;
	for (size_t i = k; i < t->n_recs; i++) {
		struct trace_rec *h = &t->held[t->n_held++];

		*h = t->recs[i];
		if (bytebuf_reserve(&t->held_arena, h->len))
			return -1;
		memcpy(t->held_arena.data + t->held_arena.len,
		       trace_rec_data(t, &t->recs[i]), h->len);
		h->data = NULL;
		h->off = (uint32_t)t->held_arena.len;
		t->held_arena.len += h->len;
	}
	*recs = t->recs;
	*n = k;
	*wm = mark;
	*losses = t->losses;
	*n_losses = t->n_losses;
	return 0;
}

int trace_cpu_fd(const struct trace *t, int cpu)
{
	return cpu < t->n_cpus ? t->cpus[cpu].fd : -1;
}

int trace_n_cpus(const struct trace *t)
{
	return t->n_cpus;
}

uint64_t trace_take_peak(struct trace *t)
{
	uint64_t peak = 0;

	for (int c = 0; c < t->n_cpus; c++) {
		if (t->cpus[c].got > peak)
			peak = t->cpus[c].got;
		t->cpus[c].got = 0;
	}
	return peak;
}

/*
 * Carry: u64 magic, char boot_id[40], u64 schema id, u32 n_cpus,
 * u32 flags (CARRY_*; not in "NRCARY3" carries), per CPU the mark (u64
 * sub-buffer stamp, u32 bytes taken, u64 stamp of the last record taken,
 * u64 meta->read after they were handed out, CARRY_NO_ENTRIES if not
 * known; not in "NRCARY3/4"),
 * u32 count, then per held record u64 ts, u32 cpu, u32 type, u32 len,
 * bytes.  Host byte order: a spool belongs to one machine.
 */
int trace_carry_pack(const struct trace *t, struct bytebuf *out, bool clean)
{
	uint32_t n = (uint32_t)t->n_held, nc = (uint32_t)t->n_cpus;
	uint32_t flags =
		(clean ? CARRY_CLEAN : 0) | (t->use_read ? CARRY_READ : 0);
	uint64_t magic = CARRY_MAGIC, no_entries = CARRY_NO_ENTRIES;
	uint8_t *p;

	out->len = 0;
	if (bytebuf_reserve(out,
			    68 + nc * CARRY_MARK + n * 20 + t->held_arena.len))
		return -1;
	p = out->data;
	memcpy(p, &magic, 8);
	memcpy(p + 8, t->boot_id, 40);
	memcpy(p + 48, &t->schema->id, 8);
	memcpy(p + 56, &nc, 4);
	memcpy(p + 60, &flags, 4);
	p += 64;
	for (uint32_t c = 0; c < nc; c++, p += CARRY_MARK) {
		memcpy(p, &t->cpus[c].cur_stamp, 8);
		memcpy(p + 8, &t->cpus[c].cur_read, 4);
		memcpy(p + 12, &t->cpus[c].last_ts, 8);
		/* a mark loaded from an NRCARY4 carry stays without one */
		memcpy(p + 20,
		       t->cpus[c].have_entries ? &t->cpus[c].cur_entries :
						 &no_entries,
		       8);
	}
	memcpy(p, &n, 4);
	p += 4;
	for (size_t i = 0; i < t->n_held; i++) {
		const struct trace_rec *h = &t->held[i];

		memcpy(p, &h->ts, 8);
		memcpy(p + 8, &h->cpu, 4);
		memcpy(p + 12, &h->type, 4);
		memcpy(p + 16, &h->len, 4);
		memcpy(p + 20, t->held_arena.data + h->off, h->len);
		p += 20 + h->len;
	}
	out->len = p - out->data;
	return 0;
}

/*
 * The last agent read with read(), so the kernel counts as consumed what
 * it handed out of the current reader sub-buffer: take the kernel's read
 * position as the mark, or the first mapped round would send it again.
 */
static void adopt_read_position(struct trace *t)
{
	for (int c = 0; c < t->n_cpus; c++) {
		struct trace_cpu *tc = &t->cpus[c];
		struct rb_meta *m = tc->meta;

		if (!tc->map || m->reader.id >= m->nr_subbufs)
			continue;
		memcpy(&tc->cur_stamp,
		       tc->map + m->meta_page_size +
			       (size_t)m->reader.id * m->subbuf_size,
		       8);
		tc->cur_read = m->reader.read;
		tc->cur_entries = __atomic_load_n(&m->read, __ATOMIC_ACQUIRE);
		tc->have_entries = true;
	}
}

/* After an unclean exit of a reader that consumed: see the top comment. */
static void note_unclean(struct trace *t, bool was_read)
{
	if (!t->use_read && !was_read)
		return; /* the mapping: nothing taken was consumed */
	for (int c = 0; c < t->n_cpus; c++)
		t->cpus[c].gap = t->cpus[c].fd >= 0;
	pr_warning(
		"the last agent did not exit cleanly (kill -9, crash or a failed spool write): records it had read but not spooled are consumed in the kernel and lost; reporting a loss of unknown count (0) per CPU from its last record on (agent.read_mode = mmap, Linux 6.10+, has no such window)");
}

int trace_carry_load(struct trace *t, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;
	uint64_t magic, sid;
	uint32_t n, nc, flags = 0, mark;
	bool same_boot;

	if (len == 0)
		return 0;
	if (len < 64)
		goto bad;
	memcpy(&magic, p, 8);
	if (magic != CARRY_MAGIC && magic != CARRY_MAGIC4 &&
	    magic != CARRY_MAGIC3)
		goto bad;
	same_boot = !memcmp(p + 8, t->boot_id, 40);
	memcpy(&sid, p + 48, 8);
	memcpy(&nc, p + 56, 4);
	if (magic != CARRY_MAGIC3)
		memcpy(&flags, p + 60, 4);
	p += magic != CARRY_MAGIC3 ? 64 : 60;
	mark = magic == CARRY_MAGIC ? CARRY_MARK : CARRY_MARK4;
	if ((size_t)(end - p) < (size_t)nc * mark + 4)
		goto bad;
	for (uint32_t c = 0; c < nc; c++, p += mark) {
		if (!same_boot || (int)c >= t->n_cpus)
			continue;
		memcpy(&t->cpus[c].cur_stamp, p, 8);
		memcpy(&t->cpus[c].cur_read, p + 8, 4);
		memcpy(&t->cpus[c].last_ts, p + 12, 8);
		/*
		 * An older agent's mark has no read counter: the first round
		 * knows the marked sub-buffer by its stamp alone (is_marked()).
		 */
		t->cpus[c].cur_entries = CARRY_NO_ENTRIES;
		if (magic == CARRY_MAGIC)
			memcpy(&t->cpus[c].cur_entries, p + 20, 8);
		t->cpus[c].have_entries =
			t->cpus[c].cur_entries != CARRY_NO_ENTRIES;
		pr_debug(
			"cpu%u: taken up to byte %u of the sub-buffer stamped %llu",
			c, t->cpus[c].cur_read,
			(unsigned long long)t->cpus[c].cur_stamp);
	}
	if (same_boot) {
		if ((flags & CARRY_READ) && !t->use_read)
			adopt_read_position(t);
		if (!(flags & CARRY_CLEAN))
			note_unclean(t, flags & CARRY_READ);
	}
	memcpy(&n, p, 4);
	p += 4;
	if (!same_boot) {
		pr_warning(
			"the spool's %u held records are from an earlier boot; reported as lost",
			n);
		return n ? add_loss(t, 0, NETRV__LOSS_REASON__LOSS_AGENT_DOWN,
				    n, 0, 0) :
			   0;
	}
	if (sid != t->schema->id) {
		pr_warning(
			"%u records held at the last exit were read with another configuration; reported as lost",
			n);
		return n ? add_loss(t, 0, NETRV__LOSS_REASON__LOSS_AGENT_DOWN,
				    n, 0, 0) :
			   0;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct trace_rec *h;
		uint32_t rlen;

		if (end - p < 20)
			goto bad;
		memcpy(&rlen, p + 16, 4);
		if ((size_t)(end - p - 20) < rlen)
			goto bad;
		if (grow((void **)&t->held, &t->cap_held, t->n_held + 1,
			 sizeof(*t->held)) ||
		    bytebuf_reserve(&t->held_arena, rlen))
			return -1;
		h = &t->held[t->n_held++];
		memcpy(&h->ts, p, 8);
		memcpy(&h->cpu, p + 8, 4);
		memcpy(&h->type, p + 12, 4);
		h->len = rlen;
		h->seq = t->seq++;
		h->data = NULL;
		h->off = (uint32_t)t->held_arena.len;
		if (h->type >= t->schema->n_types)
			goto bad;
		memcpy(t->held_arena.data + t->held_arena.len, p + 20, rlen);
		t->held_arena.len += rlen;
		p += 20 + rlen;
	}
	pr_info("restored from the spool: %u held records and the read marks",
		n);
	return flags & CARRY_CLEAN ? 1 : 0;
bad:
	pr_err("carry in the spool is malformed or from another agent version; records held at the last exit are lost");
	errno = EBADMSG;
	return -1;
}
