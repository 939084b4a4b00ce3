/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * da.h - deterministic automaton monitors with the kernel's semantics.
 *
 * One struct da_mon is one monitor instance (the kernel's struct
 * da_monitor): the current state and whether it is monitoring.  The three
 * handlers do what include/rv/da_monitor.h does:
 *
 *   da_handle_event()           ignored while not monitoring; otherwise a
 *                               step, and an event with no edge is a
 *                               violation: the reactor runs with state and
 *                               event, the instance resets (stops
 *                               monitoring, back to the initial state).
 *   da_handle_start_event()     not monitoring: start in the initial state
 *                               and skip the event (the event is known to
 *                               lead there); monitoring: a step.
 *   da_handle_start_run_event() start if not monitoring, then a step.
 *
 * Everything is inline: a step is a table load and a compare.
 */
#ifndef NETRV_DA_H
#define NETRV_DA_H

#include <stdbool.h>
#include <stdint.h>

#include "da_model.h"

struct da_mon {
	uint16_t state;
	bool monitoring;
};

/* What a handler did with an event. */
enum da_result {
	DA_IGNORED, /* not monitoring: nothing happened */
	DA_STARTED, /* start event: monitoring begins, event not processed */
	DA_STEPPED, /* a valid transition */
	DA_VIOLATION, /* no edge: reactor called, instance reset */
};

/*
 * A reactor: called on a violation with the state the instance was in and
 * the event that has no edge from it.
 */
typedef void (*da_react_fn)(void *arg, unsigned int state, unsigned int event);

/** da_mon_reset - stop monitoring, back to the initial state */
static inline void da_mon_reset(const struct da_model *m, struct da_mon *mon)
{
	mon->monitoring = false;
	mon->state = m->initial_state;
}

/** da_mon_start - start monitoring in the initial state */
static inline void da_mon_start(const struct da_model *m, struct da_mon *mon)
{
	mon->state = m->initial_state;
	mon->monitoring = true;
}

/* One step of a monitoring instance; resets it on a violation. */
static inline enum da_result da_step(const struct da_model *m,
				     struct da_mon *mon, unsigned int event,
				     da_react_fn react, void *arg)
{
	unsigned int next = da_model_next(m, mon->state, event);

	if (__builtin_expect(next != m->n_states, 1)) {
		mon->state = next;
		return DA_STEPPED;
	}
	if (react)
		react(arg, mon->state, event);
	da_mon_reset(m, mon);
	return DA_VIOLATION;
}

/** da_handle_event - process @event if @mon is monitoring */
static inline enum da_result da_handle_event(const struct da_model *m,
					     struct da_mon *mon,
					     unsigned int event,
					     da_react_fn react, void *arg)
{
	if (!mon->monitoring)
		return DA_IGNORED;
	return da_step(m, mon, event, react, arg);
}

/**
 * da_handle_start_event - start monitoring without processing @event, or
 * process it if already monitoring
 */
static inline enum da_result da_handle_start_event(const struct da_model *m,
						   struct da_mon *mon,
						   unsigned int event,
						   da_react_fn react, void *arg)
{
	if (!mon->monitoring) {
		da_mon_start(m, mon);
		return DA_STARTED;
	}
	return da_step(m, mon, event, react, arg);
}

/** da_handle_start_run_event - start monitoring if needed, then process */
static inline enum da_result
da_handle_start_run_event(const struct da_model *m, struct da_mon *mon,
			  unsigned int event, da_react_fn react, void *arg)
{
	if (!mon->monitoring)
		da_mon_start(m, mon);
	return da_step(m, mon, event, react, arg);
}

#endif
