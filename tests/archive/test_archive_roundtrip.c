// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_archive_roundtrip.c - what goes into the archive comes out of
 * netrv's reader exactly: every record once, in merged order, same values,
 * across packet sizes, rotation by size and by time, retention, repair of a
 * torn tail, and a damaged archive gives an error (not a crash).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ctf.h"
#include "archive_config.h"
#include "feed.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

static char base[256];

static void rm_rf(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

static int count_chunks(const char *dir)
{
	char cmd[600];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -d '%s'/chunk-* 2>/dev/null | wc -l",
		 dir);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static int write_archive(const char *dir, const struct archive_options *o0,
			 uint64_t seed, long records)
{
	struct archive_options o = *o0;
	struct archive *ar;
	struct gen g;
	long i;

	o.dir = dir;
	ar = archive_open(&o);
	if (!ar)
		return -1;
	gen_init(&g, seed);
	for (i = 0; i < records; i++) {
		gen_next(&g);
		if (gen_feed(&g, ar)) {
			archive_close(ar);
			return -1;
		}
	}
	return archive_close(ar);
}

/*
 * Read @path and compare with the generator from its @skip'th record on
 * (retention dropped the first ones).  Returns records matched or -1.
 */
static long read_compare(const char *path, uint64_t seed, long records,
			 long skip)
{
	struct archive_reader *r = archive_reader_open(path);
	struct archive_record rec;
	uint64_t wm = 0;
	struct gen g;
	long matched = 0, i = 0, kept = 0;
	int ret = 0;

	if (!CHECK(r))
		return -1;
	gen_init(&g, seed);
	while (i < records) {
		const char *diff;

		gen_next(&g);
		i++;
		if (g.kind == GK_WATERMARK && !gen_wm_kept(&wm, g.tai))
			continue;
		if (++kept <= skip)
			continue;
		ret = archive_reader_next(r, &rec);
		if (!CHECK(ret == 1)) {
			fprintf(stderr, "  record %ld: reader says %d (%m)\n",
				i, ret);
			break;
		}
		diff = gen_same(&g, &rec);
		if (!CHECK(!diff)) {
			fprintf(stderr, "  record %ld (kind %d): %s differs\n",
				i, g.kind, diff);
			break;
		}
		matched++;
	}
	if (i == records)
		CHECK_INT(archive_reader_next(r, &rec), 0);
	archive_reader_close(r);
	return matched;
}

static long expected_records(uint64_t seed, long records)
{
	uint64_t wm = 0;
	struct gen g;
	long n = 0, i;

	gen_init(&g, seed);
	for (i = 0; i < records; i++) {
		gen_next(&g);
		if (g.kind != GK_WATERMARK || gen_wm_kept(&wm, g.tai))
			n++;
	}
	return n;
}

static void test_plain(void)
{
	static const struct {
		uint32_t packet;
		long records;
		uint64_t seed;
	} cases[] = {
		{ 0, 20000, 1 },
		{ 4096, 20000, 2 },
		{ 4096, 1, 3 },
		{ 0, 0, 4 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct archive_options o = { .packet_bytes = cases[i].packet };
		char dir[300];

		snprintf(dir, sizeof(dir), "%s/plain%zu", base, i);
		REQUIRE(!write_archive(dir, &o, cases[i].seed,
				       cases[i].records));
		CHECK_INT(count_chunks(dir), 1);
		CHECK_INT(read_compare(dir, cases[i].seed, cases[i].records, 0),
			  expected_records(cases[i].seed, cases[i].records));
	}
out:;
}

static void test_rotation(void)
{
	struct archive_options by_size = { .packet_bytes = 4096,
					   .chunk_bytes = 100000 };
	struct archive_options by_time = { .chunk_ns = 10000000 };
	struct archive_options keep3 = { .packet_bytes = 4096,
					 .chunk_bytes = 100000,
					 .max_chunks = 3 };
	char dir[300], chunk[400];
	long n = 30000, total, matched;
	int chunks;

	snprintf(dir, sizeof(dir), "%s/size", base);
	REQUIRE(!write_archive(dir, &by_size, 11, n));
	chunks = count_chunks(dir);
	CHECK(chunks > 3);
	CHECK_INT(read_compare(dir, 11, n, 0), expected_records(11, n));

	snprintf(dir, sizeof(dir), "%s/time", base);
	REQUIRE(!write_archive(dir, &by_time, 12, n));
	CHECK(count_chunks(dir) > 3);
	CHECK_INT(read_compare(dir, 12, n, 0), expected_records(12, n));

	/* Every chunk is readable alone; together they hold everything. */
	total = 0;
	for (int c = 1; c <= chunks; c++) {
		struct archive_reader *r;
		struct archive_record rec;
		int ret;

		snprintf(chunk, sizeof(chunk), "%s/size/chunk-%08d", base, c);
		r = archive_reader_open(chunk);
		REQUIRE(r);
		while ((ret = archive_reader_next(r, &rec)) > 0)
			total++;
		CHECK_INT(ret, 0);
		archive_reader_close(r);
	}
	CHECK_INT(total, expected_records(11, n));

	/* Retention keeps the newest 3 chunks: a suffix of the stream. */
	snprintf(dir, sizeof(dir), "%s/keep3", base);
	REQUIRE(!write_archive(dir, &keep3, 11, n));
	CHECK_INT(count_chunks(dir), 3);
	snprintf(chunk, sizeof(chunk), "%s/chunk-%08d", dir, 1);
	CHECK(access(chunk, F_OK) != 0);
	{
		struct archive_reader *r = archive_reader_open(dir);
		struct archive_record rec;
		long kept = 0;

		REQUIRE(r);
		while (archive_reader_next(r, &rec) > 0)
			kept++;
		archive_reader_close(r);
		CHECK(kept > 0 && kept < expected_records(11, n));
		/* Same writer options, same chunk cuts: the suffix matches. */
		matched = read_compare(dir, 11, n,
				       expected_records(11, n) - kept);
		CHECK_INT(matched, kept);
	}
out:;
}

static void append(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, p, len) == (ssize_t)len);
		close(fd);
	}
}

static void test_repair_and_damage(void)
{
	struct archive_options o = { .packet_bytes = 4096 };
	char dir[300], file[400];
	uint8_t torn[100];
	long n = 5000;
	struct stat st;
	int fd;

	snprintf(dir, sizeof(dir), "%s/repair", base);
	REQUIRE(!write_archive(dir, &o, 21, n));
	/* A torn packet and half a metadata block, as a crash leaves them. */
	memset(torn, 0, sizeof(torn));
	ctf_put32(torn, CTF_MAGIC);
	ctf_put64(torn + CTF_PKT_HEADER + 24, 4096 * 8);
	snprintf(file, sizeof(file), "%s/chunk-00000001/node-1", dir);
	append(file, torn, sizeof(torn));
	snprintf(file, sizeof(file), "%s/chunk-00000001/metadata", dir);
	append(file, "event {\n\tstream_id = 1;\n", 24);
	/* The reader refuses the torn packet. */
	{
		struct archive_reader *r = archive_reader_open(dir);
		struct archive_record rec;
		int ret;

		REQUIRE(r);
		while ((ret = archive_reader_next(r, &rec)) > 0)
			;
		CHECK_INT(ret, -1);
		CHECK_INT(errno, EBADMSG);
		archive_reader_close(r);
	}
	/* Opening for writing repairs, then starts chunk 2. */
	{
		struct archive *ar;

		o.dir = dir;
		ar = archive_open(&o);
		REQUIRE(ar);
		CHECK(!archive_close(ar));
	}
	CHECK_INT(count_chunks(dir), 2);
	CHECK_INT(read_compare(dir, 21, n, 0), expected_records(21, n));

	/* A packet size that points past the file: an error, no crash. */
	snprintf(file, sizeof(file), "%s/chunk-00000001/node-0", dir);
	fd = open(file, O_RDWR);
	REQUIRE(fd >= 0);
	REQUIRE(!fstat(fd, &st) && st.st_size > 8192);
	{
		uint8_t big[8];

		ctf_put64(big, (uint64_t)st.st_size * 16);
		CHECK(pwrite(fd, big, 8, CTF_PKT_HEADER + 24) == 8);
		CHECK(pwrite(fd, big, 8, CTF_PKT_HEADER + 16) == 8);
	}
	close(fd);
	{
		struct archive_reader *r = archive_reader_open(dir);
		struct archive_record rec;
		int ret;

		REQUIRE(r);
		while ((ret = archive_reader_next(r, &rec)) > 0)
			;
		CHECK_INT(ret, -1);
		CHECK_INT(errno, EBADMSG);
		archive_reader_close(r);
	}
out:;
}

/*
 * A toy monitor (test-only, named so): two flock holds on different nodes
 * of one inode at once is a verdict.  Run live next to the writer, its
 * verdicts go into the archive; replayed, it must say the same again.
 */
struct toy {
	struct consumer c;
	struct archive *ar; /* live: write verdicts here */
	int holder[8]; /* node index + 1 holding inode 4000 + i, or 0 */
	char got[64][64];
	int n;
};

static void toy_event(struct consumer *c, const struct cevent *ev)
{
	struct toy *t = container_of(c, struct toy, c);
	int type_i, ino_i, ret_i;
	unsigned int ino;
	uint64_t type;

	if (strcmp(ev->type->name, "flock_lock_inode"))
		return;
	type_i = evpack_field_index(ev->type, "type");
	ino_i = evpack_field_index(ev->type, "i_ino");
	ret_i = evpack_field_index(ev->type, "ret");
	ino = (unsigned int)(ev->vals[ino_i].u - 4000) & 7;
	type = ev->vals[type_i].u;
	if (ev->vals[ret_i].s)
		return;
	if (type == 2) {
		if (t->holder[ino] == (int)ev->node->index + 1)
			t->holder[ino] = 0;
		return;
	}
	if (t->holder[ino] && t->holder[ino] != (int)ev->node->index + 1) {
		char res[16];

		snprintf(res, sizeof(res), "ino-%u", ino);
		if (t->ar)
			archive_write_verdict(t->ar, ev->tai_ns, "toy.conflict",
					      res, strlen(res), "{}");
		if (t->n < 64)
			snprintf(t->got[t->n++], sizeof(t->got[0]), "%s@%llu",
				 res, (unsigned long long)ev->tai_ns);
	}
	t->holder[ino] = (int)ev->node->index + 1;
}

static const struct consumer_ops toy_ops = { .event = toy_event };

struct archived {
	char got[64][64];
	int n;
};

static void collect(const struct archive_record *rec, void *arg)
{
	struct archived *a = arg;

	if (rec->kind == AREC_VERDICT && a->n < 64)
		snprintf(a->got[a->n++], sizeof(a->got[0]), "%.*s@%llu",
			 (int)rec->resource_len, rec->resource,
			 (unsigned long long)rec->tai_ns);
}

static void test_replay_agrees(void)
{
	struct archive_options o = { 0 };
	struct toy live = { .c.ops = &toy_ops }, again = { .c.ops = &toy_ops };
	struct archived a = { 0 };
	struct archive_reader *r;
	struct archive *ar;
	char dir[300];
	struct gen g;
	int i;

	snprintf(dir, sizeof(dir), "%s/replay", base);
	o.dir = dir;
	ar = archive_open(&o);
	REQUIRE(ar);
	live.ar = ar;
	gen_init(&g, 31);
	for (i = 0; i < 3000; i++) {
		gen_next(&g);
		if (g.kind == GK_VERDICT)
			continue; /* only the toy's verdicts here */
		gen_feed(&g, ar);
		if (g.kind == GK_EVENT)
			live.c.ops->event(&live.c, &g.ev);
	}
	REQUIRE(!archive_close(ar));
	CHECK(live.n > 0);

	r = archive_reader_open(dir);
	REQUIRE(r);
	CHECK(archive_replay(r, &again.c, collect, &a) > 0);
	archive_reader_close(r);
	CHECK_INT(again.n, live.n);
	CHECK_INT(a.n, live.n);
	for (i = 0; i < live.n && i < again.n && i < a.n; i++) {
		CHECK_STR(again.got[i], live.got[i]);
		CHECK_STR(a.got[i], live.got[i]);
	}
out:;
}

/*
 * Untrusted names: a node name with quotes, backslash, control bytes and a
 * comment end; an event and fields named like TSDL keywords or with bytes
 * no identifier may hold.  netrv's reader gets them back exactly and the
 * real babeltrace2 still parses the metadata.
 */
static void test_hostile_names(void)
{
	static const char node_name[] = "n\"\\\x01\xc3\xa9{}; */ x";
	struct archive_options o = { 0 };
	struct archive_reader *r = NULL;
	struct archive_record rec;
	Netrv__Field f[4], *fp[4];
	Netrv__EventType t;
	struct evpack_value v[4];
	struct cevent ev = { 0 };
	struct cnode cn = { 0 };
	struct archive *ar;
	char dir[300], cmd[1200];
	static const char *const names[] = { "type", "a-b", "a_b", "" };

	snprintf(dir, sizeof(dir), "%s/names", base);
	o.dir = dir;
	ar = archive_open(&o);
	REQUIRE(ar);
	netrv__event_type__init(&t);
	t.system = "sys\"tem";
	t.name = "ev\\ent */ {";
	t.n_fields = 4;
	t.fields = fp;
	for (int i = 0; i < 4; i++) {
		netrv__field__init(&f[i]);
		f[i].name = (char *)names[i];
		f[i].kind = i == 3 ? NETRV__FIELD_KIND__FIELD_STRING :
				     NETRV__FIELD_KIND__FIELD_INT;
		f[i].size = 4;
		fp[i] = &f[i];
		v[i].u = (uint64_t)i + 1;
	}
	v[3].bytes = (const uint8_t *)"s\0t";
	v[3].len = 3;
	cn.name = node_name;
	netrv__clock_status__init(&cn.clock);
	ev.node = &cn;
	ev.type = &t;
	ev.vals = v;
	ev.tai_ns = 1800000000000000000ull;
	ev.trace_ns = 5;
	CHECK(!archive_write_event(ar, &ev));
	CHECK(!archive_write_verdict(ar, ev.tai_ns, "c\"l", "\0\1", 2,
				     "{\"a\":\"</script>\"}"));
	REQUIRE(!archive_close(ar));

	r = archive_reader_open(dir);
	REQUIRE(r);
	REQUIRE(archive_reader_next(r, &rec) == 1);
	CHECK_INT(rec.kind, AREC_EVENT);
	CHECK_STR(rec.node->name, node_name);
	CHECK_STR(rec.ev.type->system, t.system);
	CHECK_STR(rec.ev.type->name, t.name);
	CHECK_STR(rec.ev.type->fields[1]->name, "a-b");
	CHECK_INT(rec.ev.vals[2].u, 3);
	CHECK_INT(rec.ev.vals[3].len, 3);
	CHECK(!memcmp(rec.ev.vals[3].bytes, "s\0t", 3));
	CHECK_INT(rec.ev.trace_ns, 5);
	REQUIRE(archive_reader_next(r, &rec) == 1);
	CHECK_INT(rec.kind, AREC_VERDICT);
	CHECK_STR(rec.vclass, "c\"l");
	CHECK_INT(rec.resource_len, 2);
	CHECK_INT(archive_reader_next(r, &rec), 0);

	snprintf(cmd, sizeof(cmd), "babeltrace2 '%s' > '%s/bt.txt' 2>&1", dir,
		 base);
	CHECK_INT(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'a_b = 3' '%s/bt.txt' && grep -q 'type = 1' "
		 "'%s/bt.txt' && grep -q 'a_b_1 = 2' '%s/bt.txt'",
		 base, base, base);
	CHECK_INT(system(cmd), 0);
out:
	archive_reader_close(r);
}

/*
 * Property: whatever bytes a stream file holds, the reader returns records
 * or an error, never reads outside its packets (the ASan build checks).
 */
static void test_corruption(void)
{
	static const char *const files[] = { "node-0", "node-1", "node-3",
					     "netrv" };
	struct archive_options o = { .packet_bytes = 4096 };
	uint64_t rng = 0x1234567;
	char dir[300], file[400];
	int iter, errors = 0;

	snprintf(dir, sizeof(dir), "%s/corrupt", base);
	REQUIRE(!write_archive(dir, &o, 41, 3000));
	for (iter = 0; iter < 200; iter++) {
		struct archive_reader *r;
		struct archive_record rec;
		uint8_t *data = NULL;
		struct stat st;
		int fd, ret, k;

		snprintf(file, sizeof(file), "%s/chunk-00000001/%s", dir,
			 files[iter % 4]);
		fd = open(file, O_RDWR);
		REQUIRE(fd >= 0);
		if (fstat(fd, &st) || !(data = malloc((size_t)st.st_size)) ||
		    pread(fd, data, (size_t)st.st_size, 0) != st.st_size) {
			CHECK(0);
			free(data);
			close(fd);
			break;
		}
		for (k = 0; k < 1 + iter % 4; k++) {
			uint8_t b;
			off_t at;

			rng = rng * 6364136223846793005ull +
			      1442695040888963407ull;
			at = (off_t)((rng >> 20) % (uint64_t)st.st_size);
			b = (uint8_t)(rng >> 8);
			CHECK(pwrite(fd, &b, 1, at) == 1);
		}
		r = archive_reader_open(dir);
		CHECK(r);
		while (r && (ret = archive_reader_next(r, &rec)) > 0)
			;
		if (r && ret < 0)
			errors++;
		archive_reader_close(r);
		CHECK(pwrite(fd, data, (size_t)st.st_size, 0) == st.st_size);
		free(data);
		close(fd);
	}
	CHECK(errors > 0); /* most flips are caught, some land in values */
	CHECK_INT(read_compare(dir, 41, 3000, 0), expected_records(41, 3000));
out:;
}

/* The [archive] section parses into archive_options. */
static void test_config(void)
{
	static const struct config_section_def sections[] = {
		ARCHIVE_CONFIG_SECTION,
		{ NULL },
	};
	static const struct config_option opts[] = {
		ARCHIVE_CONFIG_OPTIONS,
		{ NULL },
	};
	struct config *cfg = config_create(sections, opts);
	struct archive_options o;
	char path[300];
	FILE *f;

	REQUIRE(cfg);
	archive_options_from_config(cfg, &o);
	CHECK(o.dir == NULL);
	CHECK_INT(o.chunk_bytes, 256ll << 20);
	CHECK_INT(o.chunk_ns, 3600ll * 1000000000);
	CHECK_INT(o.packet_bytes, 64 << 10);
	snprintf(path, sizeof(path), "%s/collector.conf", base);
	f = fopen(path, "w");
	REQUIRE(f);
	fprintf(f, "[archive]\ndir = /srv/a\nchunk_size = 1M\n"
		   "chunk_duration = 10s\nmax_chunks = 5\nmax_size = 1G\n"
		   "flush_interval = 250ms\n");
	fclose(f);
	REQUIRE(!config_read(cfg, path));
	archive_options_from_config(cfg, &o);
	CHECK_STR(o.dir, "/srv/a");
	CHECK_INT(o.chunk_bytes, 1 << 20);
	CHECK_INT(o.chunk_ns, 10000000000ll);
	CHECK_INT(o.max_chunks, 5);
	CHECK_INT(o.max_bytes, 1ll << 30);
	CHECK_INT(o.flush_ns, 250000000);
	CHECK(config_override(cfg, "archive.packet_size=1K") == -1);
out:
	config_destroy(cfg);
}

int main(int argc, char **argv)
{
	snprintf(base, sizeof(base), "/tmp/netrv-test-archive-%d", getpid());
	rm_rf(base);
	if (mkdir(base, 0755)) {
		perror(base);
		return 1;
	}
	test_plain();
	test_rotation();
	test_repair_and_damage();
	test_replay_agrees();
	test_hostile_names();
	test_config();
	test_corruption();
	rm_rf(base);
	return check_summary(argv[0]);
}
