// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flockload.c - netrv-flockload: real kernel file locks for the demo.
 *
 * Every node of the local cluster runs one of these on the same directory.
 * Each operation picks a file, a lock kind (flock(2) or an fcntl(2) POSIX
 * record lock over the whole file) and a mode (shared or exclusive), waits
 * for the lock, holds it a moment and releases it.  The kernel's own lock
 * manager arbitrates, so netrv must report zero violations here; the
 * filelock:flock_lock_inode and filelock:posix_lock_inode tracepoints see
 * every step.
 *
 * As an independent check the program keeps, per (file, kind), a count of
 * exclusive and shared holders in a small shared memory file next to the
 * lock files, raised right after the lock is granted and lowered right
 * before it is released.  Seeing another holder that the mode forbids is
 * counted as a violation (a correct kernel never produces one).  The
 * directory must be fresh (or --reset used once) so stale counts from a
 * killed run do not count.
 *
 * Output (stdout, one line each, key=value):
 *   flockload: start node=N pid=P seed=S files=K ops=N
 *   flockload: op=I kind=flock|fcntl mode=shared|exclusive file=NAME
 *                                                         (--log-ops only)
 *   flockload: progress ...        every --report-every operations
 *   flockload: done node=N ops=N flock_shared=.. flock_exclusive=..
 *                   fcntl_shared=.. fcntl_exclusive=.. violations=V
 * Exit status: 0, 1 on violations, 2 on usage or system errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#define LOG_SUBSYS "flockload"
#include "log.h"
#include "wl_util.h"

#define FL_MAX_FILES 64
#define FL_STATE_NAME ".flockload-state"

enum fl_kind { FL_FLOCK, FL_FCNTL, FL_KINDS };

/* Holders of one (file, kind), shared by every flockload on the directory. */
struct fl_holders {
	int exclusive;
	int shared;
};

struct fl_opts {
	const char *dir;
	const char *node;
	uint64_t files, ops, hold_us, pause_us, seed, excl_pct, report_every;
	int log_ops, reset, unlocked;
};

static int fl_unlocked;
static const char *const fl_kind_name[] = { "flock", "fcntl" };

static void fl_usage(FILE *out)
{
	fprintf(out,
		"usage: netrv-flockload --dir DIR [options]\n"
		"  --dir DIR            directory of the shared lock files\n"
		"  --node NAME          node name printed in the log (default: hostname)\n"
		"  --files K            lock files lockN (default 4, max %d)\n"
		"  --ops N              operations, 0 = until SIGTERM (default 1000)\n"
		"  --hold-us U          hold each lock up to U us (default 500)\n"
		"  --pause-us U         pause up to U us between operations (default 0)\n"
		"  --exclusive-pct P    percent of exclusive requests (default 40)\n"
		"  --seed S             random seed, 0 = from the clock (default 0)\n"
		"  --report-every N     print a progress line every N operations\n"
		"  --log-ops            print one line per operation\n"
		"  --reset              zero the shared holder counts first (only\n"
		"                       when no other flockload runs on DIR)\n"
		"  --unlocked           take no lock at all: shows that the holder\n"
		"                       check reports violations (for tests)\n",
		FL_MAX_FILES);
}

static int fl_parse(int argc, char **argv, struct fl_opts *o)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "node", required_argument, NULL, 'n' },
		{ "files", required_argument, NULL, 'f' },
		{ "ops", required_argument, NULL, 'o' },
		{ "hold-us", required_argument, NULL, 'H' },
		{ "pause-us", required_argument, NULL, 'p' },
		{ "exclusive-pct", required_argument, NULL, 'x' },
		{ "seed", required_argument, NULL, 's' },
		{ "report-every", required_argument, NULL, 'r' },
		{ "log-ops", no_argument, NULL, 'l' },
		{ "reset", no_argument, NULL, 'R' },
		{ "unlocked", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char host[64];
	int c, err = 0;

	*o = (struct fl_opts){
		.files = 4, .ops = 1000, .hold_us = 500, .excl_pct = 40
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'n':
			o->node = optarg;
			break;
		case 'f':
			err |= wl_parse_u64("files", optarg, 1, FL_MAX_FILES,
					    &o->files);
			break;
		case 'o':
			err |= wl_parse_u64("ops", optarg, 0, UINT32_MAX,
					    &o->ops);
			break;
		case 'H':
			err |= wl_parse_u64("hold-us", optarg, 0, 10000000,
					    &o->hold_us);
			break;
		case 'p':
			err |= wl_parse_u64("pause-us", optarg, 0, 10000000,
					    &o->pause_us);
			break;
		case 'x':
			err |= wl_parse_u64("exclusive-pct", optarg, 0, 100,
					    &o->excl_pct);
			break;
		case 's':
			err |= wl_parse_u64("seed", optarg, 0, UINT64_MAX,
					    &o->seed);
			break;
		case 'r':
			err |= wl_parse_u64("report-every", optarg, 0,
					    UINT32_MAX, &o->report_every);
			break;
		case 'l':
			o->log_ops = 1;
			break;
		case 'R':
			o->reset = 1;
			break;
		case 'U':
			o->unlocked = 1;
			break;
		case 'h':
			fl_usage(stdout);
			exit(0);
		default:
			fl_usage(stderr);
			return -1;
		}
	}
	if (err)
		return -1;
	if (!o->dir || optind != argc) {
		pr_err("--dir is required and there are no positional arguments (try --help)");
		return -1;
	}
	if (!o->node) {
		if (gethostname(host, sizeof(host) - 1))
			strcpy(host, "?");
		o->node = host;
	}
	return 0;
}

/* The shared holder counts: [file][kind], zero-filled when created. */
static struct fl_holders *fl_map_state(const struct fl_opts *o)
{
	size_t len = sizeof(struct fl_holders) * FL_MAX_FILES * FL_KINDS;
	char path[4096];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", o->dir, FL_STATE_NAME);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		pr_err("open %s: %m (does the directory exist?)", path);
		return NULL;
	}
	if (ftruncate(fd, len)) {
		pr_err("ftruncate %s: %m", path);
		close(fd);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		pr_err("mmap %s: %m", path);
		return NULL;
	}
	if (o->reset)
		memset(p, 0, len);
	return p;
}

/* Blocking lock or unlock; -1 with errno (EINTR when asked to stop). */
static int fl_lock(int fd, enum fl_kind kind, int mode_ex, int unlock)
{
	struct flock fl = { .l_whence = SEEK_SET };

	if (fl_unlocked)
		return 0;
	if (kind == FL_FLOCK)
		return flock(fd, unlock	 ? LOCK_UN :
				 mode_ex ? LOCK_EX :
					   LOCK_SH);
	fl.l_type = unlock ? F_UNLCK : mode_ex ? F_WRLCK : F_RDLCK;
	return fcntl(fd, unlock ? F_SETLK : F_SETLKW, &fl);
}

/*
 * Raise this holder's count and look at the others.  Return 1 when the
 * mode forbids what is seen.
 */
static int fl_enter(struct fl_holders *h, int mode_ex)
{
	if (mode_ex) {
		int ex = __atomic_add_fetch(&h->exclusive, 1, __ATOMIC_SEQ_CST);
		int sh = __atomic_load_n(&h->shared, __ATOMIC_SEQ_CST);

		return ex != 1 || sh != 0;
	}
	__atomic_add_fetch(&h->shared, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&h->exclusive, __ATOMIC_SEQ_CST) != 0;
}

static void fl_leave(struct fl_holders *h, int mode_ex)
{
	__atomic_sub_fetch(mode_ex ? &h->exclusive : &h->shared, 1,
			   __ATOMIC_SEQ_CST);
}

int main(int argc, char **argv)
{
	uint64_t count[FL_KINDS][2] = { { 0 } };
	uint64_t done = 0, violations = 0, rng;
	int fds[FL_MAX_FILES];
	struct fl_holders *state;
	struct fl_opts o;
	int status = 2;

	log_setup("netrv-flockload", LOG_INFO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (fl_parse(argc, argv, &o))
		return 2;
	fl_unlocked = o.unlocked;
	state = fl_map_state(&o);
	if (!state)
		return 2;
	for (uint64_t i = 0; i < o.files; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/lock%" PRIu64, o.dir, i);
		/* One descriptor per file for the whole run: closing any
		 * descriptor of a file would drop the POSIX locks on it. */
		fds[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (fds[i] < 0) {
			pr_err("open %s: %m", path);
			return 2;
		}
	}
	rng = wl_seed(o.seed);
	printf("flockload: start node=%s pid=%d seed=%" PRIu64 " files=%" PRIu64
	       " ops=%" PRIu64 "\n",
	       o.node, (int)getpid(), rng, o.files, o.ops);
	wl_handle_stop_signals();

	while (!wl_stop && (!o.ops || done < o.ops)) {
		uint64_t r = wl_rand(&rng);
		unsigned int file = r % o.files;
		enum fl_kind kind = (r >> 16) % FL_KINDS;
		int ex = (r >> 24) % 100 < o.excl_pct;
		struct fl_holders *h = &state[file * FL_KINDS + kind];

		if (fl_lock(fds[file], kind, ex, 0)) {
			if (errno == EINTR)
				continue; /* wl_stop is set */
			pr_err("%s lock on lock%u: %m", fl_kind_name[kind],
			       file);
			goto out;
		}
		if (fl_enter(h, ex)) {
			violations++;
			printf("flockload: violation node=%s kind=%s mode=%s file=lock%u\n",
			       o.node, fl_kind_name[kind],
			       ex ? "exclusive" : "shared", file);
		}
		if (o.log_ops)
			printf("flockload: op=%" PRIu64
			       " kind=%s mode=%s file=lock%u\n",
			       done + 1, fl_kind_name[kind],
			       ex ? "exclusive" : "shared", file);
		if (o.hold_us)
			wl_sleep_us(wl_rand(&rng) % (o.hold_us + 1));
		fl_leave(h, ex);
		if (fl_lock(fds[file], kind, ex, 1)) {
			pr_err("%s unlock on lock%u: %m", fl_kind_name[kind],
			       file);
			goto out;
		}
		count[kind][ex]++;
		done++;
		if (o.report_every && done % o.report_every == 0)
			printf("flockload: progress node=%s ops=%" PRIu64
			       " violations=%" PRIu64 "\n",
			       o.node, done, violations);
		if (o.pause_us)
			wl_sleep_us(wl_rand(&rng) % (o.pause_us + 1));
	}
	status = violations ? 1 : 0;
out:
	printf("flockload: done node=%s ops=%" PRIu64 " flock_shared=%" PRIu64
	       " flock_exclusive=%" PRIu64 " fcntl_shared=%" PRIu64
	       " fcntl_exclusive=%" PRIu64 " violations=%" PRIu64 "%s\n",
	       o.node, done, count[FL_FLOCK][0], count[FL_FLOCK][1],
	       count[FL_FCNTL][0], count[FL_FCNTL][1], violations,
	       status == 2 ? " error=1" : "");
	return status;
}
