/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_provider.h - a TEST provider for the HTTP side: a deliberately small
 * lock table and conflict checker standing in for the lock-safety engine
 * (collector/lock/), which lives on another branch.  It consumes the "test"
 * events of feed.h through a real struct consumer, serves /api/resources,
 * /api/verdicts and /api/verdicts/ID in the shapes documented in
 * collector/http/README.md, and publishes "verdict" and "resource" events.
 *
 * Its checking is simple (DLM compatibility; both holds open: definite;
 * a grant within epsilon of an incompatible release with no message from
 * releaser to grantee in between: possible).  It is not the engine.
 */
#ifndef NETRV_TESTS_HTTP_TEST_PROVIDER_H
#define NETRV_TESTS_HTTP_TEST_PROVIDER_H

#include "http.h"

struct test_provider;

/** test_provider_create - @h (may be NULL) receives the SSE events */
struct test_provider *test_provider_create(struct http *h);
void test_provider_destroy(struct test_provider *tp);
struct consumer *test_provider_consumer(struct test_provider *tp);
struct http_provider *test_provider_provider(struct test_provider *tp);
/** test_provider_verdicts - verdicts made so far */
uint64_t test_provider_verdicts(const struct test_provider *tp);

#endif
