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

/* Is @pid (a string of digits) a word of @cur? */
static bool listed(const char *cur, const char *pid, size_t n)
{
	for (const char *p = cur; p && (p = strstr(p, pid)); p += n)
		if ((p == cur || !isdigit((unsigned char)p[-1])) &&
		    !isdigit((unsigned char)p[n]))
			return true;
	return false;
}

static int add_tasks(const char *pid, struct bytebuf *list, const char *cur)
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

		if (!isdigit((unsigned char)de->d_name[0]) ||
		    (cur && listed(cur, de->d_name, n)))
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

static int netns_pids(struct bytebuf *list, const char *cur)
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
		if (add_tasks(de->d_name, list, cur)) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int scope_apply(struct tracefs_instance *inst, enum scope_mode mode,
		const char *pids, bool refresh)
{
	struct bytebuf list = { 0 };
	char *cur = NULL;
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
	} else {
		/*
		 * Truncating set_event_pid lets every task of the machine
		 * through until the new list is written, into an instance
		 * whose events may be on (re-used after a kill): never
		 * truncate, only add the tasks not listed yet (event-fork
		 * removes the ones that exit).  A new instance's list is
		 * empty, and its events are enabled only after this.
		 */
		cur = tracefs_instance_file_read(inst, "set_event_pid", NULL);
		if (netns_pids(&list, cur ? cur : "")) {
			pr_err("cannot scan /proc for our network namespace: %m");
			goto out;
		}
	}
	if (bytebuf_reserve(&list, 1))
		goto out;
	list.data[list.len] = '\0';
	if (!refresh &&
	    tracefs_option_enable(inst, TRACEFS_OPTION_EVENT_FORK)) {
		pr_err("cannot enable options/event-fork: %m");
		goto out;
	}
	if (mode == SCOPE_NETNS) {
		if (list.len &&
		    tracefs_instance_file_append(inst, "set_event_pid",
						 (char *)list.data) < 0) {
			pr_err("cannot add to set_event_pid: %m");
			goto out;
		}
	} else if (tracefs_instance_file_write(inst, "set_event_pid",
					       (char *)list.data) < 0) {
		pr_err("cannot write set_event_pid: %m");
		goto out;
	}
	ret = 0;
out:
	free(cur);
	bytebuf_release(&list);
	return ret;
}
