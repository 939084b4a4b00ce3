// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * react_log.c - the verdict log: one JSON object per line, appended.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_SUBSYS "lock"
#include "log.h"
#include "lock_private.h"
#include "lock_reactor.h"

struct lock_log {
	struct verdict_sink sink;
	int fd;
	char *path;
	uint64_t errors;
};

static void log_emit(struct verdict_sink *s, const struct verdict *v,
		     const char *json, size_t len)
{
	struct lock_log *l = container_of(s, struct lock_log, sink);
	struct iovec iov[2] = { { (void *)json, len }, { "\n", 1 } };
	ssize_t n = writev(l->fd, iov, 2);

	if (n == (ssize_t)len + 1)
		return;
	/* a short append is rare (disk full); say so once in a while */
	if (l->errors++ % 1000 == 0)
		pr_err("verdict log %s: verdict %llu not written (%s); %llu lost so far: free space or fix the path",
		       l->path, (unsigned long long)v->id,
		       n < 0 ? strerror(errno) : "short write",
		       (unsigned long long)l->errors);
}

static void log_destroy(struct verdict_sink *s)
{
	struct lock_log *l = container_of(s, struct lock_log, sink);

	close(l->fd);
	free(l->path);
	free(l);
}

struct verdict_sink *lock_log_create(const char *path)
{
	struct lock_log *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		int err = errno;

		pr_err("verdict log %s: %m: check the directory exists and is writable",
		       path);
		free(l);
		errno = err;
		return NULL;
	}
	l->path = strdup(path);
	l->sink.emit = log_emit;
	l->sink.destroy = log_destroy;
	return &l->sink;
}
