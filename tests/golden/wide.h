/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Automatically generated C representation of wide automaton
 * For further information about this format, see kernel documentation:
 *   Documentation/trace/rv/deterministic_automata.rst
 */

#ifndef __KERNEL__
#include <stdbool.h>
#endif

enum states_wide {
	a_rather_long_initial_state_wide = 0,
	another_long_state_name_wide,
	state_max_wide
};

#define INVALID_STATE state_max_wide

enum events_wide {
	ev_five_wide = 0,
	ev_four_wide,
	ev_one_wide,
	ev_three_wide,
	ev_two_wide,
	event_max_wide
};

struct automaton_wide {
	char *state_names[state_max_wide];
	char *event_names[event_max_wide];
	unsigned char function[state_max_wide][event_max_wide];
	unsigned char initial_state;
	bool final_states[state_max_wide];
};

static const struct automaton_wide automaton_wide = {
	.state_names = {
		"a_rather_long_initial_state",
		"another_long_state_name"
	},
	.event_names = {
		"ev_five",
		"ev_four",
		"ev_one",
		"ev_three",
		"ev_two"
	},
	.function = {
		{
			INVALID_STATE,
			INVALID_STATE,
			another_long_state_name_wide,
			another_long_state_name_wide,
			another_long_state_name_wide
		},
		{
			a_rather_long_initial_state_wide,
			a_rather_long_initial_state_wide,
			another_long_state_name_wide,
			INVALID_STATE,
			INVALID_STATE
		},
	},
	.initial_state = a_rather_long_initial_state_wide,
	.final_states = { 1, 1 },
};
