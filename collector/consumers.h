/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * consumers.h - the collector's built-in consumers.
 *
 * "stats" counts events and losses per node and measures event-to-release
 * latency (collector TAI at release minus the event's TAI); it writes a
 * JSON summary at exit.  "eventlog" writes every released event as one
 * JSON line; it checkpoints with the pipeline, so after a crash and
 * restart the log holds every event exactly once.
 */
#ifndef NETRV_COLLECTOR_CONSUMERS_H
#define NETRV_COLLECTOR_CONSUMERS_H

#include <stdio.h>

#include "event.h"

/**
 * stats_consumer_create - count and time everything released
 *
 * Return: a consumer whose destroy op frees it, or NULL with errno.
 */
struct consumer *stats_consumer_create(void);

/**
 * stats_consumer_write - the summary as one JSON object on @out
 * @c: from stats_consumer_create()
 */
void stats_consumer_write(struct consumer *c, FILE *out);

/**
 * eventlog_consumer_create - append released events to @path (JSON lines)
 *
 * Return: a consumer whose destroy op closes and frees it, or NULL with
 * errno (logged).
 */
struct consumer *eventlog_consumer_create(const char *path);

/** json_escape - write @len bytes as the inside of a JSON string */
void eventlog_json_escape(FILE *out, const uint8_t *p, size_t len);

#endif
