/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Automatically generated C representation of multi automaton
 * For further information about this format, see kernel documentation:
 *   Documentation/trace/rv/deterministic_automata.rst
 */

#ifndef __KERNEL__
#include <stdbool.h>
#endif

enum states_multi {
	zz_idle_multi = 0,
	b_run_multi,
	busy_waiting_multi,
	state_max_multi
};

#define INVALID_STATE state_max_multi

enum events_multi {
	resume_multi = 0,
	start_multi,
	stop_multi,
	suspend_multi,
	wait_multi,
	wake_multi,
	event_max_multi
};

struct automaton_multi {
	char *state_names[state_max_multi];
	char *event_names[event_max_multi];
	unsigned char function[state_max_multi][event_max_multi];
	unsigned char initial_state;
	bool final_states[state_max_multi];
};

static const struct automaton_multi automaton_multi = {
	.state_names = {
		"zz_idle",
		"b_run",
		"busy_waiting"
	},
	.event_names = {
		"resume",
		"start",
		"stop",
		"suspend",
		"wait",
		"wake"
	},
	.function = {
		{
			b_run_multi,
			b_run_multi,
			INVALID_STATE,
			INVALID_STATE,
			INVALID_STATE,
			INVALID_STATE
		},
		{
			INVALID_STATE,
			INVALID_STATE,
			zz_idle_multi,
			zz_idle_multi,
			busy_waiting_multi,
			INVALID_STATE
		},
		{
			INVALID_STATE,
			INVALID_STATE,
			INVALID_STATE,
			INVALID_STATE,
			INVALID_STATE,
			b_run_multi
		},
	},
	.initial_state = zz_idle_multi,
	.final_states = { 1, 0, 0 },
};
