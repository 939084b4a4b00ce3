/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - leveled logging with a subsystem prefix.
 *
 * Every message names the part that speaks ("spool: ...") so that one
 * journal can hold agent, collector and tests.  Define LOG_SUBSYS before
 * including this header; "%m" works as in syslog(3) because glibc's
 * printf family expands it.
 */
#ifndef NETRV_LOG_H
#define NETRV_LOG_H

#include <stdarg.h>
#include <syslog.h>

#ifndef LOG_SUBSYS
#define LOG_SUBSYS "netrv"
#endif

/**
 * log_setup - choose the lowest level printed and the program name
 * @program: name put before each line (not copied: pass a literal)
 * @level: LOG_ERR .. LOG_DEBUG
 *
 * Output goes to stderr.  When stderr is the journal (JOURNAL_STREAM is set)
 * each line starts with "<N>" so journald keeps the level.
 */
void log_setup(const char *program, int level);

/** log_level - the lowest level printed now */
int log_level(void);

/** log_parse_level - "err", "warning", "info", "debug" or 0..7; -1 if unknown */
int log_parse_level(const char *name);

void log_print(int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vprint(int level, const char *subsys, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define pr_err(fmt, ...) log_print(LOG_ERR, LOG_SUBSYS, fmt, ##__VA_ARGS__)
#define pr_warning(fmt, ...) \
	log_print(LOG_WARNING, LOG_SUBSYS, fmt, ##__VA_ARGS__)
#define pr_notice(fmt, ...) \
	log_print(LOG_NOTICE, LOG_SUBSYS, fmt, ##__VA_ARGS__)
#define pr_info(fmt, ...) log_print(LOG_INFO, LOG_SUBSYS, fmt, ##__VA_ARGS__)
#define pr_debug(fmt, ...)                                                    \
	do {                                                                  \
		if (log_level() >= LOG_DEBUG)                                 \
			log_print(LOG_DEBUG, LOG_SUBSYS, fmt, ##__VA_ARGS__); \
	} while (0)

#endif
