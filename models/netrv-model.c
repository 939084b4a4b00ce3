// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netrv-model - compile and check DA models in the kernel's DOT conventions.
 *
 *   netrv-model compile IN.dot -o OUT.h [-n NAME]
 *   netrv-model check IN.dot [-b BINDING] [-n NAME]
 *
 * Errors are one "FILE:LINE: message" line on stderr and exit status 1;
 * usage errors exit 2.  compile writes OUT.h only when the model is valid
 * (through a temporary file renamed into place).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"
#include "da_model.h"

static void usage(FILE *f)
{
	fputs("usage: netrv-model compile IN.dot -o OUT.h [-n NAME]\n"
	      "       netrv-model check IN.dot [-b BINDING] [-n NAME]\n"
	      "\n"
	      "compile  write the model as a C header shaped like the kernel's\n"
	      "         dot2c output (-o - writes to stdout)\n"
	      "check    validate the model and report states, events, start\n"
	      "         events, unreachable states and states with no way back\n"
	      "         to a final state; -b also validates a binding file\n"
	      "-n NAME  model name (default: file name without .dot)\n"
	      "\n"
	      "Exit status: 0 valid, 1 invalid input, 2 usage error.\n",
	      f);
}

static int compile(const struct da_model *m, const char *out)
{
	char tmp[4096];
	FILE *f;

	if (!strcmp(out, "-"))
		return da_header_write(m, stdout) ? 1 : 0;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", out, (int)getpid()) >=
	    (int)sizeof(tmp)) {
		fprintf(stderr, "%s: path too long\n", out);
		return 1;
	}
	f = fopen(tmp, "we");
	if (!f) {
		fprintf(stderr, "%s: %m\n", out);
		return 1;
	}
	if (da_header_write(m, f) || fclose(f)) {
		fprintf(stderr, "%s: %m\n", out);
		unlink(tmp);
		return 1;
	}
	if (rename(tmp, out)) {
		fprintf(stderr, "%s: %m\n", out);
		unlink(tmp);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL, *bind = NULL, *name = NULL, *cmd, *in;
	struct da_model *m;
	char err[1024];
	int opt, ret = 0;

	if (argc > 1 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("netrv-model %s\n", NETRV_VERSION);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	cmd = argv[1];
	in = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "o:b:n:h")) != -1) {
		switch (opt) {
		case 'o':
			out = optarg;
			break;
		case 'b':
			bind = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc ||
	    (strcmp(cmd, "compile") && strcmp(cmd, "check")) ||
	    (!strcmp(cmd, "compile") && (!out || bind)) ||
	    (!strcmp(cmd, "check") && out)) {
		usage(stderr);
		return 2;
	}

	m = da_model_load(in, name, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!strcmp(cmd, "compile")) {
		ret = compile(m, out);
	} else {
		da_model_report(m, stdout, stderr);
		if (bind) {
			struct mb_binding *b;

			b = mb_binding_load(bind, m, err, sizeof(err));
			if (!b) {
				fprintf(stderr, "%s\n", err);
				ret = 1;
			} else {
				printf("binding %s: %s instances, %u rules\n",
				       bind, mb_kind_name(b->kind), b->n_rules);
				mb_binding_free(b);
			}
		}
	}
	da_model_free(m);
	return ret;
}
