/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Automatically generated C representation of unreach automaton
 * For further information about this format, see kernel documentation:
 *   Documentation/trace/rv/deterministic_automata.rst
 */

#ifndef __KERNEL__
#include <stdbool.h>
#endif

enum states_unreach {
	idle_unreach = 0,
	island_unreach,
	trap_unreach,
	state_max_unreach
};

#define INVALID_STATE state_max_unreach

enum events_unreach {
	fall_unreach = 0,
	swim_unreach,
	event_max_unreach
};

struct automaton_unreach {
	char *state_names[state_max_unreach];
	char *event_names[event_max_unreach];
	unsigned char function[state_max_unreach][event_max_unreach];
	unsigned char initial_state;
	bool final_states[state_max_unreach];
};

static const struct automaton_unreach automaton_unreach = {
	.state_names = {
		"idle",
		"island",
		"trap"
	},
	.event_names = {
		"fall",
		"swim"
	},
	.function = {
		{          trap_unreach,         INVALID_STATE },
		{         INVALID_STATE,          idle_unreach },
		{          trap_unreach,         INVALID_STATE },
	},
	.initial_state = idle_unreach,
	.final_states = { 1, 0, 0 },
};
