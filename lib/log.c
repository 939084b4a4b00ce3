// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * log.c - see log.h.  One line per message, written with a single write so
 * lines from several threads or processes sharing stderr do not interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_program = "netrv";
static int log_min_level = LOG_INFO;
static int log_to_journal;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",	   [LOG_ALERT] = "alert",
	[LOG_CRIT] = "crit",	   [LOG_ERR] = "err",
	[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",	   [LOG_DEBUG] = "debug",
};

void log_setup(const char *program, int level)
{
	if (program)
		log_program = program;
	log_min_level = level;
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
}

int log_level(void)
{
	return log_min_level;
}

int log_parse_level(const char *name)
{
	char *end;
	long v;

	for (int i = 0; i <= LOG_DEBUG; i++)
		if (!strcmp(name, level_names[i]))
			return i;
	errno = 0;
	v = strtol(name, &end, 10);
	if (!errno && end != name && !*end && v >= 0 && v <= LOG_DEBUG)
		return (int)v;
	return -1;
}

void log_vprint(int level, const char *subsys, const char *fmt, va_list ap)
{
	char line[1024];
	int saved_errno = errno;
	int n = 0;

	if (level > log_min_level)
		return;
	if (log_to_journal) {
		n = snprintf(line, sizeof(line), "<%d>", level);
	} else {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(line, sizeof(line),
			     "%s[%lld.%03ld]: ", log_program,
			     (long long)ts.tv_sec, ts.tv_nsec / 1000000);
	}
	n += snprintf(line + n, sizeof(line) - n, "%s: %s: ", subsys,
		      level_names[level & 7]);
	errno = saved_errno; /* for %m */
	if (n < (int)sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to complain */
	}
	errno = saved_errno;
}

void log_print(int level, const char *subsys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprint(level, subsys, fmt, ap);
	va_end(ap);
}
