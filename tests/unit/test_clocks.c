// SPDX-License-Identifier: GPL-2.0-or-later
/* test_clocks.c - clock pairing gives an offset within its own bound. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "clocks.h"

int main(int argc, char **argv)
{
	struct clocks_pair p, q;
	uint64_t m, t;
	int64_t direct;

	CHECK_INT(clocks_parse_trace_clock("mono"), CLOCK_MONOTONIC);
	CHECK_INT(clocks_parse_trace_clock("boot"), CLOCK_BOOTTIME);
	CHECK_INT(clocks_parse_trace_clock("tai"), CLOCK_TAI);
	CHECK_INT(clocks_parse_trace_clock("x86-tsc"), -1);

	CHECK_INT(clocks_pair(CLOCK_MONOTONIC, CLOCK_TAI, 5, &p), 0);
	CHECK(p.bound_ns < 1000000); /* a few µs here; 1 ms is generous */
	/* an independent reading agrees within both bounds plus the gap */
	m = clocks_now(CLOCK_MONOTONIC);
	t = clocks_now(CLOCK_TAI);
	direct = (int64_t)(t - m);
	CHECK(llabs(direct - p.offset_ns) < 10000000);
	/* pairing a clock with itself gives offset ~0 within the bound */
	CHECK_INT(clocks_pair(CLOCK_MONOTONIC, CLOCK_MONOTONIC, 5, &q), 0);
	CHECK(llabs(q.offset_ns) <= (long long)q.bound_ns);
	return check_summary("test_clocks");
}
