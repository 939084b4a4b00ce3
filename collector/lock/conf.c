// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * conf.c - the engine's part of the collector configuration:
 *
 *   [lock]               adapters, history, clock and message bounds,
 *                        user modes, reactors
 *   [lock_user NAME]     one user-adapter rule (event -> acquire/release)
 *   [lock_pair NAME]     one declared send/receive pair
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock_private.h"

static const char *const actions[] = { "acquire", "release", NULL };

const struct config_section_def lock_config_sections[] = {
	{ "lock", false, "lock-safety engine and its reactors" },
	{ "lock_user", true,
	  "a user-adapter rule: one trace event is a lock acquire or release" },
	{ "lock_pair", true,
	  "a send/receive pair of events: a happens-before edge when keys match" },
	{ NULL },
};

const struct config_option lock_config_options[] = {
	{ "lock", "adapters", CONFIG_STRING, "dlm,flock,user", 0, 0, NULL,
	  "adapters to run, comma separated: dlm, flock, user" },
	{ "lock", "flock_syscalls", CONFIG_BOOL, "on", 0, 0, NULL,
	  "flock: a release ends when its task called flock(2), if the agents trace syscalls:sys_enter_flock and sys_exit_flock" },
	{ "lock", "same_clock", CONFIG_BOOL, "on", 0, 0, NULL,
	  "order the events of nodes sharing one kernel and trace clock (same boot id) exactly by trace time" },
	{ "lock", "history", CONFIG_INT, "16", 0, 1024, NULL,
	  "events kept per resource and shown in a verdict" },
	{ "lock", "eps_floor", CONFIG_DURATION, "10ms", 0, 0, NULL,
	  "an upper bound of every node's eps: a released hold is kept until the merge is this (twice) past it" },
	{ "lock", "message_timeout", CONFIG_DURATION, "10s", 0, 0, NULL,
	  "forget a send whose receive has not come after this" },
	{ "lock", "max_pending_messages", CONFIG_INT, "1048576", 1, 1 << 30,
	  NULL, "unmatched sends kept at most (the oldest go first)" },
	{ "lock", "user_modes", CONFIG_STRING, "shared,exclusive", 0, 0, NULL,
	  "mode names of the user adapter's matrix, weakest first" },
	{ "lock", "user_compatible", CONFIG_STRING, "shared:shared", 0, 0, NULL,
	  "compatible mode pairs of the user matrix, e.g. \"shared:shared\"" },
	{ "lock", "verdict_log", CONFIG_STRING, NULL, 0, 0, NULL,
	  "append every verdict as one JSON line to this file" },
	{ "lock", "exec", CONFIG_STRING, NULL, 0, 0, NULL,
	  "run this command (/bin/sh -c) for each verdict, the JSON on stdin" },
	{ "lock", "exec_classes", CONFIG_STRING,
	  "definite,possible,clock-bound,incomplete,protocol", 0, 0, NULL,
	  "verdict classes the exec hook runs for" },
	{ "lock", "exec_rate", CONFIG_INT, "1", 1, 1000000, NULL,
	  "exec hook: commands started per second at most (sustained)" },
	{ "lock", "exec_burst", CONFIG_INT, "5", 1, 1000000, NULL,
	  "exec hook: commands that may start at once after a quiet time" },
	{ "lock", "exec_queue", CONFIG_INT, "64", 1, 65536, NULL,
	  "exec hook: verdicts waiting for their turn; more are dropped and counted" },
	{ "lock", "exec_max_running", CONFIG_INT, "4", 1, 1024, NULL,
	  "exec hook: commands running at the same time at most" },
	{ "lock", "recent_verdicts", CONFIG_INT, "256", 1, 1 << 20, NULL,
	  "verdicts the state view keeps for the dashboard" },
	{ "lock_user", "event", CONFIG_STRING, NULL, 0, 0, NULL,
	  "SYSTEM:EVENT, e.g. uprobes:lock_acquired or ftrace:raw_data" },
	{ "lock_user", "action", CONFIG_ENUM, "acquire", 0, 0, actions,
	  "what the event means: acquire (now held) or release" },
	{ "lock_user", "name_field", CONFIG_STRING, NULL, 0, 0, NULL,
	  "field carrying the lock name (string, bytes or integer)" },
	{ "lock_user", "mode_field", CONFIG_STRING, NULL, 0, 0, NULL,
	  "field carrying the mode (name or index); unset: the strongest mode" },
	{ "lock_user", "holder_field", CONFIG_STRING, NULL, 0, 0, NULL,
	  "field naming the holder; unset: common_pid" },
	{ "lock_user", "match_field", CONFIG_STRING, NULL, 0, 0, NULL,
	  "only events whose integer field equals match_value (e.g. raw_data id)" },
	{ "lock_user", "match_value", CONFIG_INT, "0", 0, 0, NULL,
	  "value match_field must have" },
	{ "lock_user", "prefix", CONFIG_STRING, NULL, 0, 0, NULL,
	  "put before the lock name: keeps services' lock names apart" },
	{ "lock_pair", "send", CONFIG_STRING, NULL, 0, 0, NULL,
	  "SYSTEM:EVENT of the send side" },
	{ "lock_pair", "recv", CONFIG_STRING, NULL, 0, 0, NULL,
	  "SYSTEM:EVENT of the receive side" },
	{ "lock_pair", "send_key", CONFIG_STRING, NULL, 0, 0, NULL,
	  "fields of the send naming the message, comma separated (at most 4)" },
	{ "lock_pair", "recv_key", CONFIG_STRING, NULL, 0, 0, NULL,
	  "fields of the receive, in the same order" },
	{ NULL },
};

void lock_conf_defaults(struct lock_engine_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->dlm = conf->flock = conf->user = true;
	conf->flock_syscalls = conf->same_clock = true;
	conf->history = 16;
	conf->eps_floor_ns = 10000000;
	conf->msg_timeout_ns = 10000000000ULL;
	conf->max_pending = 1u << 20;
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t len,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

/* Split "a,b,c" into at most @max strdup'ed items; -1 if more. */
static int split(const char *s, char sep, char **out, unsigned int max)
{
	unsigned int n = 0;

	while (s && *s) {
		const char *e = strchr(s, sep);
		size_t len = e ? (size_t)(e - s) : strlen(s);

		while (len && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len) {
			if (n == max)
				return -1;
			out[n] = strndup(s, len);
			if (!out[n])
				return -1;
			n++;
		}
		s = e ? e + 1 : NULL;
	}
	return (int)n;
}

static int sysev(const char *s, char **sys, char **ev)
{
	const char *c = s ? strchr(s, ':') : NULL;

	if (!c || c == s || !c[1])
		return -1;
	*sys = strndup(s, (size_t)(c - s));
	*ev = strdup(c + 1);
	return *sys && *ev ? 0 : -1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int mode_index(const struct lock_engine_conf *c, const char *name)
{
	for (unsigned int i = 0; i < c->user_n_modes; i++)
		if (!strcmp(c->user_modes[i], name))
			return (int)i;
	return -1;
}

static int parse_lock(const struct config *cfg, struct lock_engine_conf *c,
		      char *err, size_t len)
{
	const struct config_section *s = config_section(cfg, "lock", 0);
	char *items[LOCK_MAX_MODES * LOCK_MAX_MODES];
	int n;

	if (!s)
		return 0;
	n = split(config_get_string(s, "adapters"), ',', items, 8);
	if (n < 0)
		return bad(err, len, "lock.adapters: too many items");
	c->dlm = c->flock = c->user = false;
	for (int i = 0; i < n; i++) {
		if (!strcmp(items[i], "dlm"))
			c->dlm = true;
		else if (!strcmp(items[i], "flock"))
			c->flock = true;
		else if (!strcmp(items[i], "user"))
			c->user = true;
		else {
			bad(err, len,
			    "lock.adapters: unknown adapter \"%s\" (dlm, flock, user)",
			    items[i]);
			for (int k = i; k < n; k++)
				free(items[k]);
			return -1;
		}
		free(items[i]);
	}
	c->flock_syscalls = config_get_bool(s, "flock_syscalls");
	c->same_clock = config_get_bool(s, "same_clock");
	c->history = (unsigned int)config_get_int(s, "history");
	c->eps_floor_ns = (uint64_t)config_get_int(s, "eps_floor");
	c->msg_timeout_ns = (uint64_t)config_get_int(s, "message_timeout");
	c->max_pending =
		(unsigned int)config_get_int(s, "max_pending_messages");
	n = split(config_get_string(s, "user_modes"), ',', c->user_modes,
		  LOCK_MAX_MODES);
	if (n <= 0)
		return bad(err, len, "lock.user_modes: give 1 to %d mode names",
			   LOCK_MAX_MODES);
	c->user_n_modes = (unsigned int)n;
	n = split(config_get_string(s, "user_compatible"), ',', items,
		  LOCK_MAX_MODES * LOCK_MAX_MODES);
	if (n < 0)
		return bad(err, len, "lock.user_compatible: too many pairs");
	for (int i = 0; i < n; i++) {
		char *colon = strchr(items[i], ':');
		int a = -1, b = -1;

		if (colon) {
			*colon = '\0';
			a = mode_index(c, items[i]);
			b = mode_index(c, colon + 1);
		}
		if (a < 0 || b < 0) {
			if (colon)
				*colon = ':';
			bad(err, len,
			    "lock.user_compatible: \"%s\" is not MODE:MODE of lock.user_modes",
			    items[i]);
			for (int k = i; k < n; k++)
				free(items[k]);
			return -1;
		}
		c->user_compat[a] |= (uint16_t)(1u << b);
		c->user_compat[b] |= (uint16_t)(1u << a);
		free(items[i]);
	}
	return 0;
}

static int parse_user(const struct config *cfg, struct lock_engine_conf *c,
		      char *err, size_t len)
{
	const struct config_section *s;
	unsigned int n = 0;

	while (config_section(cfg, "lock_user", n))
		n++;
	if (!n)
		return 0;
	c->user_rules = calloc(n, sizeof(*c->user_rules));
	if (!c->user_rules)
		return bad(err, len, "out of memory");
	for (unsigned int i = 0; i < n; i++) {
		struct lock_user_rule *u = &c->user_rules[i];

		s = config_section(cfg, "lock_user", i);
		c->n_user_rules = i + 1;
		u->name = strdup(config_section_name(s));
		if (sysev(config_get_string(s, "event"), &u->system,
			  &u->event) < 0)
			return bad(err, len,
				   "[lock_user %s] event: give SYSTEM:EVENT",
				   u->name);
		if (!config_get_string(s, "name_field"))
			return bad(err, len,
				   "[lock_user %s] name_field is required",
				   u->name);
		u->action = config_get_enum(s, "action") ? LOCK_USER_RELEASE :
							   LOCK_USER_ACQUIRE;
		u->name_field = strdup(config_get_string(s, "name_field"));
		u->mode_field = dup_or_null(config_get_string(s, "mode_field"));
		u->holder_field =
			dup_or_null(config_get_string(s, "holder_field"));
		u->match_field =
			dup_or_null(config_get_string(s, "match_field"));
		u->match_value = config_get_int(s, "match_value");
		u->prefix = dup_or_null(config_get_string(s, "prefix"));
	}
	return 0;
}

static int parse_pair(const struct config *cfg, struct lock_engine_conf *c,
		      char *err, size_t len)
{
	const struct config_section *s;
	unsigned int n = 0;

	while (config_section(cfg, "lock_pair", n))
		n++;
	if (!n)
		return 0;
	c->pair_rules = calloc(n, sizeof(*c->pair_rules));
	if (!c->pair_rules)
		return bad(err, len, "out of memory");
	for (unsigned int i = 0; i < n; i++) {
		struct lock_pair_rule *p = &c->pair_rules[i];
		int ns, nr;

		s = config_section(cfg, "lock_pair", i);
		c->n_pair_rules = i + 1;
		p->name = strdup(config_section_name(s));
		if (sysev(config_get_string(s, "send"), &p->send_system,
			  &p->send_event) < 0 ||
		    sysev(config_get_string(s, "recv"), &p->recv_system,
			  &p->recv_event) < 0)
			return bad(
				err, len,
				"[lock_pair %s] send and recv: give SYSTEM:EVENT",
				p->name);
		ns = split(config_get_string(s, "send_key"), ',', p->send_key,
			   LOCK_PAIR_KEYS);
		nr = split(config_get_string(s, "recv_key"), ',', p->recv_key,
			   LOCK_PAIR_KEYS);
		if (ns <= 0 || ns != nr)
			return bad(
				err, len,
				"[lock_pair %s] send_key and recv_key: 1 to %d fields each, as many on both sides",
				p->name, LOCK_PAIR_KEYS);
		p->n_keys = (unsigned int)ns;
	}
	return 0;
}

int lock_conf_from_config(const struct config *cfg,
			  struct lock_engine_conf *conf, char *err, size_t len)
{
	lock_conf_defaults(conf);
	if (parse_lock(cfg, conf, err, len) < 0 ||
	    parse_user(cfg, conf, err, len) < 0 ||
	    parse_pair(cfg, conf, err, len) < 0)
		return -1;
	return 0;
}

void lock_conf_release(struct lock_engine_conf *c)
{
	for (unsigned int i = 0; i < c->user_n_modes; i++)
		free(c->user_modes[i]);
	for (unsigned int i = 0; i < c->n_user_rules; i++) {
		struct lock_user_rule *u = &c->user_rules[i];

		free(u->name);
		free(u->system);
		free(u->event);
		free(u->name_field);
		free(u->mode_field);
		free(u->holder_field);
		free(u->match_field);
		free(u->prefix);
	}
	free(c->user_rules);
	for (unsigned int i = 0; i < c->n_pair_rules; i++) {
		struct lock_pair_rule *p = &c->pair_rules[i];

		free(p->name);
		free(p->send_system);
		free(p->send_event);
		free(p->recv_system);
		free(p->recv_event);
		for (int k = 0; k < LOCK_PAIR_KEYS; k++) {
			free(p->send_key[k]);
			free(p->recv_key[k]);
		}
	}
	free(c->pair_rules);
	memset(c, 0, sizeof(*c));
}
