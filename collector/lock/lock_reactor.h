/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock_reactor.h - what happens to verdicts: a JSON-lines log, an exec hook
 * and the in-memory state view the dashboard serves.
 *
 * Each reactor is a verdict_sink (lock.h).  Hand it to
 * lock_engine_add_sink(): from then on the engine owns it and destroys it
 * with itself.  None of them blocks the merge: the log does one append
 * write per verdict, the exec hook queues and rate-limits its commands and
 * reaps them with waitpid(WNOHANG).
 */
#ifndef NETRV_COLLECTOR_LOCK_REACTOR_H
#define NETRV_COLLECTOR_LOCK_REACTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lock.h"

struct event_base;

/**
 * lock_log_create - append each verdict's JSON and a newline to @path
 *
 * The file is opened O_APPEND (created 0640); each verdict is one write(2),
 * so concurrent readers see whole lines.  Return: the sink, or NULL with
 * errno (the open failed: the message names the path).
 */
struct verdict_sink *lock_log_create(const char *path);

struct lock_exec_conf {
	const char *command; /* run as /bin/sh -c COMMAND; copied */
	unsigned int rate; /* commands started per second, sustained */
	unsigned int burst; /* started at once after a quiet time */
	unsigned int queue; /* verdicts waiting; beyond: dropped, counted */
	unsigned int max_running; /* commands alive at once */
	unsigned int classes; /* bit (1 << verdict_class) set: run for it */
};

struct lock_exec_stats {
	uint64_t started, exited_ok, exited_fail, dropped, spawn_errors;
	unsigned int queued, running;
};

struct lock_exec;

/**
 * lock_exec_create - run @conf->command for each verdict
 *
 * The command gets the verdict's JSON (one line) on stdin, and
 * NETRV_VERDICT_ID and NETRV_VERDICT_CLASS in its environment; stdout and
 * stderr are the collector's.  Return: the hook, or NULL with errno.  Its
 * sink (lock_exec_sink()) belongs to the engine once added; destroying it
 * waits up to 2 s for running commands, then kills them.
 */
struct lock_exec *lock_exec_create(const struct lock_exec_conf *conf);
struct verdict_sink *lock_exec_sink(struct lock_exec *x);

/**
 * lock_exec_poll - reap finished commands and start queued ones the rate
 * allows.  Called on every verdict; call it from a timer or on SIGCHLD too
 * (lock_exec_attach() does both with libevent).
 */
void lock_exec_poll(struct lock_exec *x);

/**
 * lock_exec_attach - poll on SIGCHLD and every 100 ms on @base
 *
 * Return: 0, or -1 with errno.
 */
int lock_exec_attach(struct lock_exec *x, struct event_base *base);

void lock_exec_get_stats(const struct lock_exec *x, struct lock_exec_stats *st);

struct lock_view;

/**
 * lock_view_create - the live state of @e for the dashboard
 * @recent: verdicts kept (the oldest go first)
 *
 * Return: the view, or NULL with errno.  Its sink (lock_view_sink()) belongs
 * to the engine once added, and the view dies with the engine.
 */
struct lock_view *lock_view_create(struct lock_engine *e, unsigned int recent);
struct verdict_sink *lock_view_sink(struct lock_view *v);

/*
 * Queries write JSON into @buf (NUL-terminated when @len > 0) and return
 * the length the whole answer needs, like snprintf: retry with a larger
 * buffer when the result is >= @len.
 */

/**
 * lock_view_resources - {"watermark_tai_ns":..,"resources":[{"domain",
 * "lockspace","name","name_hex","incomplete","holders":[{"node","holder",
 * "mode","since_tai_ns","eps_ns","uncertain"}]}]} for every resource held now
 */
size_t lock_view_resources(const struct lock_view *v, char *buf, size_t len);

/**
 * lock_view_verdicts - {"verdicts":[...]} of verdicts with id > @after,
 * oldest first, at most @limit, plus "counters" by class and "next_after"
 */
size_t lock_view_verdicts(const struct lock_view *v, uint64_t after,
			  unsigned int limit, char *buf, size_t len);

/**
 * lock_view_verdict - verdict @id's JSON
 *
 * Return: as above, or (size_t)-1 with errno ENOENT when it is no longer (or
 * never was) kept.
 */
size_t lock_view_verdict(const struct lock_view *v, uint64_t id, char *buf,
			 size_t len);

/** lock_view_counters - {"definite":N,...,"events":N,...} */
size_t lock_view_counters(const struct lock_view *v, char *buf, size_t len);

/* One resource of the live lock table, for callers that write their own
 * JSON (the HTTP API).  Everything is borrowed for the callback. */
#define LOCK_VIEW_MAX_HOLDERS 32
struct lock_view_holder {
	const char *node; /* certificate CN: untrusted bytes */
	uint64_t holder;
	const char *mode;
	uint64_t since_tai, eps;
	bool uncertain;
};

struct lock_view_res {
	const char *domain; /* "dlm", "flock", "user" */
	uint32_t lockspace; /* dlm only */
	const uint8_t *name; /* untrusted bytes */
	size_t name_len;
	bool incomplete;
	uint64_t last_tai; /* latest grant (or the change) seen */
	unsigned int n_holders; /* open holds, at most LOCK_VIEW_MAX_HOLDERS */
	struct lock_view_holder holders[LOCK_VIEW_MAX_HOLDERS];
};

typedef void (*lock_view_res_fn)(void *arg, const struct lock_view_res *r);

/**
 * lock_view_foreach_resource - call @fn for every resource held now
 * (hash order; @fn must not call into the engine)
 */
void lock_view_foreach_resource(const struct lock_view *v, lock_view_res_fn fn,
				void *arg);

/**
 * lock_view_on_change - call @fn whenever a hold of a resource begins or
 * ends (after the change: n_holders may be 0); NULL @fn: stop.  Runs on
 * the merge's thread inside the engine: @fn must not block.
 * @want: if not NULL, asked first (with @arg); false skips the change
 *        cheaply (the resource's holds are walked only for @fn)
 */
void lock_view_on_change(struct lock_view *v, bool (*want)(void *arg),
			 lock_view_res_fn fn, void *arg);

/* The engine and its reactors as the [lock] section configures them. */
struct lock_setup {
	struct lock_engine_conf conf;
	struct lock_engine *engine;
	struct lock_exec *exec; /* NULL without lock.exec */
	struct lock_view *view;
};

/**
 * lock_setup_create - engine, verdict log, exec hook and view from @cfg
 * @base: where the exec hook reaps its commands; NULL: on verdicts only
 * @err: room for the reason of a failure
 *
 * Return: 0, or -1 with errno and @err filled; lock_setup_destroy() in both
 * cases.  Register lock_engine_consumer(@s->engine) with the merge.  Its
 * destroy op destroys the engine, sinks and view: if the merge calls it,
 * set @s->engine to NULL after registering, and lock_setup_destroy() frees
 * only the configuration (after the engine is gone).
 */
int lock_setup_create(struct lock_setup *s, const struct config *cfg,
		      struct event_base *base, char *err, size_t len);
void lock_setup_destroy(struct lock_setup *s);

#endif
