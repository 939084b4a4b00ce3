/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lockproto.h - the line protocol of the demo lock service (netrv-lockd,
 * netrv-lockc).  One request or reply per line, fields separated by one
 * space, lines at most LOCKP_LINE_MAX bytes with the newline:
 *
 *   client -> server            server -> client
 *   H <node>      hello, once
 *   L <name> <mode>             G <name> <mode>   granted (may wait)
 *   U <name>                    R <name>          released
 *                               E <reason>        refused (bad request)
 *
 * <mode> is 0 (shared) or 1 (exclusive): shared locks are compatible with
 * each other, exclusive with nothing.  <name> and <node> are 1 to
 * LOCKP_NAME_MAX characters from [A-Za-z0-9._/-].  A client waits for the
 * reply to each request before it sends the next.
 */
#ifndef NETRV_LOCKPROTO_H
#define NETRV_LOCKPROTO_H

#include <stdbool.h>
#include <string.h>

#define LOCKP_NAME_MAX 63
#define LOCKP_LINE_MAX 160

enum lockp_mode { LOCKP_SHARED = 0, LOCKP_EXCLUSIVE = 1 };

static inline const char *lockp_mode_name(int mode)
{
	return mode == LOCKP_EXCLUSIVE ? "exclusive" : "shared";
}

static inline bool lockp_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LOCKP_NAME_MAX)
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._/-") == n;
}

static inline bool lockp_compatible(int a, int b)
{
	return a == LOCKP_SHARED && b == LOCKP_SHARED;
}

#endif
