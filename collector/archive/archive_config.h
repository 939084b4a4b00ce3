/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * archive_config.h - the [archive] section of the collector's config file.
 *
 * The collector keeps one option table (lib/config.h); it splices these
 * entries into it and calls archive_options_from_config() after reading.
 *
 *   [archive]
 *   dir = /var/lib/netrv/archive    # unset: no archive
 *   chunk_size = 256M               # rotate by size (0: never)
 *   chunk_duration = 1h             # rotate by TAI span (0: never)
 *   max_chunks = 48                 # retention by count (0: keep all)
 *   max_size = 8G                   # retention by total size (0: any)
 *   packet_size = 64K
 *   flush_interval = 1s             # a partial packet waits at most this
 */
#ifndef NETRV_ARCHIVE_CONFIG_H
#define NETRV_ARCHIVE_CONFIG_H

#include "archive.h"
#include "config.h"

/* One option per entry reads better than the formatter's layout. */
/* clang-format off */
#define ARCHIVE_CONFIG_SECTION \
	{ "archive", false, "CTF archive of the merged trace" }

#define ARCHIVE_CONFIG_OPTIONS \
	{ "archive", "dir", CONFIG_STRING, NULL, 0, 0, NULL, \
	  "archive directory (chunk-* inside); unset: no archive" }, \
	{ "archive", "chunk_size", CONFIG_SIZE, "256M", 0, INT64_MAX, NULL, \
	  "start a new chunk at this size; 0: never" }, \
	{ "archive", "chunk_duration", CONFIG_DURATION, "1h", 0, INT64_MAX, \
	  NULL, "start a new chunk when one spans this much TAI; 0: never" }, \
	{ "archive", "max_chunks", CONFIG_INT, "0", 0, 1000000, NULL, \
	  "keep at most this many chunks; 0: all" }, \
	{ "archive", "max_size", CONFIG_SIZE, "0", 0, INT64_MAX, NULL, \
	  "remove the oldest chunks beyond this total; 0: no limit" }, \
	{ "archive", "packet_size", CONFIG_SIZE, "64K", 4096, 64 << 20, NULL, \
	  "CTF packet size: one write(2) each" }, \
	{ "archive", "flush_interval", CONFIG_DURATION, "1s", 1000000, \
	  3600000000000ll, NULL, "write a partial packet after this long" }
/* clang-format on */

/**
 * archive_options_from_config - fill @o from the [archive] section
 *
 * @o->dir points into @cfg (NULL: archiving is off).  Return: 0.
 */
int archive_options_from_config(const struct config *cfg,
				struct archive_options *o);

#endif
