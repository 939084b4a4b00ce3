/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * da_model.h - a deterministic automaton, as read from a DOT file.
 *
 * Models follow the Linux kernel's RV conventions (Documentation/trace/rv/
 * deterministic_automata.rst): "digraph state_automaton", an invisible
 * "__init_<state>" node whose edge marks the initial state, "doublecircle"
 * (or "ellipse") nodes for final states (none marked: the initial state is
 * final), edge labels naming one event or several separated by "\n".
 *
 * The table has the shape of the header the kernel's dot2c generates and
 * netrv-model writes (models/header.c): states sorted by name with the
 * initial state moved to index 0, events sorted by name, function[state]
 * [event] giving the next state or DA_INVALID (the kernel's INVALID_STATE,
 * i.e. the number of states).  So a model loaded at run time and the same
 * model compiled into a header number their states and events alike.
 */
#ifndef NETRV_DA_MODEL_H
#define NETRV_DA_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest number of states or events a model may have. */
#define DA_MAX_STATES 65535u
#define DA_MAX_EVENTS 65535u

struct da_model {
	char *name; /* C identifier, e.g. "wip" */
	char *file; /* path it was read from, for messages */
	unsigned int n_states;
	unsigned int n_events;
	char **state_names; /* [n_states] */
	char **event_names; /* [n_events] */
	uint16_t *function; /* [n_states * n_events]; n_states = invalid */
	uint16_t initial_state; /* always 0, as in the generated header */
	bool *final_states; /* [n_states] */
	bool *start_events; /* [n_events]: every edge leads to the initial
			     * state (the kernel generator's start event) */
	bool *start_run_events; /* [n_events]: only edge leaves the initial
				 * state and no start event exists */
	unsigned int *state_lines; /* [n_states] line of first declaration */
};

/** da_model_next - next state from @state on @event, n_states if none */
static inline unsigned int da_model_next(const struct da_model *m,
					 unsigned int state, unsigned int event)
{
	return m->function[state * m->n_events + event];
}

/**
 * da_model_parse - read a model from DOT text
 * @text: the file's bytes (need not be NUL-terminated)
 * @len: their length
 * @file: path shown in messages ("FILE:LINE: message")
 * @name: model name; NULL takes the file's base name without ".dot"/".gv"
 * @err: receives one "FILE:LINE: message" line (no newline) on failure
 * @errsz: size of @err
 *
 * Return: a model the caller frees with da_model_free(), or NULL with
 * errno EINVAL (bad input, @err says why) or ENOMEM.
 */
struct da_model *da_model_parse(const char *text, size_t len, const char *file,
				const char *name, char *err, size_t errsz);

/**
 * da_model_load - read a model from the DOT file at @path
 *
 * As da_model_parse(); an unreadable file gives "FILE: reason" in @err and
 * the errno of the failed call.
 */
struct da_model *da_model_load(const char *path, const char *name, char *err,
			       size_t errsz);

/** da_model_free - free @m and everything it owns; NULL is fine */
void da_model_free(struct da_model *m);

/** da_model_state - index of state @name, or -1 */
int da_model_state(const struct da_model *m, const char *name);

/** da_model_event - index of event @name, or -1 */
int da_model_event(const struct da_model *m, const char *name);

/**
 * da_model_report - print what "netrv-model check" prints
 * @out: states, events, start events
 * @warn: one "FILE:LINE: warning: ..." line per unreachable state and per
 *	  state with no way back to a final state
 *
 * Return: the number of warnings.
 */
unsigned int da_model_report(const struct da_model *m, FILE *out, FILE *warn);

/**
 * da_header_write - write @m as a C header shaped like the kernel's dot2c
 * output: enum states_<m>, INVALID_STATE, enum events_<m>, struct
 * automaton_<m> and the static const automaton_<m>.
 *
 * Return: 0, or -1 with errno from the stream.
 */
int da_header_write(const struct da_model *m, FILE *out);

#endif
