// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_meta_read.c - the kernel facts behind the read counter in the
 * agent's marks (is_marked() in agent/trace.c), on the real ring-buffer
 * mapping of a tracefs instance of our own.
 *
 * The agent tells the marked sub-buffer from another one with the same
 * header stamp by the meta page's read counter: GET_READER advances it over
 * every data record it hands out, counted as subbuf_next() counts them
 * (length-word records too; not padding or time extends), and it survives
 * unmapping and mapping again.  test_trace_marks.c checks the agent against
 * a fake that assumes this; here the kernel says whether it holds.  CPU 0
 * is written with trace_marker (records of 10 to 200 bytes, some with a
 * length word, padding where a sub-buffer fills) and read as the agent
 * does, and a new mapping stands for a restarted agent:
 *  - after each GET_READER, read went on by the data records in the bytes
 *    it handed out;
 *  - a new mapping shows the same read counter and reader sub-buffer;
 *  - a killed agent's GET_READER that took more of the marked sub-buffer:
 *    is_marked() says it is the marked one;
 *  - one that swapped the next sub-buffer in: is_marked() says it is not;
 *  - a buffer reset (the trace file truncated while unmapped): read goes
 *    back behind the mark, and is_marked() says no.
 */
#include <sched.h>

/* for is_marked(), map_cpu() and the meta page's layout */
#include "../../agent/trace.c"
#include "check.h"

static struct tracefs_instance *inst;
static int marker_fd = -1;

static void cleanup(void)
{
	if (marker_fd >= 0)
		close(marker_fd);
	if (inst) {
		tracefs_instance_destroy(inst);
		tracefs_instance_free(inst);
	}
}

/* @n trace_marker records of 10..200 bytes of text; 0 or -1 */
static int mark(int n, unsigned int *seed)
{
	char buf[256];

	for (int i = 0; i < n; i++) {
		size_t len = 10 + (*seed = *seed * 1103515245 + 12345) % 191;

		memset(buf, 'a' + i % 26, len);
		if (write(marker_fd, buf, len) != (ssize_t)len)
			return -1;
	}
	return 0;
}

/* The data records of the reader sub-buffer in bytes [from, to). */
static uint64_t count(const struct trace_cpu *tc, uint32_t from, uint32_t to)
{
	const struct rb_meta *m = tc->meta;
	const uint8_t *page = tc->map + m->meta_page_size +
			      (size_t)m->reader.id * m->subbuf_size;
	struct subbuf_iter it;
	struct subbuf_rec r;
	uint64_t n = 0;

	if (subbuf_load(&it, page, m->subbuf_size) < 0)
		return UINT64_MAX;
	while (subbuf_next(&it, &r) && r.off < to)
		n += r.off >= from;
	return n;
}

static uint64_t stamp_of_reader(const struct trace_cpu *tc)
{
	const struct rb_meta *m = tc->meta;
	uint64_t s;

	memcpy(&s,
	       tc->map + m->meta_page_size +
		       (size_t)m->reader.id * m->subbuf_size,
	       8);
	return s;
}

static bool marked(const struct trace_cpu *tc)
{
	const struct rb_meta *m = tc->meta;

	return is_marked(tc, 0,
			 tc->map + m->meta_page_size +
				 (size_t)m->reader.id * m->subbuf_size,
			 m->subbuf_size, m->reader.read);
}

/* A round: GET_READER; read must have gone on by what it handed out. */
static int get_reader(struct trace_cpu *tc, uint64_t *taken)
{
	uint32_t id = tc->meta->reader.id, from = tc->meta->reader.read;
	uint64_t read = tc->meta->read;

	if (ioctl(tc->fd, TRACE_MMAP_IOCTL_GET_READER) < 0)
		return -1;
	if (tc->meta->reader.id != id)
		from = 0;
	*taken = count(tc, from, tc->meta->reader.read);
	CHECK_INT(tc->meta->read - read, *taken);
	return 0;
}

/* The agent's mark after a spooled round. */
static void set_mark(struct trace_cpu *tc)
{
	tc->cur_stamp = stamp_of_reader(tc);
	tc->cur_read = tc->meta->reader.read;
	tc->cur_entries = tc->meta->read;
	tc->have_entries = true;
}

/* kill -9 and restart: the mapping goes, a new one comes. */
static int remap(struct trace *t, const char *path)
{
	struct trace_cpu *tc = &t->cpus[0];

	munmap(tc->map, tc->map_len);
	tc->map = NULL;
	close(tc->fd);
	tc->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	return tc->fd < 0 ? -1 : map_cpu(t, 0);
}

int main(int argc, char **argv)
{
	struct trace_cpu cpu = { .fd = -1 };
	struct trace t = { .n_cpus = 1, .cpus = &cpu };
	char name[64], path[4096], tpath[4096], *dir;
	unsigned int seed = 1;
	uint64_t taken, read;
	uint32_t id, bytes;
	cpu_set_t set;
	int fd;

	(void)argc;
	if (geteuid()) {
		fprintf(stderr, "needs root: skipped\n");
		return 77;
	}
	/* trace_marker records on the CPU that writes: CPU 0 */
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	REQUIRE(!sched_setaffinity(0, sizeof(set), &set));
	snprintf(name, sizeof(name), "netrv_metaread_%d", (int)getpid());
	atexit(cleanup);
	inst = tracefs_instance_create(name);
	REQUIRE(inst);
	REQUIRE(tracefs_instance_file_write(inst, "buffer_size_kb", "64") > 0);
	dir = tracefs_instance_get_dir(inst);
	REQUIRE(dir);
	snprintf(path, sizeof(path), "%s/trace_marker", dir);
	marker_fd = open(path, O_WRONLY | O_CLOEXEC);
	REQUIRE(marker_fd >= 0);
	snprintf(path, sizeof(path), "%s/per_cpu/cpu0/trace_pipe_raw", dir);
	tracefs_put_tracing_file(dir);
	cpu.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	REQUIRE(cpu.fd >= 0);
	if (map_cpu(&t, 0)) {
		fprintf(stderr, "mmap %s: %m (needs Linux 6.10): skipped\n",
			path);
		return 77;
	}

	/* A, a round: everything handed out is counted */
	REQUIRE(!mark(12, &seed));
	REQUIRE(!get_reader(&cpu, &taken));
	CHECK_INT(taken, 12);
	set_mark(&cpu);

	/* more of A, a round, killed before its spool write */
	REQUIRE(!mark(5, &seed));
	id = cpu.meta->reader.id;
	REQUIRE(!get_reader(&cpu, &taken));
	CHECK_INT(taken, 5);
	CHECK_INT(cpu.meta->reader.id, id);
	read = cpu.meta->read;
	bytes = cpu.meta->reader.read;
	REQUIRE(!remap(&t, path));
	CHECK_INT(cpu.meta->read, read);
	CHECK_INT(cpu.meta->reader.read, bytes);
	CHECK_INT(stamp_of_reader(&cpu), cpu.cur_stamp);
	CHECK(marked(&cpu));
	printf("more of the marked sub-buffer: is_marked %d (%llu records after byte %u)\n",
	       marked(&cpu),
	       (unsigned long long)count(&cpu, cpu.cur_read, bytes),
	       cpu.cur_read);

	/* the rest of A and more: the round that took all of A spooled */
	REQUIRE(!get_reader(&cpu, &taken)); /* the new mapping's first */
	CHECK_INT(taken, 0);
	REQUIRE(!mark(60, &seed)); /* some 6 KB: into the next sub-buffer */
	REQUIRE(!get_reader(&cpu, &taken));
	set_mark(&cpu);
	/* a round swaps the next one in, killed before its spool write */
	id = cpu.meta->reader.id;
	REQUIRE(!get_reader(&cpu, &taken));
	CHECK(cpu.meta->reader.id != id);
	CHECK(taken > 0);
	REQUIRE(!remap(&t, path));
	CHECK(!marked(&cpu));
	printf("the next sub-buffer swapped in: is_marked %d (%llu records, %llu consumed since the mark)\n",
	       marked(&cpu), (unsigned long long)taken,
	       (unsigned long long)(cpu.meta->read - cpu.cur_entries));
	set_mark(&cpu);

	/* a reset while the agent is down: read goes back */
	munmap(cpu.map, cpu.map_len);
	cpu.map = NULL;
	dir = tracefs_instance_get_dir(inst);
	REQUIRE(dir);
	snprintf(tpath, sizeof(tpath), "%s/trace", dir);
	tracefs_put_tracing_file(dir);
	fd = open(tpath, O_WRONLY | O_TRUNC | O_CLOEXEC);
	REQUIRE(fd >= 0);
	close(fd);
	REQUIRE(!mark(3, &seed));
	REQUIRE(!remap(&t, path));
	CHECK(cpu.meta->read < cpu.cur_entries);
	CHECK(!marked(&cpu));
	REQUIRE(!get_reader(&cpu, &taken));
	CHECK_INT(taken, 3);
	printf("after a reset: read %llu, the mark's %llu\n",
	       (unsigned long long)cpu.meta->read,
	       (unsigned long long)cpu.cur_entries);
out:
	if (cpu.map)
		munmap(cpu.map, cpu.map_len);
	if (cpu.fd >= 0)
		close(cpu.fd);
	return check_summary(argv[0]);
}
