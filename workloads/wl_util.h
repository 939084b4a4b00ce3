/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * wl_util.h - small helpers the demo workloads share: option parsing,
 * a seeded random generator (runs are reproducible from the seed they
 * print), sleeping, and a stop flag set by SIGINT/SIGTERM.
 */
#ifndef NETRV_WL_UTIL_H
#define NETRV_WL_UTIL_H

#include <signal.h>
#include <stdint.h>

/* Set by SIGINT and SIGTERM once wl_handle_stop_signals() ran. */
extern volatile sig_atomic_t wl_stop;

/**
 * wl_handle_stop_signals - make SIGINT and SIGTERM set wl_stop
 *
 * Installed without SA_RESTART, so a blocking lock or read returns EINTR
 * and the workload can print its counts and exit.
 */
void wl_handle_stop_signals(void);

/**
 * wl_parse_u64 - parse a decimal number in [@min, @max] for option @opt
 *
 * Return: 0, or -1 after logging what was wrong.
 */
int wl_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max,
		 uint64_t *out);

/** wl_rand - xorshift64*; @state must not be 0 */
uint64_t wl_rand(uint64_t *state);

/** wl_seed - a seed from the clock and the PID when @seed is 0 */
uint64_t wl_seed(uint64_t seed);

/** wl_sleep_us - sleep @us microseconds (returns early on a signal) */
void wl_sleep_us(uint64_t us);

#endif
