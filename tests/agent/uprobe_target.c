// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * uprobe_target.c - a workload for the agent's tests.
 *
 *   uprobe_target probe N          call netrv_probe_me(i, i*1000+7, "msg-i")
 *   uprobe_target dlm N            call netrv_dlm_like(ls, lkid, mode, res)
 *                                  with a 24-character gfs2-style res name
 *   uprobe_target flock N FILE     N times flock(LOCK_EX) + flock(LOCK_UN)
 *   uprobe_target marker N FILE ID write N DLM-sized records (u32 id,
 *                                  u32 node, u32 mode, u64 lkid, char[64]
 *                                  resource) to trace_marker_raw FILE
 *   ... [RATE]                     optional: events per second (default: max)
 *
 * It first waits for a line on stdin when NETRV_WAIT is set, so a test can
 * start it, learn its pid and then let it run.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) int netrv_probe_me(int node, long seq,
					     const char *msg)
{
	__asm__ volatile("" ::: "memory");
	return node + (int)seq + (int)strlen(msg);
}

__attribute__((noinline)) int netrv_dlm_like(uint32_t ls, uint32_t lkid,
					     int mode, const char *res)
{
	__asm__ volatile("" ::: "memory");
	return (int)(ls + lkid) + mode + (int)strlen(res);
}

static void pace(long i, long rate, const struct timespec *t0)
{
	struct timespec now, want;
	long long ns;

	if (rate <= 0)
		return;
	ns = (long long)i * 1000000000LL / rate;
	want.tv_sec = t0->tv_sec + (t0->tv_nsec + ns) / 1000000000LL;
	want.tv_nsec = (t0->tv_nsec + ns) % 1000000000LL;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec < want.tv_sec ||
	    (now.tv_sec == want.tv_sec && now.tv_nsec < want.tv_nsec))
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &want, NULL);
}

int main(int argc, char **argv)
{
	struct timespec t0;
	long n, rate = 0;
	int fd = -1;
	unsigned int sum = 0; /* wraps: only keeps the calls */
	char line[16];

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment in uprobe_target.c\n");
		return 2;
	}
	n = atol(argv[2]);
	if (getenv("NETRV_WAIT") && !fgets(line, sizeof(line), stdin))
		return 1;
	if (!strcmp(argv[1], "flock") || !strcmp(argv[1], "marker")) {
		if (argc < 4)
			return 2;
		fd = open(argv[3],
			  !strcmp(argv[1], "flock") ? O_RDWR | O_CREAT :
						      O_WRONLY,
			  0600);
		if (fd < 0) {
			perror(argv[3]);
			return 1;
		}
	}
	if (!strcmp(argv[1], "flock") && argc > 4)
		rate = atol(argv[4]);
	if (!strcmp(argv[1], "marker") && argc > 5)
		rate = atol(argv[5]);
	if ((!strcmp(argv[1], "probe") || !strcmp(argv[1], "dlm")) && argc > 3)
		rate = atol(argv[3]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		pace(i, rate, &t0);
		if (!strcmp(argv[1], "probe")) {
			char msg[32];

			snprintf(msg, sizeof(msg), "msg-%ld", i);
			sum += netrv_probe_me((int)i, i * 1000 + 7, msg);
		} else if (!strcmp(argv[1], "dlm")) {
			char res[32];

			/* gfs2 glock names: "%8x%16llx" of type and number */
			snprintf(res, sizeof(res), "%8x%16lx", 2, 0x1a00f + i);
			sum += netrv_dlm_like(0x2e7d1e8f,
					      (uint32_t)(0x10001 + i),
					      (int)(i % 6), res);
		} else if (!strcmp(argv[1], "flock")) {
			if (flock(fd, LOCK_EX) || flock(fd, LOCK_UN)) {
				perror("flock");
				return 1;
			}
		} else {
			struct __attribute__((packed)) {
				uint32_t id, node, mode;
				uint64_t lkid;
				char res[64];
			} r = { (uint32_t)atol(argv[4]),
				3,
				(uint32_t)(i % 6),
				(uint64_t)i,
				{ 0 } };

			snprintf(r.res, sizeof(r.res), "resource-%08ld", i);
			if (write(fd, &r, sizeof(r)) != sizeof(r)) {
				perror("trace_marker_raw");
				return 1;
			}
		}
	}
	printf("%u\n", sum & 1);
	return 0;
}
