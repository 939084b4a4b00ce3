// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * react_exec.c - the exec hook: run a command for each verdict, the JSON on
 * its stdin, without ever making the merge wait.
 *
 * A verdict is written at once into an anonymous memory file (memfd), which
 * becomes the command's stdin: no pipe to keep fed, whatever the command
 * reads or does not read.  Commands start through posix_spawn (vfork: no
 * page-table copy of a large collector), at most max_running at a time and
 * as a token bucket allows (rate per second, burst); verdicts wait in a
 * bounded queue, and when it is full the newest is dropped, counted and
 * logged.  Finished commands are reaped by pid with waitpid(WNOHANG) from
 * lock_exec_poll(): on every verdict, and on SIGCHLD and a 100 ms timer
 * when attached to a libevent base.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"
#include "lock_reactor.h"

extern char **environ;

struct exec_job {
	int fd;
	uint64_t id;
	enum verdict_class cls;
};

struct lock_exec {
	struct verdict_sink sink;
	struct lock_exec_conf conf;
	char *command;
	struct exec_job *q; /* ring */
	unsigned int q_head, q_len;
	pid_t *running;
	unsigned int n_running;
	double tokens;
	struct timespec last;
	struct lock_exec_stats st;
	time_t last_drop_log;
	struct event *sigchld, *timer;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void refill(struct lock_exec *x)
{
	struct timespec ts;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	dt = (double)(ts.tv_sec - x->last.tv_sec) +
	     (double)(ts.tv_nsec - x->last.tv_nsec) / 1e9;
	x->last = ts;
	x->tokens += dt * x->conf.rate;
	if (x->tokens > x->conf.burst)
		x->tokens = x->conf.burst;
}

static void reap(struct lock_exec *x)
{
	for (unsigned int i = 0; i < x->n_running;) {
		int status;
		pid_t p = waitpid(x->running[i], &status, WNOHANG);

		if (p == 0) {
			i++;
			continue;
		}
		if (p > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			x->st.exited_ok++;
		else
			x->st.exited_fail++;
		x->running[i] = x->running[--x->n_running];
	}
}

static int spawn(struct lock_exec *x, const struct exec_job *j)
{
	char *argv[] = { "/bin/sh", "-c", x->command, NULL };
	char id_env[64], cls_env[64];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	size_t n = 0;
	char **env;
	pid_t pid;
	int err;

	while (environ[n])
		n++;
	env = malloc((n + 3) * sizeof(*env));
	if (!env)
		return ENOMEM;
	memcpy(env, environ, n * sizeof(*env));
	snprintf(id_env, sizeof(id_env), "NETRV_VERDICT_ID=%llu",
		 (unsigned long long)j->id);
	snprintf(cls_env, sizeof(cls_env), "NETRV_VERDICT_CLASS=%s",
		 verdict_class_name(j->cls));
	env[n] = id_env;
	env[n + 1] = cls_env;
	env[n + 2] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, j->fd, 0);
	/* the collector's sockets and files are none of its business */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	err = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(env);
	if (err)
		return err;
	x->running[x->n_running++] = pid;
	x->st.started++;
	return 0;
}

void lock_exec_poll(struct lock_exec *x)
{
	reap(x);
	refill(x);
	while (x->q_len && x->n_running < x->conf.max_running &&
	       x->tokens >= 1.0) {
		struct exec_job *j = &x->q[x->q_head];
		int err = spawn(x, j);

		if (err) {
			x->st.spawn_errors++;
			errno = err;
			pr_err("exec hook: cannot run \"%s\" for verdict %llu: %m",
			       x->command, (unsigned long long)j->id);
		}
		close(j->fd);
		x->q_head = (x->q_head + 1) % x->conf.queue;
		x->q_len--;
		x->tokens -= 1.0;
	}
	x->st.queued = x->q_len;
	x->st.running = x->n_running;
}

static void exec_emit(struct verdict_sink *s, const struct verdict *v,
		      const char *json, size_t len)
{
	struct lock_exec *x = container_of(s, struct lock_exec, sink);
	struct exec_job *j;
	int fd;

	if (!((x->conf.classes >> v->cls) & 1))
		return;
	lock_exec_poll(x);
	if (x->q_len == x->conf.queue) {
		time_t t = time(NULL);

		x->st.dropped++;
		if (t != x->last_drop_log) {
			x->last_drop_log = t;
			pr_warning(
				"exec hook: queue full (%u), verdict %llu not run; %llu dropped so far: raise lock.exec_rate or lock.exec_queue",
				x->conf.queue, (unsigned long long)v->id,
				(unsigned long long)x->st.dropped);
		}
		return;
	}
	fd = memfd_create("netrv-verdict", MFD_CLOEXEC);
	if (fd < 0 || write(fd, json, len) != (ssize_t)len ||
	    write(fd, "\n", 1) != 1 || lseek(fd, 0, SEEK_SET) != 0) {
		pr_err("exec hook: cannot stage verdict %llu: %m",
		       (unsigned long long)v->id);
		if (fd >= 0)
			close(fd);
		x->st.dropped++;
		return;
	}
	j = &x->q[(x->q_head + x->q_len) % x->conf.queue];
	*j = (struct exec_job){ .fd = fd, .id = v->id, .cls = v->cls };
	x->q_len++;
	lock_exec_poll(x);
}

static void exec_destroy(struct verdict_sink *s)
{
	struct lock_exec *x = container_of(s, struct lock_exec, sink);
	double end = now_s() + 2.0;

	if (x->sigchld)
		event_free(x->sigchld);
	if (x->timer)
		event_free(x->timer);
	while (x->q_len) {
		close(x->q[x->q_head].fd);
		x->q_head = (x->q_head + 1) % x->conf.queue;
		x->q_len--;
	}
	reap(x);
	while (x->n_running && now_s() < end) {
		struct timespec ts = { 0, 10000000 };

		nanosleep(&ts, NULL);
		reap(x);
	}
	for (unsigned int i = 0; i < x->n_running; i++) {
		pr_warning(
			"exec hook: command %d still running at exit: killed",
			(int)x->running[i]);
		kill(x->running[i], SIGKILL);
		waitpid(x->running[i], NULL, 0);
	}
	free(x->q);
	free(x->running);
	free(x->command);
	free(x);
}

struct lock_exec *lock_exec_create(const struct lock_exec_conf *conf)
{
	struct lock_exec *x;

	if (!conf->command || !conf->rate || !conf->burst || !conf->queue ||
	    !conf->max_running) {
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->conf = *conf;
	x->command = strdup(conf->command);
	x->q = calloc(conf->queue, sizeof(*x->q));
	x->running = calloc(conf->max_running, sizeof(*x->running));
	if (!x->command || !x->q || !x->running) {
		free(x->command);
		free(x->q);
		free(x->running);
		free(x);
		errno = ENOMEM;
		return NULL;
	}
	x->conf.command = x->command;
	x->tokens = conf->burst;
	clock_gettime(CLOCK_MONOTONIC, &x->last);
	x->sink.emit = exec_emit;
	x->sink.destroy = exec_destroy;
	return x;
}

struct verdict_sink *lock_exec_sink(struct lock_exec *x)
{
	return &x->sink;
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
	lock_exec_poll(arg);
}

int lock_exec_attach(struct lock_exec *x, struct event_base *base)
{
	struct timeval tv = { 0, 100000 };

	x->sigchld = evsignal_new(base, SIGCHLD, on_event, x);
	x->timer = event_new(base, -1, EV_PERSIST, on_event, x);
	if (!x->sigchld || !x->timer || event_add(x->sigchld, NULL) < 0 ||
	    event_add(x->timer, &tv) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void lock_exec_get_stats(const struct lock_exec *x, struct lock_exec_stats *st)
{
	*st = x->st;
	st->queued = x->q_len;
	st->running = x->n_running;
}
