/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * clocks.h - reading and pairing the clocks netrv cares about.
 *
 * Events are stamped with a monotonic trace clock (mono, boot) so local order
 * survives wall-clock steps; the cluster is merged in TAI.  A "pair" reads
 * two clocks back to back, A-B-A, and keeps the narrowest of a few tries, so
 * the offset between them comes with an honest bound (half the A-A gap).
 */
#ifndef NETRV_CLOCKS_H
#define NETRV_CLOCKS_H

#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000LL

struct clocks_pair {
	int64_t offset_ns; /* clock b - clock a at the same instant */
	uint64_t bound_ns; /* |error| of offset_ns is at most this */
	uint64_t a_ns; /* when (on clock a) the pair was taken */
};

/** clocks_now - @id read in ns; aborts on a clock the kernel lacks */
uint64_t clocks_now(clockid_t id);

/**
 * clocks_pair - the offset of clock @b against clock @a
 * @tries: reads to make (the narrowest wins), at least 1
 *
 * Return: 0, or -1 with errno from clock_gettime().
 */
int clocks_pair(clockid_t a, clockid_t b, int tries, struct clocks_pair *out);

/**
 * clocks_parse_trace_clock - clock id of a tracefs trace clock name
 * @name: "mono", "boot" or "tai"
 *
 * Return: the clockid, or -1 for names netrv cannot map to a user clock.
 */
clockid_t clocks_parse_trace_clock(const char *name);

#endif
