/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * consumer.h - automata monitors as a consumer of the collector's merged
 * event stream (collector/event.h).
 *
 * The consumer holds any number of models, each with its binding, and runs
 * their instances over the merged events: each event type is matched to
 * the bindings' rules once (field names resolved to indices when its
 * Netrv__EventType is first seen), after which an event costs the rule
 * predicates, a key, a hash lookup and a table step; nothing is allocated
 * per event except a new instance or holder.  A violation calls the
 * caller's function.  A loss report on a node makes the instances that node
 * could have touched unknown; they resynchronise the kernel's way, on the
 * next start event (an event that returns them to the initial state).
 */
#ifndef NETRV_MODELS_CONSUMER_H
#define NETRV_MODELS_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* What a violation handler receives; everything is borrowed for the call. */
struct models_violation {
	const char *model;
	const char *key; /* instance key as text, e.g. "node=n1 lkb_id=7";
			  * field bytes escaped; "global" for global ones */
	const char *state; /* state the instance was in */
	const char *event; /* model event that has no edge from it */
	const struct cevent *ev; /* the trace event that caused it */
};

typedef void (*models_violation_fn)(void *arg,
				    const struct models_violation *v);

/**
 * models_consumer_create - an empty automata consumer
 * @fn: called on every violation (on the merge's thread, must not block)
 * @arg: passed to @fn
 *
 * Return: the consumer (destroy it with its ops->destroy), or NULL with
 * errno ENOMEM.
 */
struct consumer *models_consumer_create(models_violation_fn fn, void *arg);

/**
 * models_consumer_add - load model @dot_path and its binding
 * @bind_path: NULL takes the .dot path with ".bind" for ".dot"
 * @err: receives "FILE:LINE: message" on failure
 *
 * Return: 0, or -1 with errno (EINVAL: bad model or binding, @err says
 * why; EEXIST: a model of that name is loaded already).
 */
int models_consumer_add(struct consumer *c, const char *dot_path,
			const char *bind_path, char *err, size_t errsz);

struct models_stats {
	uint64_t events; /* trace events a rule of this model matched */
	uint64_t steps; /* model events processed (not ignored) */
	uint64_t ignored; /* model events for instances not monitoring */
	uint64_t started; /* instances that started monitoring */
	uint64_t violations;
	uint64_t created; /* instances allocated */
	uint64_t freed; /* instances forgotten */
	uint64_t losses; /* loss reports that reset instances */
	uint64_t skipped; /* events that could not be keyed (key too long,
			   * out of memory, class out of range) */
	size_t instances; /* live instances now */
	size_t bytes; /* heap bytes they take (allocator's view) */
};

/**
 * models_consumer_stats - counters and memory of model @name
 *
 * Return: 0, or -1 with errno ENOENT if no such model is loaded.
 */
int models_consumer_stats(struct consumer *c, const char *name,
			  struct models_stats *st);

/**
 * models_consumer_state - state of the instance of model @name whose key
 * text (as in struct models_violation) is @key
 *
 * For tests and the dashboard.  Return: the state name, "unknown" if the
 * instance exists but is not monitoring, or NULL if there is no such
 * instance.  Walks all instances: not for hot paths.
 */
const char *models_consumer_state(struct consumer *c, const char *name,
				  const char *key);

#endif
