// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_spool.c - the agent's spool: round trip across reopen, kill -9 in
 * the middle of appends, a corrupt or torn tail cut cleanly, a full spool
 * dropping its oldest segment and reporting exactly what was lost, acks.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "check.h"
#include "log.h"

static char dir[128];

static void rm_spool(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Batch @seq's frame: its seq repeated, 8 + seq % 300 bytes long. */
static size_t make_frame(uint64_t seq, struct bytebuf *b)
{
	size_t len = 8 + seq % 300;

	bytebuf_reserve(b, len);
	for (size_t i = 0; i < len; i++)
		b->data[b->len + i] = (uint8_t)(seq * 31 + i);
	b->len += len;
	return len;
}

static bool frame_ok(uint64_t seq, const struct bytebuf *b)
{
	if (b->len != 8 + seq % 300)
		return false;
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] != (uint8_t)(seq * 31 + i))
			return false;
	return true;
}

/* Append @n batches one by one, each with a carry naming its seq. */
static int append_n(struct spool *s, int n, uint32_t events)
{
	for (int i = 0; i < n; i++) {
		uint64_t seq = spool_next_seq(s);
		struct bytebuf f = { 0 }, carry = { 0 };
		struct spool_info info = { .seq = seq,
					   .n_events = events,
					   .first_ns = seq * 1000,
					   .last_ns = seq * 1000 + 999 };
		size_t len = make_frame(seq, &f);
		int ret;

		bytebuf_reserve(&carry, 8);
		memcpy(carry.data, &seq, 8);
		carry.len = 8;
		ret = spool_append(s, &f, &len, &info, 1, &carry);
		bytebuf_release(&f);
		bytebuf_release(&carry);
		if (ret)
			return -1;
	}
	return 0;
}

static int check_all(struct spool *s, uint64_t from, uint64_t to)
{
	struct bytebuf b = { 0 };
	struct spool_info info;
	int bad = 0;

	for (uint64_t q = from; q <= to; q++)
		if (spool_read(s, q, &b, &info) != 1 || !frame_ok(q, &b) ||
		    info.seq != q || info.first_ns != q * 1000)
			bad++;
	bytebuf_release(&b);
	return bad;
}

static void test_roundtrip(void)
{
	struct spool *s = spool_open(dir, 1 << 20, 4096, false);
	struct bytebuf b = { 0 };
	uint64_t carry_seq;

	REQUIRE(s);
	CHECK_INT(spool_next_seq(s), 1);
	REQUIRE(!append_n(s, 50, 3));
	CHECK_INT(spool_next_seq(s), 51);
	CHECK_INT(check_all(s, 1, 50), 0);
	CHECK_INT(spool_read(s, 51, &b, NULL), 0);
	spool_close(s);
	s = spool_open(dir, 1 << 20, 4096, false);
	REQUIRE(s);
	CHECK_INT(spool_next_seq(s), 51);
	CHECK_INT(spool_first_seq(s), 1);
	CHECK_INT(check_all(s, 1, 50), 0);
	REQUIRE(spool_last_carry(s)->len == 8);
	memcpy(&carry_seq, spool_last_carry(s)->data, 8);
	CHECK_INT(carry_seq, 50);
	/* ack drops whole segments, never the newest */
	spool_ack(s, 50);
	CHECK(spool_bytes(s) <= 4096 + 400);
	spool_close(s);
	s = spool_open(dir, 1 << 20, 4096, false);
	REQUIRE(s);
	CHECK_INT(spool_next_seq(s), 51);
out:
	bytebuf_release(&b);
	spool_close(s);
	rm_spool();
}

/* A child appends as fast as it can and is killed at a random moment. */
static void test_kill9(void)
{
	for (int round = 0; round < 5; round++) {
		struct timespec d = { 0, (long)(rand() % 40 + 5) * 1000000 };
		struct spool *s;
		uint64_t carry_seq = 0, next;
		pid_t pid = fork();

		if (pid == 0) {
			struct spool *cs =
				spool_open(dir, 1 << 26, 8192, false);

			while (cs && !append_n(cs, 1, 1))
				;
			_exit(1);
		}
		REQUIRE(pid > 0);
		nanosleep(&d, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		s = spool_open(dir, 1 << 26, 8192, false);
		REQUIRE(s);
		next = spool_next_seq(s);
		CHECK(next > 1);
		CHECK_INT(check_all(s, spool_first_seq(s), next - 1), 0);
		if (spool_last_carry(s)->len == 8)
			memcpy(&carry_seq, spool_last_carry(s)->data, 8);
		CHECK_INT(carry_seq, next - 1);
		spool_close(s);
	}
out:
	rm_spool();
}

static char *newest_segment(char *path, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char best[256] = "";

	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "seg-", 4) &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	if (d)
		closedir(d);
	snprintf(path, len, "%s/%s", dir, best);
	return path;
}

static void test_corrupt_tail(void)
{
	static const char *const what[] = { "flipped byte", "torn record",
					    "garbage after" };

	for (int k = 0; k < 3; k++) {
		struct spool *s = spool_open(dir, 1 << 20, 1 << 20, false);
		char path[300];
		struct stat st;
		int fd;

		REQUIRE(s);
		REQUIRE(!append_n(s, 10, 1));
		spool_close(s);
		newest_segment(path, sizeof(path));
		REQUIRE(!stat(path, &st));
		fd = open(path, O_RDWR);
		REQUIRE(fd >= 0);
		if (k == 0) { /* a byte inside the last frame */
			uint8_t c;

			CHECK(pread(fd, &c, 1, st.st_size - 10) == 1);
			c ^= 0x40;
			CHECK(pwrite(fd, &c, 1, st.st_size - 10) == 1);
		} else if (k == 1) { /* the last record half written */
			CHECK(!ftruncate(fd, st.st_size - 20));
		} else { /* junk after the last good record */
			CHECK(pwrite(fd, "junkjunkjunk", 12, st.st_size) == 12);
		}
		close(fd);
		s = spool_open(dir, 1 << 20, 1 << 20, false);
		REQUIRE(s);
		fprintf(stderr, "corrupt tail (%s): next seq %llu\n", what[k],
			(unsigned long long)spool_next_seq(s));
		CHECK_INT(spool_next_seq(s), k == 2 ? 11 : 10);
		CHECK_INT(check_all(s, 1, k == 2 ? 10 : 9), 0);
		/* the cut leaves a clean end: appending works and reads back */
		CHECK(!append_n(s, 2, 1));
		CHECK_INT(check_all(s, 1, spool_next_seq(s) - 1), 0);
		spool_close(s);
		rm_spool();
	}
out:
	rm_spool();
}

/*
 * Batches 1..4 appended one by one (carry 4), then 5..7 in one append with
 * carry 99, of which only @cut bytes reach the file (SIZE_MAX: all).
 * Returns the size of that append, 0 on failure.
 */
static size_t torn_append(size_t cut)
{
	struct spool *s = spool_open(dir, 1 << 20, 1 << 20, false);
	struct bytebuf f = { 0 }, carry = { 0 };
	struct spool_info info[3] = { 0 };
	size_t len[3], whole = 0;
	uint64_t c = 99;
	char path[300];
	struct stat before, after;

	if (!s || append_n(s, 4, 1) ||
	    stat(newest_segment(path, sizeof(path)), &before))
		goto out;
	for (int i = 0; i < 3; i++) {
		info[i].seq = 5 + (uint64_t)i;
		info[i].first_ns = info[i].seq * 1000;
		len[i] = make_frame(info[i].seq, &f);
	}
	bytebuf_reserve(&carry, 8);
	memcpy(carry.data, &c, 8);
	carry.len = 8;
	if (spool_append(s, &f, len, info, 3, &carry) || stat(path, &after))
		goto out;
	whole = (size_t)(after.st_size - before.st_size);
	if (cut < whole && truncate(path, before.st_size + (off_t)cut))
		whole = 0;
out:
	spool_close(s);
	bytebuf_release(&f);
	bytebuf_release(&carry);
	return whole;
}

/*
 * That append torn at every length (kill -9 stops a write at a fatal
 * signal; a crash or a full disk too): the spool opens with all three
 * batches and the new carry, or with none of them and the carry before.
 */
static void test_torn_append(void)
{
	size_t whole = torn_append(SIZE_MAX);

	rm_spool();
	REQUIRE(whole > 0);
	for (size_t cut = 0;; cut = cut + 7 < whole ? cut + 7 : whole) {
		struct spool *s;
		uint64_t got = 0;

		REQUIRE(torn_append(cut) == whole);
		s = spool_open(dir, 1 << 20, 1 << 20, false);
		REQUIRE(s);
		if (spool_last_carry(s)->len == 8)
			memcpy(&got, spool_last_carry(s)->data, 8);
		CHECK_INT(spool_next_seq(s), cut == whole ? 8 : 5);
		CHECK_INT(got, cut == whole ? 99 : 4);
		CHECK_INT(check_all(s, 1, spool_next_seq(s) - 1), 0);
		spool_close(s);
		rm_spool();
		if (cut == whole)
			break;
	}
	fprintf(stderr,
		"torn append: every cut of its %zu bytes gives all or none\n",
		whole);
out:
	rm_spool();
}

static void test_full(void)
{
	struct spool *s = spool_open(dir, 16384, 4096, false);
	struct spool_info lost;
	uint64_t first;

	REQUIRE(s);
	REQUIRE(!append_n(s, 20, 7));
	spool_ack(s, 5); /* 1..5 are safe: never counted as lost */
	CHECK(!spool_take_loss(s, &lost));
	REQUIRE(!append_n(s, 200, 7));
	CHECK(spool_bytes(s) <= 16384 + 4096);
	first = spool_first_seq(s);
	CHECK(first > 6);
	REQUIRE(spool_take_loss(s, &lost));
	/* exactly the unacknowledged batches 6 .. first-1, 7 events each */
	CHECK_INT(lost.n_events, (first - 6) * 7);
	CHECK_INT(lost.first_ns, 6 * 1000);
	CHECK_INT(lost.last_ns, (first - 1) * 1000 + 999);
	CHECK(!spool_take_loss(s, &lost)); /* reported once */
	CHECK_INT(check_all(s, first, spool_next_seq(s) - 1), 0);
out:
	spool_close(s);
	rm_spool();
}

/*
 * Carries larger than a segment, as a burst held back for ordering makes:
 * records without a batch (carry only) do not advance the next seq, so a
 * segment started for them and the next one would get the same name.
 * Every batch must still read back as written, in this run and after a
 * reopen, also when batches and carry-only records alternate.
 */
static void test_big_carry(void)
{
	struct spool *s = spool_open(dir, 1 << 26, 4096, false);
	struct bytebuf carry = { 0 };
	uint64_t got;

	REQUIRE(s);
	REQUIRE(!bytebuf_reserve(&carry, 3 * 4096));
	for (int round = 0; round < 30; round++) {
		/* 1..3 carry-only records of 1..3 segments each */
		for (int k = 0; k <= round % 3; k++) {
			carry.len = 4096 * (size_t)(1 + (round + k) % 3);
			memset(carry.data, round, carry.len);
			REQUIRE(!spool_append(s, NULL, NULL, NULL, 0, &carry));
		}
		REQUIRE(!append_n(s, 1 + round % 4, 5));
		CHECK_INT(check_all(s, 1, spool_next_seq(s) - 1), 0);
	}
	got = spool_next_seq(s) - 1;
	spool_close(s);
	s = spool_open(dir, 1 << 26, 4096, false);
	REQUIRE(s);
	CHECK_INT(spool_next_seq(s), got + 1);
	CHECK_INT(spool_first_seq(s), 1);
	CHECK_INT(check_all(s, 1, got), 0);
	/* acks drop the old segments and leave the rest readable */
	spool_ack(s, got / 2);
	CHECK_INT(check_all(s, spool_first_seq(s), got), 0);
	CHECK(spool_first_seq(s) <= got / 2 + 1);
out:
	bytebuf_release(&carry);
	spool_close(s);
	rm_spool();
}

int main(int argc, char **argv)
{
	log_setup("test_spool", LOG_WARNING);
	srand((unsigned int)getpid());
	snprintf(dir, sizeof(dir), "/tmp/netrv-test-spool-%d", (int)getpid());
	test_roundtrip();
	test_kill9();
	test_corrupt_tail();
	test_torn_append();
	test_full();
	test_big_carry();
	rm_spool();
	return check_summary(argv[0]);
}
