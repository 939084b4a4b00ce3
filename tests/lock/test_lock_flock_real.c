// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_lock_flock_real.c - the flock adapter on the running kernel's own
 * filelock:flock_lock_inode records (needs root and tracefs: label root).
 *
 * In a private tracefs instance (netrv-lock-PID, removed at the end, also on
 * failure) this process takes real flock(2) locks through two open files:
 * EX on the first, a refused LOCK_SH|LOCK_NB on the second, unlock, SH on
 * the second, close both.  The event type is built from the kernel's format
 * file (as an agent would send it), the records are read back from the
 * instance's trace and fed to the engine as one node's events.
 *
 * The kernel served the locks correctly, so: no verdict, every hold closed
 * and freed.  Without the unlock record (as if it were lost), the second
 * file's SH overlaps the first's EX on one node: a definite violation.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "harness.h"

#define TRACEFS "/sys/kernel/tracing"
#define SKIP 77
#define MAXREC 32

static char inst[256], lockfile[256];
static struct th_type t_flock;
static char fnames[TH_MAX_FIELDS][64];
static const char *fptr[TH_MAX_FIELDS];

static int put(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* The event type as the format file describes it (common_* but pid out). */
static int load_format(void)
{
	char path[512], line[512], kinds[TH_MAX_FIELDS + 1] = "";
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path),
		 "%s/events/filelock/flock_lock_inode/format", TRACEFS);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n < TH_MAX_FIELDS) {
		char *p = strstr(line, "field:"), *semi, *name;

		if (!p || !(semi = strchr(p, ';')))
			continue;
		*semi = '\0';
		name = strrchr(p, ' ');
		name = name ? name + 1 : p + 6;
		if (!strncmp(name, "common_", 7) && strcmp(name, "common_pid"))
			continue;
		snprintf(fnames[n], sizeof(fnames[n]), "%s", name);
		fptr[n] = fnames[n];
		kinds[n++] = 'i';
	}
	fclose(f);
	kinds[n] = '\0';
	th_type_init(&t_flock, "filelock", "flock_lock_inode", kinds, fptr);
	return n;
}

struct rec {
	uint64_t ts, fl, ino, dev, blocker, owner, pid, flags, ret;
	int64_t start, end;
	int type, cpid;
};

static uint64_t flag_bits(const char *s)
{
	static const char *const names[] = { "FL_POSIX",  "FL_FLOCK",
					     "FL_DELEG",  "FL_ACCESS",
					     "FL_EXISTS", "FL_LEASE",
					     "FL_CLOSE",  "FL_SLEEP" };
	uint64_t bits = 0;

	for (unsigned int i = 0; i < 8; i++) {
		const char *p = strstr(s, names[i]);
		size_t l = strlen(names[i]);

		if (p && (p[l] == '|' || p[l] == ' ' || p[l] == '\0'))
			bits |= 1u << i;
	}
	return bits;
}

static int read_trace(struct rec *r, int max)
{
	char path[512], line[1024];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/trace", inst);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n < max) {
		char *p = strstr(line, "flock_lock_inode: "), *dash, flags[128],
		     type[16];
		unsigned long sec, usec, major, minor;
		struct rec *x = &r[n];
		int got;

		if (!p || line[0] == '#')
			continue;
		*p = '\0';
		dash = strrchr(line, '-');
		if (!dash || sscanf(dash + 1, "%d", &x->cpid) != 1)
			continue;
		if (sscanf(strrchr(line, ']') + 1, " %*s %lu.%lu:", &sec,
			   &usec) != 2)
			continue;
		x->ts = sec * 1000000000ULL + usec * 1000ULL;
		got = sscanf(p + 18,
			     "fl=%" SCNx64 " dev=0x%lx:0x%lx ino=0x%" SCNx64
			     " fl_blocker=%" SCNx64 " fl_owner=%" SCNx64
			     " fl_pid=%" SCNu64 " fl_flags=%127s fl_type=%15s"
			     " fl_start=%" SCNd64 " fl_end=%" SCNd64
			     " ret=%" SCNd64,
			     &x->fl, &major, &minor, &x->ino, &x->blocker,
			     &x->owner, &x->pid, flags, type, &x->start,
			     &x->end, (int64_t *)&x->ret);
		if (got != 12)
			continue;
		x->dev = (major << 20) | minor;
		x->flags = flag_bits(flags);
		x->type = !strcmp(type, "F_RDLCK") ? 0 :
			  !strcmp(type, "F_WRLCK") ? 1 :
			  !strcmp(type, "F_UNLCK") ? 2 :
						     -1;
		n++;
	}
	fclose(f);
	return n;
}

static void feed(struct consumer *c, const struct cnode *node,
		 const struct rec *x)
{
	struct evpack_value v[TH_MAX_FIELDS];

	for (size_t i = 0; i < t_flock.t.n_fields; i++) {
		const char *f = fnames[i];
		int64_t val = 0;

		if (!strcmp(f, "fl"))
			val = (int64_t)x->fl;
		else if (!strcmp(f, "i_ino"))
			val = (int64_t)x->ino;
		else if (!strcmp(f, "s_dev"))
			val = (int64_t)x->dev;
		else if (!strcmp(f, "blocker"))
			val = (int64_t)x->blocker;
		else if (!strcmp(f, "owner"))
			val = (int64_t)x->owner;
		else if (!strcmp(f, "pid"))
			val = (int64_t)x->pid;
		else if (!strcmp(f, "flags"))
			val = (int64_t)x->flags;
		else if (!strcmp(f, "type"))
			val = x->type;
		else if (!strcmp(f, "fl_start"))
			val = x->start;
		else if (!strcmp(f, "fl_end"))
			val = x->end;
		else if (!strcmp(f, "ret"))
			val = (int64_t)x->ret;
		else if (!strcmp(f, "common_pid"))
			val = x->cpid;
		v[i] = th_int(val);
	}
	th_send(c, node, &t_flock, x->ts, 1000, v);
}

static void run(const struct rec *r, int n, int skip, size_t want_definite)
{
	struct lock_engine_conf conf;
	struct lock_engine *e;
	struct th_sink *s;
	struct consumer *c;
	struct lock_stats st;
	struct cnode node;

	th_node_init(&node, 0, "local", 1000);
	lock_conf_defaults(&conf);
	conf.eps_floor_ns = 1000;
	e = lock_engine_create(&conf);
	if (!CHECK(e))
		return;
	s = th_sink_new();
	lock_engine_add_sink(e, &s->sink);
	c = lock_engine_consumer(e);
	for (int i = 0; i < n; i++)
		if (i != skip)
			feed(c, &node, &r[i]);
	c->ops->watermark(c, r[n - 1].ts + 1000000000ULL);
	lock_engine_stats(e, &st);
	CHECK_INT(st.lock_events, n - (skip >= 0));
	CHECK_INT(s->n, want_definite);
	CHECK_INT(th_count(s, VERDICT_DEFINITE), want_definite);
	if (!want_definite) {
		CHECK_INT(st.holds, 0);
		CHECK_INT(st.resources, 0);
	}
	for (size_t i = 0; i < s->n; i++)
		printf("verdict: %s\n", s->v[i].json);
	lock_engine_destroy(e);
}

int main(int argc, char **argv)
{
	struct rec r[MAXREC];
	char path[600], filt[64];
	int fd1 = -1, fd2 = -1, n, unlock = -1;
	struct stat sb;

	if (geteuid() != 0) {
		printf("%s: needs root, skipped\n", argv[0]);
		return SKIP;
	}
	if (stat(TRACEFS "/instances", &sb) < 0 &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL) < 0) {
		printf("%s: no tracefs (%m), skipped\n", argv[0]);
		return SKIP;
	}
	REQUIRE(load_format() > 0);
	REQUIRE(evpack_field_index(&t_flock.t, "type") >= 0);
	REQUIRE(evpack_field_index(&t_flock.t, "ret") >= 0);
	REQUIRE(evpack_field_index(&t_flock.t, "s_dev") >= 0);
	REQUIRE(evpack_field_index(&t_flock.t, "i_ino") >= 0);
	CHECK(evpack_field_index(&t_flock.t, "owner") >= 0);
	CHECK(evpack_field_index(&t_flock.t, "flags") >= 0);

	snprintf(inst, sizeof(inst), "%s/instances/netrv-lock-%d", TRACEFS,
		 (int)getpid());
	REQUIRE(mkdir(inst, 0700) == 0);
	snprintf(path, sizeof(path),
		 "%s/events/filelock/flock_lock_inode/filter", inst);
	snprintf(filt, sizeof(filt), "common_pid == %d", (int)getpid());
	REQUIRE(put(path, filt) == 0);
	snprintf(path, sizeof(path),
		 "%s/events/filelock/flock_lock_inode/enable", inst);
	REQUIRE(put(path, "1") == 0);

	snprintf(lockfile, sizeof(lockfile), "/tmp/netrv-lock-%d.lock",
		 (int)getpid());
	fd1 = open(lockfile, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	fd2 = open(lockfile, O_RDONLY | O_CLOEXEC);
	REQUIRE(fd1 >= 0 && fd2 >= 0);
	REQUIRE(flock(fd1, LOCK_EX) == 0);
	CHECK(flock(fd2, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK);
	REQUIRE(flock(fd1, LOCK_UN) == 0);
	REQUIRE(flock(fd2, LOCK_SH) == 0);
	close(fd1);
	close(fd2);
	fd1 = fd2 = -1;
	put(path, "0");

	n = read_trace(r, MAXREC);
	REQUIRE(n >= 4);
	for (int i = 0; i < n; i++)
		if (r[i].type == 2 && r[i].ret == 0 && unlock < 0)
			unlock = i;
	REQUIRE(unlock > 0);
	run(r, n, -1, 0);
	run(r, n, unlock, 1);
out:
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	if (lockfile[0])
		unlink(lockfile);
	if (inst[0]) {
		snprintf(path, sizeof(path),
			 "%s/events/filelock/flock_lock_inode/enable", inst);
		put(path, "0");
		if (rmdir(inst) < 0)
			fprintf(stderr, "cannot remove %s: %m\n", inst);
	}
	return check_summary(argv[0]);
}
