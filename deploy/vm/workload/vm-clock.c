// SPDX-License-Identifier: GPL-2.0-only
/*
 * netrv-vm-clock - the guest-side clock tool of the VM tier.
 *
 *   netrv-vm-clock step MS   add MS milliseconds (may be negative) to
 *                            CLOCK_REALTIME: gives each guest a known offset
 *                            before ptp4l starts, so that synchronisation has
 *                            real work to do and a run without PTP shows it.
 *   netrv-vm-clock step-ns NS  the same in nanoseconds.
 *   netrv-vm-clock show      print CLOCK_REALTIME, CLOCK_TAI, CLOCK_MONOTONIC
 *
 * Only ever run inside a VM: it steps the clock of the machine it runs on.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long ns_of(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc == 3 &&
	    (!strcmp(argv[1], "step") || !strcmp(argv[1], "step-ns"))) {
		long long unit = strcmp(argv[1], "step") ? 1 : 1000000;
		char *end;
		long long v = strtoll(argv[2], &end, 10);
		long long ns;
		struct timespec ts;

		if (*end || end == argv[2] || v < -3600000000000LL / unit ||
		    v > 3600000000000LL / unit) {
			fprintf(stderr, "netrv-vm-clock: bad step '%s'\n",
				argv[2]);
			return 2;
		}
		ns = ns_of(CLOCK_REALTIME) + v * unit;
		ts.tv_sec = ns / 1000000000LL;
		ts.tv_nsec = ns % 1000000000LL;
		if (clock_settime(CLOCK_REALTIME, &ts)) {
			fprintf(stderr, "netrv-vm-clock: clock_settime: %m\n");
			return 1;
		}
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "show")) {
		printf("realtime %lld\ntai %lld\nmonotonic %lld\n",
		       ns_of(CLOCK_REALTIME), ns_of(CLOCK_TAI),
		       ns_of(CLOCK_MONOTONIC));
		return 0;
	}
	fprintf(stderr, "usage: netrv-vm-clock step MS | step-ns NS | show\n");
	return 2;
}
