// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * setup.c - build the engine and its reactors from the [lock] section.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lock_private.h"
#include "lock_reactor.h"

static int classes(const char *list, unsigned int *mask, char *err, size_t len)
{
	char buf[256], *save = NULL, *tok;

	*mask = 0;
	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		int c;

		for (c = VERDICT_POSSIBLE; c < VERDICT_MAX; c++)
			if (!strcmp(tok, verdict_class_name(c)))
				break;
		if (c == VERDICT_MAX) {
			snprintf(
				err, len,
				"lock.exec_classes: unknown class \"%s\" (definite, possible, clock-bound, incomplete, protocol)",
				tok);
			errno = EINVAL;
			return -1;
		}
		*mask |= 1u << c;
	}
	return 0;
}

int lock_setup_create(struct lock_setup *s, const struct config *cfg,
		      struct event_base *base, char *err, size_t len)
{
	const char *path = config_string(cfg, "lock", "verdict_log");
	const char *cmd = config_string(cfg, "lock", "exec");
	struct verdict_sink *sink;

	memset(s, 0, sizeof(*s));
	if (lock_conf_from_config(cfg, &s->conf, err, len) < 0)
		return -1;
	s->engine = lock_engine_create(&s->conf);
	if (!s->engine) {
		snprintf(err, len, "lock engine: %s", strerror(errno));
		return -1;
	}
	s->view = lock_view_create(
		s->engine,
		(unsigned int)config_int(cfg, "lock", "recent_verdicts"));
	if (!s->view) {
		snprintf(err, len, "lock view: %s", strerror(errno));
		return -1;
	}
	lock_engine_add_sink(s->engine, lock_view_sink(s->view));
	if (path) {
		sink = lock_log_create(path);
		if (!sink) {
			snprintf(err, len, "lock.verdict_log %s: %s", path,
				 strerror(errno));
			return -1;
		}
		lock_engine_add_sink(s->engine, sink);
	}
	if (cmd) {
		struct lock_exec_conf xc = {
			.command = cmd,
			.rate = (unsigned int)config_int(cfg, "lock",
							 "exec_rate"),
			.burst = (unsigned int)config_int(cfg, "lock",
							  "exec_burst"),
			.queue = (unsigned int)config_int(cfg, "lock",
							  "exec_queue"),
			.max_running = (unsigned int)config_int(
				cfg, "lock", "exec_max_running"),
		};

		if (classes(config_string(cfg, "lock", "exec_classes"),
			    &xc.classes, err, len) < 0)
			return -1;
		s->exec = lock_exec_create(&xc);
		if (!s->exec) {
			snprintf(err, len, "lock.exec: %s", strerror(errno));
			return -1;
		}
		lock_engine_add_sink(s->engine, lock_exec_sink(s->exec));
		if (base && lock_exec_attach(s->exec, base) < 0) {
			snprintf(err, len, "lock.exec: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

void lock_setup_destroy(struct lock_setup *s)
{
	/* the engine destroys its sinks: view, log, exec */
	lock_engine_destroy(s->engine);
	lock_conf_release(&s->conf);
	memset(s, 0, sizeof(*s));
}
