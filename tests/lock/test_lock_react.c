// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_lock_react.c - the reactors for real: the JSON-lines log read back
 * by python3's json module, the exec hook running a real shell command that
 * saves its stdin (and its rate limit and bounded queue), and the state
 * view's JSON answers.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "harness.h"
#include "lock_reactor.h"

#define US 1000ULL
#define N_VERDICTS 10

static struct cnode nodes[2];
static struct th_type t_a, t_r;
static struct lock_user_rule urules[2];
static char dir[256];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2 * PATH_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* python3 must parse @path as JSON (lines: one object per line) */
static int json_ok(const char *path, bool lines, int want_count)
{
	return sh(
		"python3 -c 'import json,sys\n"
		"p,lines,n=sys.argv[1],sys.argv[2]==\"1\",int(sys.argv[3])\n"
		"objs=[json.loads(l) for l in open(p)] if lines else [json.load(open(p))]\n"
		"assert n < 0 or len(objs)==n, (len(objs), n)\n"
		"' %s %d %d",
		path, lines ? 1 : 0, want_count);
}

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(s, f);
	return fclose(f);
}

static void test_reactors(void)
{
	static const char *const f_lock[] = { "res", "holder" };
	char path[512], cmd[1024], buf[65536], name[32];
	struct lock_engine_conf conf;
	struct lock_exec_stats xs;
	struct lock_engine *e;
	struct lock_exec *x;
	struct lock_view *view;
	struct verdict_sink *log;
	struct consumer *c;
	size_t need;

	th_type_init(&t_a, "t", "acq", "si", f_lock);
	th_type_init(&t_r, "t", "rel", "si", f_lock);
	urules[0] = (struct lock_user_rule){ .system = "t",
					     .event = "acq",
					     .name_field = "res",
					     .holder_field = "holder" };
	urules[1] = urules[0];
	urules[1].event = "rel";
	urules[1].action = LOCK_USER_RELEASE;
	lock_conf_defaults(&conf);
	conf.user_rules = urules;
	conf.n_user_rules = 2;
	conf.eps_floor_ns = US;
	e = lock_engine_create(&conf);
	REQUIRE(e);

	snprintf(path, sizeof(path), "%s/verdicts.jsonl", dir);
	log = lock_log_create(path);
	REQUIRE(log);
	lock_engine_add_sink(e, log);
	view = lock_view_create(e, 4);
	REQUIRE(view);
	lock_engine_add_sink(e, lock_view_sink(view));
	snprintf(
		cmd, sizeof(cmd),
		"cat > %s/out.$NETRV_VERDICT_ID.json && echo $NETRV_VERDICT_CLASS > %s/cls.$NETRV_VERDICT_ID",
		dir, dir);
	x = lock_exec_create(
		&(struct lock_exec_conf){ .command = cmd,
					  .rate = 1,
					  .burst = 2,
					  .queue = 3,
					  .max_running = 4,
					  .classes = 1u << VERDICT_DEFINITE });
	REQUIRE(x);
	lock_engine_add_sink(e, lock_exec_sink(x));
	c = lock_engine_consumer(e);

	/* N_VERDICTS conflicts in a burst: a name with a quote and a newline */
	for (int i = 0; i < N_VERDICTS; i++) {
		struct evpack_value v[2];

		snprintf(name, sizeof(name), "res\"%d\n", i);
		v[0] = th_str(name);
		v[1] = th_int(1);
		th_send(c, &nodes[0], &t_a, (uint64_t)(1000 + 10 * i) * US, US,
			v);
		v[1] = th_int(2);
		th_send(c, &nodes[1], &t_a, (uint64_t)(1001 + 10 * i) * US, US,
			v);
		if (i < N_VERDICTS - 1) {
			v[1] = th_int(1);
			th_send(c, &nodes[0], &t_r,
				(uint64_t)(1005 + 10 * i) * US, US, v);
			v[1] = th_int(2);
			th_send(c, &nodes[1], &t_r,
				(uint64_t)(1006 + 10 * i) * US, US, v);
		}
	}
	c->ops->watermark(c, 2000 * US);

	/* rate limit: burst started, queue full, the rest dropped */
	lock_exec_get_stats(x, &xs);
	CHECK(xs.started >= 2);
	CHECK(xs.queued <= 3);
	CHECK_INT(xs.started + xs.queued + xs.dropped + xs.spawn_errors,
		  N_VERDICTS);
	CHECK(xs.dropped >= N_VERDICTS - 3 - xs.started);
	CHECK(xs.dropped > 0);

	/* the queue drains at the rate: wait (bounded) for every command */
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 50000000 };

		lock_exec_poll(x);
		lock_exec_get_stats(x, &xs);
		if (!xs.queued && !xs.running)
			break;
		nanosleep(&ts, NULL);
	}
	CHECK_INT(xs.queued, 0);
	CHECK_INT(xs.running, 0);
	CHECK_INT(xs.exited_fail, 0);
	CHECK_INT(xs.exited_ok, xs.started);

	/* the log: every verdict, one JSON object per line */
	CHECK_INT(json_ok(path, true, N_VERDICTS), 0);
	/* each command got exactly that verdict's line on stdin */
	CHECK_INT(
		sh("cd %s && n=0; for f in out.*.json; do id=${f#out.}; id=${id%%.json}; "
		   "grep -qxF -- \"$(cat $f)\" verdicts.jsonl || exit 1; "
		   "grep -q \"^{\\\"id\\\":$id,\" $f || exit 2; "
		   "test \"$(cat cls.$id)\" = definite || exit 3; n=$((n+1)); done; "
		   "test $n = %llu",
		   dir, (unsigned long long)xs.started),
		0);

	/* the view: the lock table now (resource 9 is still held by both) */
	need = lock_view_resources(view, buf, sizeof(buf));
	REQUIRE(need < sizeof(buf));
	CHECK(strstr(buf, "\"name\":\"res\\\"9\\u000a\""));
	CHECK(strstr(buf, "\"node\":\"n0\",\"holder\":\"0x1\""));
	CHECK(strstr(buf, "\"since_tai_ns\":1090000"));
	CHECK(!strstr(buf, "res\\\"8"));
	snprintf(path, sizeof(path), "%s/resources.json", dir);
	CHECK(write_file(path, buf) == 0);
	CHECK_INT(json_ok(path, false, 1), 0);

	/* recent verdicts: only the last 4 are kept */
	need = lock_view_verdicts(view, 0, 100, buf, sizeof(buf));
	REQUIRE(need < sizeof(buf));
	CHECK(strstr(buf, "\"next_after\":10"));
	CHECK(strstr(buf, "\"definite\":10"));
	CHECK(!strstr(buf, "{\"id\":6,"));
	CHECK(strstr(buf, "{\"id\":7,"));
	snprintf(path, sizeof(path), "%s/verdicts.json", dir);
	CHECK(write_file(path, buf) == 0);
	CHECK_INT(json_ok(path, false, 1), 0);
	need = lock_view_verdicts(view, 8, 1, buf, sizeof(buf));
	CHECK(strstr(buf, "{\"verdicts\":[{\"id\":9,"));
	CHECK(strstr(buf, "\"next_after\":9"));

	need = lock_view_verdict(view, 9, buf, sizeof(buf));
	CHECK(need != (size_t)-1 && !strncmp(buf, "{\"id\":9,", 8));
	errno = 0;
	CHECK(lock_view_verdict(view, 3, buf, sizeof(buf)) == (size_t)-1 &&
	      errno == ENOENT);
	/* a short buffer: NUL-terminated, and the needed length returned */
	need = lock_view_verdict(view, 9, buf, 10);
	CHECK(need > 10 && strlen(buf) == 9);
	need = lock_view_counters(view, buf, sizeof(buf));
	CHECK(strstr(buf, "\"definite\":10,"));
out:
	lock_engine_destroy(e);
}

/* the [lock] section builds engine, log, hook and view in one call */
static void test_setup(void)
{
	static const char *const f_lock[] = { "res", "holder" };
	char text[2048], path[512], log[512], err[256], buf[4096];
	struct lock_setup ls = { 0 };
	struct config *cfg = NULL;
	struct consumer *c;
	FILE *f;

	snprintf(log, sizeof(log), "%s/setup.jsonl", dir);
	snprintf(text, sizeof(text),
		 "[lock]\nadapters = user\nverdict_log = %s\n"
		 "exec = cat > %s/setup-hook.json\nexec_classes = definite\n"
		 "recent_verdicts = 8\n"
		 "[lock_user a]\nevent = t:acq\nname_field = res\n"
		 "holder_field = holder\n"
		 "[lock_user r]\nevent = t:rel\naction = release\n"
		 "name_field = res\nholder_field = holder\n",
		 log, dir);
	snprintf(path, sizeof(path), "%s/setup.conf", dir);
	f = fopen(path, "w");
	REQUIRE(f);
	fputs(text, f);
	fclose(f);
	cfg = config_create(lock_config_sections, lock_config_options);
	REQUIRE(cfg);
	REQUIRE(config_read(cfg, path) == 0);
	if (!CHECK(lock_setup_create(&ls, cfg, NULL, err, sizeof(err)) == 0))
		fprintf(stderr, "  %s\n", err);
	REQUIRE(ls.engine && ls.view && ls.exec);
	th_type_init(&t_a, "t", "acq", "si", f_lock);
	th_type_init(&t_r, "t", "rel", "si", f_lock);
	c = lock_engine_consumer(ls.engine);
	{
		struct evpack_value v1[] = { th_str("x"), th_int(1) };
		struct evpack_value v2[] = { th_str("x"), th_int(2) };

		th_send(c, &nodes[0], &t_a, 100 * US, US, v1);
		th_send(c, &nodes[1], &t_a, 200 * US, US, v2);
		th_send(c, &nodes[0], &t_r, 300 * US, US, v1);
		th_send(c, &nodes[1], &t_r, 400 * US, US, v2);
		c->ops->watermark(c, 100000 * US);
	}
	lock_view_counters(ls.view, buf, sizeof(buf));
	CHECK(strstr(buf, "\"definite\":1,"));
	CHECK_INT(json_ok(log, true, 1), 0);
	for (int i = 0; i < 100; i++) {
		struct lock_exec_stats xs;
		struct timespec ts = { 0, 20000000 };

		lock_exec_poll(ls.exec);
		lock_exec_get_stats(ls.exec, &xs);
		if (!xs.running && !xs.queued)
			break;
		nanosleep(&ts, NULL);
	}
	snprintf(path, sizeof(path), "%s/setup-hook.json", dir);
	CHECK_INT(json_ok(path, true, 1), 0);
out:
	lock_setup_destroy(&ls);
	if (cfg)
		config_destroy(cfg);
}

static void test_log_errors(void)
{
	errno = 0;
	CHECK(!lock_log_create("/nonexistent-dir/x.jsonl") && errno == ENOENT);
	errno = 0;
	CHECK(!lock_exec_create(
		      &(struct lock_exec_conf){ .command = "true" }) &&
	      errno == EINVAL);
}

int main(int argc, char **argv)
{
	snprintf(dir, sizeof(dir), "/tmp/netrv-lock-react-%d", (int)getpid());
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		return 1;
	}
	th_node_init(&nodes[0], 0, "n0", US);
	th_node_init(&nodes[1], 1, "n1", US);
	test_reactors();
	test_log_errors();
	test_setup();
	sh("rm -rf %s", dir);
	return check_summary(argv[0]);
}
