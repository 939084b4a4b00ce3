/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * replay_hooks.h - where `netrv replay` gets its monitors.
 *
 * Replay reads an archive and feeds its merged stream to a list of
 * consumers (collector/event.h).  The monitors themselves (lock-safety
 * engine, DA models) live in other parts of the collector; replay_hooks.c
 * is the one place that creates them, so plugging a monitor in is a change
 * to that file only.  Monitors report verdicts through the sink.
 */
#ifndef NETRV_TOOLS_REPLAY_HOOKS_H
#define NETRV_TOOLS_REPLAY_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct replay_sink {
	/*
	 * A verdict, as archive_write_verdict() takes it; the sink prints it
	 * and remembers it for --compare.  Arguments are borrowed.
	 */
	void (*verdict)(struct replay_sink *s, uint64_t tai_ns,
			const char *vclass, const void *resource,
			size_t resource_len, const char *json);
};

/* One --model M [--binding B] pair of the command line. */
struct replay_model {
	const char *model;
	const char *binding; /* NULL: the model's default binding */
};

/**
 * replay_hooks_create - build the monitors for a replay
 * @config: a collector configuration file (--config): its [lock],
 *          [lock_user], [lock_pair] and [model NAME] sections configure
 *          the monitors as they did live; NULL: default [lock], no model
 * @models: the --model/--binding pairs, @n_models of them (added to the
 *          configured ones)
 * @lock_engine: run the lock-safety engine (unless --no-lock-engine)
 * @sink: where monitors report verdicts; outlives the consumers
 * @list: set to the first consumer of a ->next linked list (NULL if none)
 *
 * Return: 0, or -1 with the reason logged (e.g. a model that does not
 * compile, or no model support in this build).  The consumers are
 * destroyed by the caller through their ops->destroy.
 */
int replay_hooks_create(const char *config, const struct replay_model *models,
			size_t n_models, bool lock_engine,
			struct replay_sink *sink, struct consumer **list);

#endif
