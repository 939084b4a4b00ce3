/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * check.h - the smallest test harness that does the job.
 *
 * CHECK() records a failure and goes on; REQUIRE() records it and jumps to
 * the enclosing function's "out" label, where the case cleans up.  A test
 * program ends with "return check_summary(argv[0]);", which prints the
 * plain "N passed, N failed" line and turns failures into exit status 1.
 */
#ifndef NETRV_TESTS_CHECK_H
#define NETRV_TESTS_CHECK_H

#include <inttypes.h>
#include <stdio.h>

static unsigned int check_passed, check_failed;

static inline int check_report(int ok, const char *file, int line,
			       const char *what)
{
	if (ok) {
		check_passed++;
		return 1;
	}
	check_failed++;
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	return 0;
}

#define CHECK(c) check_report(!!(c), __FILE__, __LINE__, #c)
#define REQUIRE(c)                \
	do {                      \
		if (!CHECK(c))    \
			goto out; \
	} while (0)
#define CHECK_INT(a, b)                                                     \
	do {                                                                \
		long long _a = (a), _b = (b);                               \
		if (!CHECK(_a == _b))                                       \
			fprintf(stderr, "  %s = %lld, %s = %lld\n", #a, _a, \
				#b, _b);                                    \
	} while (0)
#define CHECK_STR(a, b)                                                       \
	do {                                                                  \
		const char *_a = (a), *_b = (b);                              \
		if (!CHECK(_a && _b && !strcmp(_a, _b)))                      \
			fprintf(stderr, "  %s = \"%s\"\n  %s = \"%s\"\n", #a, \
				_a ? _a : "(null)", #b, _b ? _b : "(null)");  \
	} while (0)

static inline int check_summary(const char *name)
{
	printf("%s: %u passed, %u failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
