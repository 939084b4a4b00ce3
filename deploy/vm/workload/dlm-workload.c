// SPDX-License-Identifier: GPL-2.0-only
/*
 * netrv-dlm-workload - a DLM workload for the VM tier.
 *
 * Runs on every node of a corosync/dlm_controld cluster and takes locks on a
 * small set of shared resources through libdlm (so through the kernel DLM):
 * new requests in every mode NL..EX, some with NOQUEUE, conversions up
 * (queued with CONVDEADLK, or NOQUEUE) and down, and unlocks, for a fixed
 * number of DLM calls.  A process holds at most one lock at a time, so the
 * only possible deadlock is a conversion deadlock, which CONVDEADLK resolves.
 *
 * Nodes meet at a barrier directory (shared over 9p by the VM tier) after
 * joining the lockspace and again before leaving it, so that every node
 * locks while all of them are members.
 *
 * Every DLM call is written to the log (one line each) and a summary of
 * counts follows: the VM test compares them with the node's dlm:* trace.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libdlm.h>

#ifndef DLM_EUNLOCK
#define DLM_EUNLOCK 0x10002
#endif

static const char *const mode_names[] = { "NL", "CR", "CW", "PR", "PW", "EX" };

enum wl_op { WL_LOCK, WL_UP, WL_DOWN, WL_UNLOCK, WL_MAX };
static const char *const op_names[] = { "lock", "convert-up", "convert-down",
					"unlock" };

struct wl_opts {
	const char *lockspace;
	const char *barrier;
	const char *log;
	int node;
	int nodes;
	long ops;
	int resources;
	unsigned int seed;
	long hold_us;
	int timeout_s;
	bool no_noqueue; /* never NOQUEUE: see --no-noqueue */
};

struct wl_counts {
	long calls[WL_MAX]; /* DLM calls made, by kind */
	long noqueue[WL_MAX]; /* of which with NOQUEUE */
	long eagain[WL_MAX]; /* NOQUEUE refused (-EAGAIN) */
	long granted[WL_MAX]; /* status 0 (or -DLM_EUNLOCK) */
	long demoted; /* CONVDEADLK demotions */
	long by_mode[6]; /* granted requests/converts, by mode */
	long errors; /* anything else */
};

static FILE *wl_log;
static struct wl_counts wl_c;
static long wl_seq;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* xorshift32: reproducible from --seed, no shared state with libc rand. */
static unsigned int wl_rand(unsigned int *s)
{
	unsigned int x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return x;
}

/*
 * One DLM call: a request (lksb->sb_lkid == 0) or a conversion.  Returns the
 * outcome as a positive code: 0 granted, EAGAIN (NOQUEUE refused), another
 * errno or DLM code.  libdlm reports statuses with either sign (the kernel's
 * -EAGAIN, but DLM_EUNLOCK positive), so only the magnitude is compared.
 */
static int wl_lock(dlm_lshandle_t ls, enum wl_op op, const char *res,
		   struct dlm_lksb *lksb, int from, int mode,
		   unsigned int flags)
{
	uint64_t t = now_ns();
	int rv, status;

	if (op != WL_LOCK)
		flags |= LKF_CONVERT;
	rv = dlm_ls_lock_wait(ls, mode, lksb, flags, res, strlen(res), 0, NULL,
			      NULL, NULL);
	status = rv ? errno : abs(lksb->sb_status);
	wl_c.calls[op]++;
	if (flags & LKF_NOQUEUE)
		wl_c.noqueue[op]++;
	if (status == 0) {
		wl_c.granted[op]++;
		wl_c.by_mode[mode]++;
		if (lksb->sb_flags & DLM_SBF_DEMOTED)
			wl_c.demoted++;
	} else if (status == EAGAIN && (flags & LKF_NOQUEUE)) {
		wl_c.eagain[op]++;
	} else {
		wl_c.errors++;
	}
	fprintf(wl_log,
		"%ld %" PRIu64 " %s %s lkid=%x %s->%s flags=%#x status=%d\n",
		++wl_seq, t, op_names[op], res, lksb->sb_lkid,
		from < 0 ? "IV" : mode_names[from], mode_names[mode], flags,
		status);
	return status;
}

static int wl_unlock(dlm_lshandle_t ls, const char *res, struct dlm_lksb *lksb,
		     int from)
{
	uint64_t t = now_ns();
	int rv, status;

	rv = dlm_ls_unlock_wait(ls, lksb->sb_lkid, 0, lksb);
	status = rv ? errno : abs(lksb->sb_status);
	wl_c.calls[WL_UNLOCK]++;
	if (status == DLM_EUNLOCK)
		wl_c.granted[WL_UNLOCK]++;
	else
		wl_c.errors++;
	fprintf(wl_log, "%ld %" PRIu64 " unlock %s lkid=%x %s->IV status=%d\n",
		++wl_seq, t, res, lksb->sb_lkid, mode_names[from], status);
	return status;
}

static long calls_total(void)
{
	long n = 0;

	for (int i = 0; i < WL_MAX; i++)
		n += wl_c.calls[i];
	return n;
}

static void hold(struct wl_opts *o, unsigned int *s)
{
	if (o->hold_us > 0)
		usleep(wl_rand(s) % (unsigned int)o->hold_us);
}

/*
 * One lock's life: request, up to two conversions, unlock.  Returns -1 on an
 * error that leaves the lock in an unknown state.
 */
static int wl_cycle(dlm_lshandle_t ls, struct wl_opts *o, unsigned int *s)
{
	struct dlm_lksb lksb;
	char res[32];
	unsigned int flags;
	int mode, to, st;

	memset(&lksb, 0, sizeof(lksb));
	snprintf(res, sizeof(res), "netrv-res-%u", wl_rand(s) % o->resources);
	mode = wl_rand(s) % 6;
	flags = wl_rand(s) % 4 == 0 && !o->no_noqueue ? LKF_NOQUEUE : 0;
	st = wl_lock(ls, WL_LOCK, res, &lksb, -1, mode, flags);
	if (st == EAGAIN)
		return 0;
	if (st != 0)
		return -1;
	hold(o, s);

	for (int i = 0; i < 2 && calls_total() < o->ops - 1; i++) {
		if (wl_rand(s) % 3 == 0)
			break;
		if (mode < 5 && (mode == 0 || wl_rand(s) % 2)) {
			to = mode + 1 + wl_rand(s) % (5 - mode);
			flags = wl_rand(s) % 3 == 0 && !o->no_noqueue ?
					LKF_NOQUEUE :
					LKF_CONVDEADLK;
			st = wl_lock(ls, WL_UP, res, &lksb, mode, to, flags);
		} else {
			/*
			 * Down: to a mode no more restrictive.  PR->CW is not
			 * one (CW and PR are not ordered: the DLM queues it
			 * like an up conversion).
			 */
			to = wl_rand(s) % mode;
			if (mode == LKM_PRMODE && to == LKM_CWMODE)
				to = LKM_CRMODE;
			st = wl_lock(ls, WL_DOWN, res, &lksb, mode, to, 0);
		}
		if (st == 0)
			mode = to;
		else if (st != EAGAIN)
			return -1;
		hold(o, s);
	}
	return wl_unlock(ls, res, &lksb, mode) == DLM_EUNLOCK ? 0 : -1;
}

/* Mark this node at the barrier NAME and wait for all nodes, bounded. */
static int wl_barrier(struct wl_opts *o, const char *name)
{
	char path[PATH_MAX];
	time_t end = time(NULL) + o->timeout_s;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%d", o->barrier, name, o->node);
	f = fopen(path, "w");
	if (!f || fclose(f)) {
		fprintf(stderr, "dlm-workload: cannot create %s: %m\n", path);
		return -1;
	}
	for (;;) {
		int present = 0;
		struct stat st;

		for (int n = 1; n <= o->nodes; n++) {
			snprintf(path, sizeof(path), "%s/%s-%d", o->barrier,
				 name, n);
			present += stat(path, &st) == 0;
		}
		if (present == o->nodes)
			return 0;
		if (time(NULL) > end) {
			fprintf(stderr,
				"dlm-workload: barrier '%s': %d of %d nodes after %d s\n",
				name, present, o->nodes, o->timeout_s);
			return -1;
		}
		usleep(50000);
	}
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: netrv-dlm-workload [options]\n"
		"  -L, --lockspace NAME  lockspace (default netrv)\n"
		"  -n, --node ID         this node's number, 1..N (required)\n"
		"  -N, --nodes N         number of nodes at the barrier (default 1)\n"
		"  -b, --barrier DIR     shared directory for the barriers\n"
		"                        (required when N > 1)\n"
		"  -o, --ops COUNT       DLM calls to make (default 200)\n"
		"  -r, --resources R     shared resources (default 4)\n"
		"  -s, --seed S          random seed (default: the node number)\n"
		"  -H, --hold-us US      hold each mode up to US microseconds (default 2000)\n"
		"  -l, --log FILE        operation log (default stdout)\n"
		"  -t, --timeout S       barrier timeout in seconds (default 120)\n"
		"  -Q, --no-noqueue      never use NOQUEUE (6.12's dlm_ast reports\n"
		"                        sb_status 0 for refusals of user-space locks,\n"
		"                        so a trace cannot tell them from grants)\n");
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || *end || end == s || *out < min || *out > max) {
		fprintf(stderr,
			"dlm-workload: '%s' is not a number in %ld..%ld\n", s,
			min, max);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = { { "lockspace", 1, NULL, 'L' },
					       { "node", 1, NULL, 'n' },
					       { "nodes", 1, NULL, 'N' },
					       { "barrier", 1, NULL, 'b' },
					       { "ops", 1, NULL, 'o' },
					       { "resources", 1, NULL, 'r' },
					       { "seed", 1, NULL, 's' },
					       { "hold-us", 1, NULL, 'H' },
					       { "log", 1, NULL, 'l' },
					       { "timeout", 1, NULL, 't' },
					       { "help", 0, NULL, 'h' },
					       { "no-noqueue", 0, NULL, 'Q' },
					       { 0 } };
	struct wl_opts o = { .lockspace = "netrv",
			     .nodes = 1,
			     .ops = 200,
			     .resources = 4,
			     .hold_us = 2000,
			     .timeout_s = 120 };
	dlm_lshandle_t ls;
	long v, seed = -1;
	unsigned int s;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "L:n:N:b:o:r:s:H:l:t:Qh", lopts,
				NULL)) != -1) {
		switch (c) {
		case 'L':
			o.lockspace = optarg;
			break;
		case 'b':
			o.barrier = optarg;
			break;
		case 'Q':
			o.no_noqueue = true;
			break;
		case 'l':
			o.log = optarg;
			break;
		case 'n':
			if (parse_long(optarg, 1, 255, &v))
				return 2;
			o.node = v;
			break;
		case 'N':
			if (parse_long(optarg, 1, 255, &v))
				return 2;
			o.nodes = v;
			break;
		case 'o':
			if (parse_long(optarg, 1, 100000000, &o.ops))
				return 2;
			break;
		case 'r':
			if (parse_long(optarg, 1, 100000, &v))
				return 2;
			o.resources = v;
			break;
		case 's':
			if (parse_long(optarg, 0, UINT_MAX, &seed))
				return 2;
			break;
		case 'H':
			if (parse_long(optarg, 0, 10000000, &o.hold_us))
				return 2;
			break;
		case 't':
			if (parse_long(optarg, 1, 3600, &v))
				return 2;
			o.timeout_s = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!o.node || optind != argc || (o.nodes > 1 && !o.barrier)) {
		usage(stderr);
		return 2;
	}
	s = seed >= 0 ? (unsigned int)seed : (unsigned int)o.node;
	s = s * 2654435761u + 1; /* xorshift must not start at 0 */

	wl_log = o.log ? fopen(o.log, "w") : stdout;
	if (!wl_log) {
		fprintf(stderr, "dlm-workload: cannot open %s: %m\n", o.log);
		return 1;
	}
	ls = dlm_new_lockspace(o.lockspace, 0600, 0);
	if (!ls && errno == EEXIST)
		ls = dlm_open_lockspace(o.lockspace);
	if (!ls) {
		fprintf(stderr,
			"dlm-workload: cannot join lockspace %s: %m (is dlm_controld running and the cluster quorate?)\n",
			o.lockspace);
		return 1;
	}
	if (dlm_ls_pthread_init(ls)) {
		fprintf(stderr, "dlm-workload: dlm_ls_pthread_init: %m\n");
		rc = 1;
		goto out_release;
	}
	if (o.barrier && wl_barrier(&o, "joined")) {
		rc = 1;
		goto out_release;
	}
	fprintf(wl_log, "# node %d lockspace %s ops %ld resources %d\n", o.node,
		o.lockspace, o.ops, o.resources);
	while (calls_total() < o.ops) {
		if (wl_cycle(ls, &o, &s)) {
			fprintf(stderr,
				"dlm-workload: DLM call failed, see %s\n",
				o.log ? o.log : "the log");
			rc = 1;
			break;
		}
	}
	for (int i = 0; i < WL_MAX; i++)
		fprintf(wl_log,
			"summary %s calls=%ld noqueue=%ld eagain=%ld granted=%ld\n",
			op_names[i], wl_c.calls[i], wl_c.noqueue[i],
			wl_c.eagain[i], wl_c.granted[i]);
	fprintf(wl_log, "summary modes");
	for (int m = 0; m < 6; m++)
		fprintf(wl_log, " %s=%ld", mode_names[m], wl_c.by_mode[m]);
	fprintf(wl_log, "\nsummary total calls=%ld demoted=%ld errors=%ld\n",
		calls_total(), wl_c.demoted, wl_c.errors);
	fflush(wl_log);
	if (o.barrier && wl_barrier(&o, "done"))
		rc = 1;
out_release:
	if (dlm_release_lockspace(o.lockspace, ls, 1))
		fprintf(stderr, "dlm-workload: leaving lockspace %s: %m\n",
			o.lockspace);
	if (o.log && fclose(wl_log)) {
		fprintf(stderr, "dlm-workload: writing %s: %m\n", o.log);
		rc = 1;
	}
	return rc;
}
