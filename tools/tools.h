/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tools.h - the subcommands of the netrv command-line tool.  Each takes
 * its own argv (argv[0] is the subcommand) and returns the exit status.
 */
#ifndef NETRV_TOOLS_H
#define NETRV_TOOLS_H

#include <stddef.h>
#include <stdio.h>

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#endif

/** tool_usage - print the usage to @f and return @status */
int tool_usage(FILE *f, int status);

int tool_archive_info(int argc, char **argv);
int tool_export(int argc, char **argv);
int tool_replay(int argc, char **argv);

#endif
