// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_flock_trace.c - the flock model and binding against the real
 * filelock:flock_lock_inode tracepoint of this kernel (needs root and
 * tracefs; ctest label "root").
 *
 * A private tracefs instance records this process's flock(2) calls on a
 * temporary file; the records are turned into merged events the way the
 * agent and collector do (fields in format order, common_pid kept, numbers
 * sign-extended when the format says signed) and fed to the automata
 * consumer one by one, checking the instance's state after each.  This
 * proves the binding's field names, types and values match the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <tracefs.h>

#include "check.h"
#include "consumer.h"

#define MAX_EVENTS 64
#define MAX_FIELDS 24

struct rec {
	int64_t vals[MAX_FIELDS];
};

static Netrv__EventType type;
static Netrv__Field fields[MAX_FIELDS], *fieldp[MAX_FIELDS];
static struct tep_format_field *tep_fields[MAX_FIELDS];
static struct rec recs[MAX_EVENTS];
static unsigned int n_recs;

static int build_type(struct tep_event *ev)
{
	struct tep_format_field *pid = tep_find_common_field(ev, "common_pid");
	struct tep_format_field **all = tep_event_fields(ev);
	unsigned int n = 0;

	if (!pid || !all)
		return -1;
	netrv__event_type__init(&type);
	type.system = ev->system;
	type.name = ev->name;
	type.fields = fieldp;
	tep_fields[n++] = pid;
	for (int i = 0; all[i] && n < MAX_FIELDS; i++)
		tep_fields[n++] = all[i];
	free(all);
	for (unsigned int i = 0; i < n; i++) {
		struct tep_format_field *f = tep_fields[i];

		netrv__field__init(&fields[i]);
		fields[i].name = f->name;
		fields[i].size = f->size;
		fields[i].is_signed = !!(f->flags & TEP_FIELD_IS_SIGNED);
		fields[i].kind = f->flags & TEP_FIELD_IS_ARRAY ?
					 NETRV__FIELD_KIND__FIELD_BYTES :
					 NETRV__FIELD_KIND__FIELD_INT;
		fieldp[i] = &fields[i];
	}
	type.n_fields = n;
	return 0;
}

static int on_record(struct tep_event *ev, struct tep_record *r, int cpu,
		     void *arg)
{
	struct rec *out;

	if (strcmp(ev->name, "flock_lock_inode") || n_recs == MAX_EVENTS)
		return 0;
	if (!type.n_fields && build_type(ev))
		return -1;
	out = &recs[n_recs++];
	for (unsigned int i = 0; i < type.n_fields; i++) {
		unsigned long long v = 0;
		struct tep_format_field *f = tep_fields[i];

		if (f->flags & TEP_FIELD_IS_ARRAY)
			continue;
		tep_read_number_field(f, r->data, &v);
		if ((f->flags & TEP_FIELD_IS_SIGNED) && f->size < 8 &&
		    (v & (1ull << (8 * f->size - 1))))
			v |= ~0ull << (8 * f->size);
		out->vals[i] = (int64_t)v;
	}
	return 0;
}

struct seen {
	unsigned int n;
	char event[32];
};

static void on_violation(void *arg, const struct models_violation *v)
{
	struct seen *s = arg;

	s->n++;
	snprintf(s->event, sizeof(s->event), "%s", v->event);
}

static int field(const char *name)
{
	for (unsigned int i = 0; i < type.n_fields; i++)
		if (!strcmp(type.fields[i]->name, name))
			return (int)i;
	return -1;
}

int main(int argc, char **argv)
{
	static const char *const systems[] = { "filelock", NULL };
	/* state after each traced call, "-" for none (forgotten) */
	static const char *const expect[] = {
		"shared", /* fd1 LOCK_SH */
		"shared", /* fd2 LOCK_SH */
		"shared", /* fd1 LOCK_EX|LOCK_NB: -EWOULDBLOCK, no change */
		"shared", /* fd2 LOCK_UN: fd1 still holds */
		"exclusive", /* fd1 LOCK_EX: alone, upgrade */
		"-", /* fd1 LOCK_UN: unlocked, forgotten */
	};
	struct tracefs_instance *inst = NULL;
	struct tep_handle *tep = NULL;
	struct consumer *c = NULL;
	struct seen s = { 0 };
	char name[64], tmpl[] = "/tmp/netrv-flock.XXXXXX", key[96];
	char filter[64], err[512];
	struct cnode node = { .index = 0, .name = "n1" };
	int fd0 = -1, fd1 = -1, fd2 = -1, ino, dev;
	struct models_stats st;

	if (geteuid() != 0) {
		printf("%s: skipped: needs root for tracefs\n", argv[0]);
		return 77;
	}
	snprintf(name, sizeof(name), "netrv_models_%d", (int)getpid());
	inst = tracefs_instance_create(name);
	REQUIRE(inst);
	snprintf(filter, sizeof(filter), "common_pid == %d", (int)getpid());
	REQUIRE(tracefs_event_file_write(inst, "filelock", "flock_lock_inode",
					 "filter", filter) >= 0);
	REQUIRE(!tracefs_event_enable(inst, "filelock", "flock_lock_inode"));

	fd0 = mkstemp(tmpl);
	REQUIRE(fd0 >= 0);
	fd1 = open(tmpl, O_RDONLY);
	fd2 = open(tmpl, O_RDONLY);
	REQUIRE(fd1 >= 0 && fd2 >= 0);
	CHECK(!flock(fd1, LOCK_SH));
	CHECK(!flock(fd2, LOCK_SH));
	CHECK(flock(fd1, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK);
	CHECK(!flock(fd2, LOCK_UN));
	CHECK(!flock(fd1, LOCK_EX));
	CHECK(!flock(fd1, LOCK_UN));
	tracefs_event_disable(inst, "filelock", "flock_lock_inode");

	tep = tracefs_local_events_system(NULL, systems);
	REQUIRE(tep);
	REQUIRE(!tracefs_iterate_raw_events(tep, inst, NULL, 0, on_record,
					    NULL));
	CHECK_INT(n_recs, 6);
	REQUIRE(n_recs == 6);

	c = models_consumer_create(on_violation, &s);
	REQUIRE(c);
	REQUIRE(!models_consumer_add(c, MODELS_DIR "/flock.dot", NULL, err,
				     sizeof(err)));
	ino = field("i_ino");
	dev = field("s_dev");
	REQUIRE(ino >= 0 && dev >= 0);
	snprintf(key, sizeof(key), "s_dev=%lld i_ino=%lld",
		 (long long)recs[0].vals[dev], (long long)recs[0].vals[ino]);
	for (unsigned int i = 0; i < n_recs; i++) {
		struct evpack_value vals[MAX_FIELDS] = { 0 };
		struct cevent ev = { 0 };
		const char *state;

		for (unsigned int k = 0; k < type.n_fields; k++)
			vals[k].s = recs[i].vals[k];
		ev.node = &node;
		ev.type = &type;
		ev.vals = vals;
		c->ops->event(c, &ev);
		state = models_consumer_state(c, "flock", key);
		if (!CHECK(!strcmp(state ? state : "-", expect[i])))
			fprintf(stderr, "  after event %u: %s, expected %s\n",
				i, state ? state : "-", expect[i]);
	}
	CHECK_INT(s.n, 0);
	REQUIRE(!models_consumer_stats(c, "flock", &st));
	CHECK_INT(st.events, 6);
	CHECK_INT(st.instances, 0);
out:
	if (c)
		c->ops->destroy(c);
	if (tep)
		tep_free(tep);
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
	if (fd0 >= 0) {
		close(fd0);
		unlink(tmpl);
	}
	if (inst) {
		tracefs_instance_destroy(inst);
		tracefs_instance_free(inst);
	}
	return check_summary(argv[0]);
}
