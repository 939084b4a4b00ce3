// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * scope.c - which tasks the instance records.
 *
 * host: everything.  netns: only tasks (threads included) whose network
 * namespace is the agent's own; the instance's set_event_pid is rewritten
 * from /proc at every refresh and options/event-fork adds their children
 * in between.  This is how several "nodes" in network namespaces share one
 * kernel.  A task that enters the namespace with setns() is seen from the
 * next refresh on.  pids: a fixed list (and children).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tracefs/tracefs.h>

#define LOG_SUBSYS "scope"
#include "agent.h"
#include "log.h"

static bool same_netns(const char *pid, const struct stat *self)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	return !stat(path, &st) && st.st_ino == self->st_ino &&
	       st.st_dev == self->st_dev;
}

static int add_tasks(const char *pid, struct bytebuf *list)
{
	char path[300];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	d = opendir(path);
	if (!d)
		return 0; /* gone meanwhile */
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (bytebuf_reserve(list, n + 1)) {
			closedir(d);
			return -1;
		}
		memcpy(list->data + list->len, de->d_name, n);
		list->data[list->len + n] = ' ';
		list->len += n + 1;
	}
	closedir(d);
	return 0;
}

static int netns_pids(struct bytebuf *list)
{
	struct stat self;
	struct dirent *de;
	DIR *d;

	if (stat("/proc/self/ns/net", &self))
		return -1;
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]) ||
		    !same_netns(de->d_name, &self))
			continue;
		if (add_tasks(de->d_name, list)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int scope_apply(struct tracefs_instance *inst, enum scope_mode mode,
		const char *pids)
{
	struct bytebuf list = { 0 };
	int ret = -1;

	if (mode == SCOPE_HOST) {
		tracefs_option_disable(inst, TRACEFS_OPTION_EVENT_FORK);
		if (tracefs_instance_file_clear(inst, "set_event_pid")) {
			pr_err("cannot clear set_event_pid: %m");
			return -1;
		}
		return 0;
	}
	if (mode == SCOPE_PIDS) {
		if (!pids || !*pids) {
			pr_err("scope = pids needs agent.pids");
			return -1;
		}
		if (bytebuf_reserve(&list, strlen(pids) + 1))
			goto out;
		memcpy(list.data, pids, strlen(pids));
		list.len = strlen(pids);
	} else if (netns_pids(&list)) {
		pr_err("cannot scan /proc for our network namespace: %m");
		goto out;
	}
	if (bytebuf_reserve(&list, 1))
		goto out;
	list.data[list.len] = '\0';
	if (tracefs_option_enable(inst, TRACEFS_OPTION_EVENT_FORK)) {
		pr_err("cannot enable options/event-fork: %m");
		goto out;
	}
	if (tracefs_instance_file_write(inst, "set_event_pid",
					(char *)list.data) < 0) {
		pr_err("cannot write set_event_pid: %m");
		goto out;
	}
	ret = 0;
out:
	bytebuf_release(&list);
	return ret;
}
