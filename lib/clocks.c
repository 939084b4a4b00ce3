// SPDX-License-Identifier: GPL-2.0-or-later
/* clocks.c - see clocks.h. */
#include <stdlib.h>
#include <string.h>

#include "clocks.h"

static int read_ns(clockid_t id, uint64_t *ns)
{
	struct timespec ts;

	if (clock_gettime(id, &ts))
		return -1;
	*ns = (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
	return 0;
}

uint64_t clocks_now(clockid_t id)
{
	uint64_t ns;

	if (read_ns(id, &ns))
		abort(); /* only ever called with ids checked at start-up */
	return ns;
}

int clocks_pair(clockid_t a, clockid_t b, int tries, struct clocks_pair *out)
{
	uint64_t best = UINT64_MAX;

	if (tries < 1)
		tries = 1;
	for (int i = 0; i < tries; i++) {
		uint64_t a0, bt, a1;

		if (read_ns(a, &a0) || read_ns(b, &bt) || read_ns(a, &a1))
			return -1;
		if (a1 - a0 >= best)
			continue;
		best = a1 - a0;
		/* Integer arithmetic: TAI ns do not fit a double exactly. */
		out->a_ns = a0 + (a1 - a0) / 2;
		out->offset_ns = (int64_t)(bt - out->a_ns);
		out->bound_ns = (a1 - a0 + 1) / 2;
	}
	return 0;
}

clockid_t clocks_parse_trace_clock(const char *name)
{
	if (!strcmp(name, "mono"))
		return CLOCK_MONOTONIC;
	if (!strcmp(name, "boot"))
		return CLOCK_BOOTTIME;
	if (!strcmp(name, "tai"))
		return CLOCK_TAI;
	return -1;
}
