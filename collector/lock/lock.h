/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lock.h - the lock-safety engine: a consumer of the merged event stream.
 *
 * Adapters (dlm, flock, user) turn trace events into abstract lock events
 * per (resource, holder): request, grant, downgrade, release.  One lock table
 * keeps the holds of every resource with a compatibility matrix.  Whenever
 * two incompatible holds of one resource exist on different nodes, the
 * engine decides, from the hold intervals, every event's clock bound eps and
 * the happens-before relation built from send/receive pairs (vector clocks),
 * whether the pair is safe, a possible or a definite violation (DESIGN.md
 * section 5).  Violations become verdicts handed to verdict sinks (reactors:
 * JSON-lines log, exec hook, in-memory state view).
 *
 * Everything here runs on the merge's thread and never blocks it.  Nothing
 * is thread-safe: call the view queries from that thread too.
 */
#ifndef NETRV_COLLECTOR_LOCK_H
#define NETRV_COLLECTOR_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

enum verdict_class {
	VERDICT_SAFE, /* never emitted; counted */
	VERDICT_POSSIBLE, /* overlap not decidable within clock bounds */
	VERDICT_DEFINITE, /* overlap under every admissible clock reading */
	VERDICT_CLOCK_BOUND, /* a send/receive pair contradicts the eps */
	VERDICT_INCOMPLETE, /* events lost or node unreachable: unknown */
	VERDICT_PROTOCOL, /* a DA model rejected an event (models consumer) */
	VERDICT_MAX,
};

/** verdict_class_name - "definite", "possible", ... (static string) */
const char *verdict_class_name(enum verdict_class c);

/* One side of a conflict.  Times are TAI ns; release_open: still held. */
struct verdict_hold {
	uint64_t id; /* engine's hold id, unique per engine */
	const struct cnode *node;
	uint64_t holder; /* lkb id, file pointer, pid or user holder */
	int mode;
	const char *mode_name;
	uint64_t grant_tai, grant_eps, grant_lseq;
	uint64_t release_tai, release_eps, release_lseq;
	bool release_open;
	bool uncertain; /* the node lost events while this was held */
	/* the node's trace clock; the release may precede its stamp by early */
	uint64_t grant_trace, release_trace, release_early;
	uint64_t clock_domain; /* cevent.clock_domain of the grant, 0 none */
};

/* An abstract lock event kept in a resource's history ring. */
enum lock_ev_kind {
	LOCK_EV_REQUEST,
	LOCK_EV_GRANT,
	LOCK_EV_DOWNGRADE,
	LOCK_EV_RELEASE,
	LOCK_EV_FAIL, /* -EAGAIN, cancel, error: granted nothing */
	LOCK_EV_MAX,
};

struct lock_hist {
	const struct cnode *node;
	uint64_t seq; /* the engine's delivery order: merged order */
	uint64_t tai, eps, holder;
	uint8_t kind; /* enum lock_ev_kind */
	int8_t mode;
};

/* A node's clock as it was when the verdict was made. */
struct verdict_clock {
	const struct cnode *node;
	Netrv__ClockSource source;
	bool synced;
	uint64_t eps_ns;
	int64_t master_offset_ns, path_delay_ns;
	uint32_t port_state;
};

/* Happens-before facts between the four events of a pair. */
enum {
	VERDICT_HB_GA_GB = 1 << 0, /* grant A -> grant B */
	VERDICT_HB_GA_RB = 1 << 1,
	VERDICT_HB_RA_GB = 1 << 2,
	VERDICT_HB_RA_RB = 1 << 3,
	VERDICT_HB_GB_GA = 1 << 4,
	VERDICT_HB_GB_RA = 1 << 5,
	VERDICT_HB_RB_GA = 1 << 6,
	VERDICT_HB_RB_RA = 1 << 7,
};

/* A message end, for clock-bound verdicts. */
struct verdict_msg {
	const struct cnode *node;
	uint64_t tai, eps, lseq;
};

/*
 * A verdict.  Everything it points to is borrowed for the duration of the
 * sink call: copy (or keep the JSON) to keep it.
 */
struct verdict {
	uint64_t id; /* 1, 2, ... per engine */
	enum verdict_class cls;
	uint64_t tai_ns; /* time of the event that decided it */
	const char *domain; /* "dlm", "flock", "user", NULL: no resource */
	uint32_t lockspace; /* dlm only */
	const uint8_t *name; /* resource name, untrusted bytes */
	size_t name_len;
	const char *const *mode_names; /* of the resource's matrix */
	unsigned int n_modes;
	const char *reason; /* one line, static or engine-owned */
	const char *model; /* protocol: the DA model's name; NULL otherwise */
	unsigned int n_holds;
	struct verdict_hold holds[2];
	unsigned int hb; /* VERDICT_HB_* */
	unsigned int n_hist;
	const struct lock_hist
		*hist; /* per node the last K, merged, oldest first */
	unsigned int n_clocks;
	struct verdict_clock clocks[2];
	/* clock-bound: the message that contradicts the bounds */
	bool has_msg;
	struct verdict_msg send, recv;
	/* incomplete: the node and time range that is unknown */
	const struct cnode *gap_node;
	uint64_t gap_from, gap_to, gap_count;
};

/**
 * verdict_to_json - one JSON object (no newline) describing @v
 * @buf: output, always NUL-terminated when @len > 0
 *
 * Resource and node names are untrusted bytes: they are escaped (\uXXXX
 * for control characters and bytes that are not valid UTF-8 as \u00XX) and
 * also given in hex.  Return: the length the full object needs, excluding
 * the NUL (like snprintf): the output is complete only when it is < @len.
 */
size_t verdict_to_json(const struct verdict *v, char *buf, size_t len);

/*
 * A verdict sink.  emit() gets the verdict and its JSON (NUL-terminated,
 * @json_len bytes); it must not block.  destroy() may be NULL.
 */
struct verdict_sink {
	void (*emit)(struct verdict_sink *s, const struct verdict *v,
		     const char *json, size_t json_len);
	void (*destroy)(struct verdict_sink *s);
	struct verdict_sink *next;
};

/* User adapter: one rule maps one trace event to an acquire or a release. */
enum lock_user_action { LOCK_USER_ACQUIRE, LOCK_USER_RELEASE };

struct lock_user_rule {
	char *name; /* config instance name */
	char *system, *event; /* e.g. "uprobes", "lock_acquired" */
	enum lock_user_action action;
	char *name_field; /* field holding the lock name (string/bytes/int) */
	char *mode_field; /* NULL: the matrix's strongest mode */
	char *holder_field; /* NULL: common_pid */
	char *match_field; /* NULL, or only events whose field == match_value */
	int64_t match_value;
	char *prefix; /* resource name prefix (namespace), may be NULL */
};

/* A declared send/receive pair, matched by equal key field values. */
#define LOCK_PAIR_KEYS 8
struct lock_pair_rule {
	char *name;
	char *send_system, *send_event;
	char *recv_system, *recv_event;
	unsigned int n_keys;
	char *send_key[LOCK_PAIR_KEYS], *recv_key[LOCK_PAIR_KEYS];
};

#define LOCK_MAX_MODES 16

struct lock_engine_conf {
	bool dlm, flock, user; /* adapters on */
	/* flock: date a release at its flock(2) call (syscalls:sys_*_flock) */
	bool flock_syscalls;
	/* nodes sharing a clock (cevent.clock_domain) are ordered exactly */
	bool same_clock;
	unsigned int history; /* K: events kept per resource and node */
	uint64_t eps_floor_ns; /* upper bound of every eps to come (memory) */
	uint64_t msg_timeout_ns; /* forget an unmatched send after this */
	unsigned int max_pending; /* unmatched sends kept at most */
	/* user matrix: names and compat[i] bit j set if i, j compatible */
	unsigned int user_n_modes;
	char *user_modes[LOCK_MAX_MODES];
	uint16_t user_compat[LOCK_MAX_MODES];
	unsigned int n_user_rules;
	struct lock_user_rule *user_rules;
	unsigned int n_pair_rules;
	struct lock_pair_rule *pair_rules;
};

/* Config table fragments: the collector appends them to its own tables. */
extern const struct config_section_def lock_config_sections[];
extern const struct config_option lock_config_options[];

/**
 * lock_conf_defaults - dlm+flock+user, K=16, shared/exclusive user modes,
 * flock_syscalls and same_clock on
 */
void lock_conf_defaults(struct lock_engine_conf *conf);

/**
 * lock_conf_from_config - fill @conf from [lock], [lock_user NAME] and
 * [lock_pair NAME] sections of @cfg
 * @err: room for an error message (at least 256 bytes)
 *
 * Return: 0, or -1 with errno EINVAL and the reason in @err.  Free with
 * lock_conf_release() in both cases.
 */
int lock_conf_from_config(const struct config *cfg,
			  struct lock_engine_conf *conf, char *err, size_t len);
/** lock_conf_release - free what lock_conf_from_config() allocated */
void lock_conf_release(struct lock_engine_conf *conf);

struct lock_engine;

/**
 * lock_engine_create - a lock-safety engine
 *
 * @conf is copied shallowly: the rules and mode names it points to must
 * outlive the engine.  Return: the engine, freed with lock_engine_destroy()
 * (or through its consumer's destroy op), or NULL with errno.
 */
struct lock_engine *lock_engine_create(const struct lock_engine_conf *conf);
void lock_engine_destroy(struct lock_engine *e);

/**
 * lock_engine_persist - keep the engine's state across collector restarts
 * @dir: directory for the snapshot files (the collector's WAL directory,
 *	 locked by it), copied
 * @node: the collector's node called @name, or NULL if there is none; used
 *	  by resume (the merge knows the checkpointed nodes by then)
 *
 * From now on the engine's consumer has checkpoint(), resume() and
 * committed(): each checkpoint writes DIR/.lock-state.GEN (see README.md,
 * "Restarts") and gives GEN as its token.  Call before pipeline_start().
 * Return: 0, or -1 with errno ENOMEM.
 */
int lock_engine_persist(struct lock_engine *e, const char *dir,
			const struct cnode *(*node)(void *arg,
						    const char *name),
			void *arg);

/**
 * lock_engine_save - write the snapshot of @e's state to @path (atomically:
 * PATH.tmp, fsync, rename, fsync of the directory)
 *
 * Return: 0, or -1 with errno (and a message logged).
 */
int lock_engine_save(struct lock_engine *e, const char *path);

/**
 * lock_engine_load - replace @e's state by the snapshot in @path
 * @node: as for lock_engine_persist()
 * @err: why it failed (at least 128 bytes)
 *
 * @e must not have seen events yet.  On failure @e is left empty (as
 * created).  Return: 0, or -1 with errno (ENOENT: no such file; EINVAL:
 * damaged, another version, or naming a node @node does not know).
 */
int lock_engine_load(struct lock_engine *e, const char *path,
		     const struct cnode *(*node)(void *arg, const char *name),
		     void *arg, char *err, size_t len);

/** lock_engine_consumer - the consumer to register with the merge */
struct consumer *lock_engine_consumer(struct lock_engine *e);

/**
 * lock_engine_add_sink - hand every verdict to @s (called in order added)
 *
 * The engine destroys its sinks when it is destroyed.
 */
void lock_engine_add_sink(struct lock_engine *e, struct verdict_sink *s);

/**
 * lock_engine_emit - publish a verdict made elsewhere (e.g. a DA model's
 * VERDICT_PROTOCOL) through the engine's sinks; @v->id is assigned.
 */
void lock_engine_emit(struct lock_engine *e, struct verdict *v);

struct lock_stats {
	uint64_t events, lock_events, messages_matched, messages_late;
	uint64_t recv_orphans, pending_dropped, pairs_checked;
	uint64_t safe_causal, safe_clock;
	uint64_t verdicts[VERDICT_MAX];
	uint64_t resources, holds; /* live now */
	uint64_t unknown_lkb;
	/*
	 * holds a grant compared itself with, one by one: open holds of a
	 * mode some hold is incompatible with, and closed ones up to the
	 * first one clock-separated with all older ones (see table.c)
	 */
	uint64_t holds_examined;
};

void lock_engine_stats(const struct lock_engine *e, struct lock_stats *st);

#endif
