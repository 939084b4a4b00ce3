// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_wal.c - the write-ahead log on a real file system.
 *
 * Cases: records come back in order after a reopen, every segment starts
 * with the node's schemas and its latest Hello (a new Hello replaces it
 * from where it came); a torn record at the end (a crash mid-write) is
 * cut off and the log goes on; a damaged record inside an older segment
 * loses only the rest of that segment; trimming removes processed
 * segments and keeps the open one; a second collector cannot open a locked
 * WAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "wal.h"

static char dir[256];

struct rec {
	int type;
	uint64_t seq;
	char payload[64];
};

struct got {
	struct rec r[64];
	int n;
};

static int collect(void *arg, const char *node, enum frame_type type,
		   uint64_t seq, const uint8_t *payload, uint32_t len)
{
	struct got *g = arg;

	if (g->n < 64 && len < 64) {
		g->r[g->n].type = type;
		g->r[g->n].seq = seq;
		memcpy(g->r[g->n].payload, payload, len);
		g->r[g->n].payload[len] = 0;
		g->n++;
	}
	return 0;
}

static struct wal *open_wal(void)
{
	struct wal_config cfg = { .dir = dir, .segment_size = 100 };

	return wal_open(&cfg);
}

static int count_batches(const struct got *g, uint64_t seq)
{
	int n = 0;

	for (int i = 0; i < g->n; i++)
		n += g->r[i].type == FRAME_BATCH && g->r[i].seq == seq;
	return n;
}

static void write_log(void)
{
	struct wal *w = open_wal();
	struct wal_node *wn;
	char p[64];

	REQUIRE(w);
	wn = wal_node(w, "a");
	REQUIRE(wn);
	CHECK(!wal_append(wn, FRAME_SCHEMA, 0, "schema-1", 8));
	CHECK(!wal_append(wn, FRAME_HELLO, 0, "hello-1", 7));
	for (uint64_t s = 1; s <= 6; s++) {
		snprintf(p, sizeof(p), "batch-%llu-%s", (unsigned long long)s,
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		/* a new session (agent restart) before batch 4 */
		if (s == 4)
			CHECK(!wal_append(wn, FRAME_HELLO, 0, "hello-2", 7));
		CHECK(!wal_append(wn, FRAME_BATCH, s, p, (uint32_t)strlen(p)));
	}
	CHECK_INT(wal_written_seq(wn), 6);
	CHECK(wal_durable_seq(wn) < 6);
	CHECK(!wal_sync(w));
	CHECK_INT(wal_durable_seq(wn), 6);
	/* the lock keeps a second collector out */
	{
		struct wal *w2 = open_wal();

		CHECK(!w2);
		CHECK(errno == EWOULDBLOCK);
		wal_close(w2);
	}
out:
	wal_close(w);
}

static void test_roundtrip(void)
{
	struct got g = { 0 };
	struct wal *w = open_wal();
	int schemas = 0, hellos = 0;
	const char *hello = NULL;

	REQUIRE(w);
	REQUIRE(!wal_replay(w, collect, &g));
	for (uint64_t s = 1; s <= 6; s++)
		CHECK_INT(count_batches(&g, s), 1);
	for (int i = 0, last = 0; i < g.n; i++) {
		if (g.r[i].type == FRAME_SCHEMA) {
			schemas++;
			CHECK_STR(g.r[i].payload, "schema-1");
		} else if (g.r[i].type == FRAME_HELLO) {
			hellos++;
			hello = g.r[i].payload;
		} else {
			CHECK((int)g.r[i].seq > last);
			last = (int)g.r[i].seq;
			/* each batch comes after the Hello of its session */
			CHECK(hello != NULL);
			if (hello)
				CHECK_STR(hello,
					  last < 4 ? "hello-1" : "hello-2");
		}
	}
	CHECK(schemas >= 3); /* one per segment: segments are 100 bytes */
	CHECK(hellos >= 3); /* and the Hello in force */
	CHECK_INT(wal_durable_seq(wal_node(w, "a")), 6);
out:
	wal_close(w);
}

static off_t newest_segment(char *path, size_t len)
{
	char cmd[512];
	FILE *f;
	struct stat st;

	snprintf(cmd, sizeof(cmd), "ls %s/a/*.wal | sort | tail -1", dir);
	f = popen(cmd, "r");
	if (!f || !fgets(path, (int)len, f)) {
		if (f)
			pclose(f);
		return -1;
	}
	pclose(f);
	path[strcspn(path, "\n")] = 0;
	return stat(path, &st) ? -1 : st.st_size;
}

static void test_torn_tail(void)
{
	char path[512];
	off_t before = newest_segment(path, sizeof(path)), after;
	uint8_t torn[24 + 10] = {
		'N', 'W', 'A', 'L', FRAME_BATCH, 0, 0, 0, 0xe8, 0x03
	}; /* claims 1000 bytes */
	struct got g = { 0 };
	struct wal *w = NULL;
	int fd;

	REQUIRE(before > 0);
	fd = open(path, O_WRONLY | O_APPEND);
	REQUIRE(fd >= 0);
	CHECK(write(fd, torn, sizeof(torn)) == (ssize_t)sizeof(torn));
	close(fd);
	w = open_wal();
	REQUIRE(w);
	REQUIRE(!wal_replay(w, collect, &g));
	for (uint64_t s = 1; s <= 6; s++)
		CHECK_INT(count_batches(&g, s), 1);
	after = newest_segment(path, sizeof(path));
	CHECK_INT(after, before); /* cut back to the last whole record */
	/* and the log goes on after it */
	CHECK(!wal_append(wal_node(w, "a"), FRAME_BATCH, 7, "batch-7", 7));
	CHECK(!wal_sync(w));
	wal_close(w);
	memset(&g, 0, sizeof(g));
	w = open_wal();
	REQUIRE(w);
	REQUIRE(!wal_replay(w, collect, &g));
	CHECK_INT(count_batches(&g, 7), 1);
	CHECK_INT(count_batches(&g, 6), 1);
out:
	wal_close(w);
}

static void test_damage_and_trim(void)
{
	char cmd[512], first[512];
	struct got g = { 0 };
	struct wal *w = NULL;
	FILE *f;
	int fd;

	/* flip the last byte of the oldest segment (inside batch 1 or 2) */
	snprintf(cmd, sizeof(cmd), "ls %s/a/*.wal | sort | head -1", dir);
	f = popen(cmd, "r");
	REQUIRE(f && fgets(first, sizeof(first), f));
	pclose(f);
	first[strcspn(first, "\n")] = 0;
	fd = open(first, O_RDWR);
	REQUIRE(fd >= 0);
	{
		struct stat st;
		char c;

		fstat(fd, &st);
		CHECK(pread(fd, &c, 1, st.st_size - 1) == 1);
		c ^= 0x55;
		CHECK(pwrite(fd, &c, 1, st.st_size - 1) == 1);
	}
	close(fd);
	w = open_wal();
	REQUIRE(w);
	REQUIRE(!wal_replay(w, collect, &g));
	/* only the damaged record is lost; later segments are whole */
	CHECK(count_batches(&g, 1) + count_batches(&g, 2) == 1);
	for (uint64_t s = 3; s <= 7; s++)
		CHECK_INT(count_batches(&g, s), 1);
	/* everything before 5 processed: older segments go, the newest stays */
	wal_trim(wal_node(w, "a"), 5, 0);
	wal_close(w);
	memset(&g, 0, sizeof(g));
	w = open_wal();
	REQUIRE(w);
	REQUIRE(!wal_replay(w, collect, &g));
	CHECK_INT(count_batches(&g, 1) + count_batches(&g, 2), 0);
	CHECK_INT(count_batches(&g, 7), 1);
	CHECK(g.n > 0 && g.r[0].type == FRAME_SCHEMA);
out:
	wal_close(w);
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/netrv-wal-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(dir))
		return 1;
	write_log();
	test_roundtrip();
	test_torn_tail();
	test_damage_and_trim();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return check_summary(argv[0]);
}
