// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * header.c - write a model as a C header and report on its shape.
 *
 * The header has the layout of the kernel's dot2c output (enum states_<m>,
 * INVALID_STATE, enum events_<m>, struct automaton_<m>, a static const
 * automaton_<m>) so that a kernel monitor built with rv/da_monitor.h can
 * include it unchanged; the only addition is <stdbool.h> outside the kernel
 * so that user space compiles it too.  Column alignment and line wrapping
 * of the function table follow the generator, so diffs against kernel
 * headers stay small.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "da_model.h"

#define LINE_LENGTH 100
#define INVALID_STR "INVALID_STATE"

static const char *min_type(const struct da_model *m)
{
	/* as dot2c: the count of states decides, INVALID_STATE included */
	if (m->n_states > 65535)
		return "unsigned int";
	if (m->n_states > 255)
		return "unsigned short";
	return "unsigned char";
}

static void write_names(FILE *out, char **names, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, "\t\t\"%s\"%s\n", names[i], i + 1 < n ? "," : "");
}

static void write_function(const struct da_model *m, FILE *out)
{
	const char *nm = m->name;
	size_t maxlen = strlen(INVALID_STR), suffix = strlen(nm) + 1;
	bool wrap;

	for (unsigned int s = 0; s < m->n_states; s++)
		if (strlen(m->state_names[s]) > maxlen)
			maxlen = strlen(m->state_names[s]);
	maxlen += suffix;
	/* "\t\t{ " .. "}" takes 19 columns, each entry maxlen + ", " */
	wrap = 19 + (maxlen + 2) * m->n_events > LINE_LENGTH;

	for (unsigned int s = 0; s < m->n_states; s++) {
		fputs(wrap ? "\t\t{\n" : "\t\t{ ", out);
		for (unsigned int e = 0; e < m->n_events; e++) {
			unsigned int n = da_model_next(m, s, e);
			char cell[512];

			if (n == m->n_states)
				snprintf(cell, sizeof(cell), "%s", INVALID_STR);
			else
				snprintf(cell, sizeof(cell), "%s_%s",
					 m->state_names[n], nm);
			if (wrap)
				fprintf(out, "\t\t\t%s", cell);
			else
				fprintf(out, "%*s", (int)maxlen, cell);
			if (e + 1 < m->n_events)
				fputs(wrap ? ",\n" : ", ", out);
			else
				fputs(wrap ? "\n\t\t},\n" : " },\n", out);
		}
	}
}

int da_header_write(const struct da_model *m, FILE *out)
{
	const char *nm = m->name;
	const char *type = min_type(m);

	fprintf(out,
		"/* SPDX-License-Identifier: GPL-2.0 */\n"
		"/*\n"
		" * Automatically generated C representation of %s automaton\n"
		" * For further information about this format, see kernel documentation:\n"
		" *   Documentation/trace/rv/deterministic_automata.rst\n"
		" */\n\n",
		nm);
	fputs("#ifndef __KERNEL__\n#include <stdbool.h>\n#endif\n\n", out);

	fprintf(out, "enum states_%s {\n", nm);
	for (unsigned int s = 0; s < m->n_states; s++)
		fprintf(out, "\t%s_%s%s,\n", m->state_names[s], nm,
			s == 0 ? " = 0" : "");
	fprintf(out, "\tstate_max_%s\n};\n\n", nm);
	fprintf(out, "#define INVALID_STATE state_max_%s\n\n", nm);

	fprintf(out, "enum events_%s {\n", nm);
	for (unsigned int e = 0; e < m->n_events; e++)
		fprintf(out, "\t%s_%s%s,\n", m->event_names[e], nm,
			e == 0 ? " = 0" : "");
	fprintf(out, "\tevent_max_%s\n};\n\n", nm);

	fprintf(out, "struct automaton_%s {\n", nm);
	fprintf(out, "\tchar *state_names[state_max_%s];\n", nm);
	fprintf(out, "\tchar *event_names[event_max_%s];\n", nm);
	fprintf(out, "\t%s function[state_max_%s][event_max_%s];\n", type, nm,
		nm);
	fprintf(out, "\t%s initial_state;\n", type);
	fprintf(out, "\tbool final_states[state_max_%s];\n};\n\n", nm);

	fprintf(out, "static const struct automaton_%s automaton_%s = {\n", nm,
		nm);
	fputs("\t.state_names = {\n", out);
	write_names(out, m->state_names, m->n_states);
	fputs("\t},\n\t.event_names = {\n", out);
	write_names(out, m->event_names, m->n_events);
	fputs("\t},\n\t.function = {\n", out);
	write_function(m, out);
	fputs("\t},\n", out);
	fprintf(out, "\t.initial_state = %s_%s,\n",
		m->state_names[m->initial_state], nm);
	fputs("\t.final_states = { ", out);
	for (unsigned int s = 0; s < m->n_states; s++)
		fprintf(out, "%s%d", s ? ", " : "", m->final_states[s] ? 1 : 0);
	fputs(" },\n};\n", out);

	if (fflush(out) || ferror(out)) {
		if (!errno)
			errno = EIO;
		return -1;
	}
	return 0;
}

unsigned int da_model_report(const struct da_model *m, FILE *out, FILE *warn)
{
	unsigned int n = m->n_states, warnings = 0;
	bool *reach = calloc(n, sizeof(bool));
	bool *back = calloc(n, sizeof(bool));
	bool changed;

	fprintf(out, "model %s: %u states, %u events\n", m->name, n,
		m->n_events);
	fprintf(out, "initial state: %s\n", m->state_names[m->initial_state]);
	fputs("final states:", out);
	for (unsigned int s = 0; s < n; s++)
		if (m->final_states[s])
			fprintf(out, " %s", m->state_names[s]);
	fputs("\nstates:", out);
	for (unsigned int s = 0; s < n; s++)
		fprintf(out, " %s", m->state_names[s]);
	fputs("\nevents:", out);
	for (unsigned int e = 0; e < m->n_events; e++)
		fprintf(out, " %s", m->event_names[e]);
	fputs("\nstart events:", out);
	for (unsigned int e = 0; e < m->n_events; e++)
		if (m->start_events[e])
			fprintf(out, " %s", m->event_names[e]);
	fputs("\nstart-run events:", out);
	for (unsigned int e = 0; e < m->n_events; e++)
		if (m->start_run_events[e])
			fprintf(out, " %s", m->event_names[e]);
	fputc('\n', out);
	if (!reach || !back) {
		free(reach);
		free(back);
		return 0;
	}

	/* forward from the initial state, backward from the final ones; the
	 * models are small, so a fixpoint over the table is plenty */
	reach[m->initial_state] = true;
	for (unsigned int s = 0; s < n; s++)
		back[s] = m->final_states[s];
	do {
		changed = false;
		for (unsigned int s = 0; s < n; s++)
			for (unsigned int e = 0; e < m->n_events; e++) {
				unsigned int t = da_model_next(m, s, e);

				if (t == n)
					continue;
				if (reach[s] && !reach[t])
					reach[t] = changed = true;
				if (back[t] && !back[s])
					back[s] = changed = true;
			}
	} while (changed);
	for (unsigned int s = 0; s < n; s++) {
		if (!reach[s]) {
			fprintf(warn,
				"%s:%u: warning: state '%s' is unreachable from the initial state\n",
				m->file, m->state_lines[s], m->state_names[s]);
			warnings++;
		}
		if (!back[s]) {
			fprintf(warn,
				"%s:%u: warning: state '%s' has no way back to a final state\n",
				m->file, m->state_lines[s], m->state_names[s]);
			warnings++;
		}
	}
	free(reach);
	free(back);
	return warnings;
}
