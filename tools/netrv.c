// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * netrv.c - the netrv command-line tool: offline work on archives.
 *
 *   netrv archive info ARCHIVE
 *   netrv archive repair ARCHIVE
 *   netrv export --format chrome-json ARCHIVE > out.json
 *   netrv replay ARCHIVE [--config FILE] [--model M [--binding B]]...
 *                        [--compare]
 *
 * See tools/README.md.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "archive.h"
#include "tools.h"

int tool_usage(FILE *f, int status)
{
	fprintf(f,
		"usage: netrv [-v] COMMAND ...\n"
		"  netrv archive info ARCHIVE\n"
		"        nodes, time span, event/verdict/loss counts\n"
		"  netrv archive repair ARCHIVE\n"
		"        cut torn packets left by a crash so that any CTF\n"
		"        reader (babeltrace2) reads the archive\n"
		"  netrv export --format chrome-json ARCHIVE > out.json\n"
		"        Chrome/Perfetto JSON: a process per node, lock holds\n"
		"        as slices, verdicts as instant events\n"
		"  netrv replay ARCHIVE [--config FILE] [--model M.dot [--binding B]]...\n"
		"               [--no-lock-engine] [--archived] [--compare]\n"
		"        rerun the lock engine and DA models over the archive,\n"
		"        print verdicts as JSON lines; --config: the collector's\n"
		"        file ([lock], [lock_user], [lock_pair], [model]);\n"
		"        --compare: fail (exit 3) unless they equal the archived\n"
		"        verdicts\n"
		"ARCHIVE is an archive directory (chunk-*) or one chunk.\n"
		"Exit status: 0 ok, 1 error, 2 usage, 3 replay differs.\n");
	return status;
}

int main(int argc, char **argv)
{
	int level = LOG_NOTICE;

	while (argc > 1 && !strcmp(argv[1], "-v")) {
		level = LOG_INFO;
		argv++;
		argc--;
	}
	log_setup("netrv", level);
	if (argc < 2)
		return tool_usage(stderr, 2);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return tool_usage(stdout, 0);
	if (!strcmp(argv[1], "--version")) {
		printf("netrv %s\n", NETRV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "archive") && argc >= 3 &&
	    !strcmp(argv[2], "info"))
		return tool_archive_info(argc - 2, argv + 2);
	if (!strcmp(argv[1], "archive") && argc == 4 &&
	    !strcmp(argv[2], "repair"))
		return archive_repair(argv[3]) ? 1 : 0;
	if (!strcmp(argv[1], "export"))
		return tool_export(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return tool_replay(argc - 1, argv + 1);
	fprintf(stderr, "netrv: unknown command '%s'\n", argv[1]);
	return tool_usage(stderr, 2);
}
