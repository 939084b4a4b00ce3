// SPDX-License-Identifier: GPL-2.0-or-later
/* wl_util.c - see wl_util.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_SUBSYS "workload"
#include "log.h"
#include "wl_util.h"

volatile sig_atomic_t wl_stop;

static void wl_on_stop(int sig)
{
	wl_stop = 1;
}

void wl_handle_stop_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = wl_on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int wl_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		pr_err("--%s: '%s' is not a number in [%llu, %llu]", opt, s,
		       (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

uint64_t wl_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

uint64_t wl_seed(uint64_t seed)
{
	struct timespec ts;

	if (seed)
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
	       ((uint64_t)getpid() << 16);
	return seed ? seed : 1;
}

void wl_sleep_us(uint64_t us)
{
	struct timespec ts = { .tv_sec = us / 1000000,
			       .tv_nsec = (us % 1000000) * 1000 };

	if (us)
		nanosleep(&ts, NULL);
}
