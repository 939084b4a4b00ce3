// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * schema.c - describe the traced events so the collector needs no kernel
 * knowledge, and pack records by that description.
 *
 * A kernel event's fields come from its format file (via libtraceevent):
 * fixed integers, fixed arrays (char arrays are strings), and dynamic
 * arrays (__data_loc / __rel_loc: a u32 holding length << 16 | offset).
 * Every type starts with common_pid; the other common_* fields are left out.
 * Marker types (trace_marker_raw records) get their fields from the config
 * (marker.c) and are packed by the same code, with offsets past the id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <traceevent/event-parse.h>

#define LOG_SUBSYS "schema"
#include "agent.h"
#include "colpack.h"
#include "log.h"

#define RAW_DATA_PAYLOAD 12 /* common fields (8) + u32 id */

static void field_pb(Netrv__Field *pb, const char *name, const char *type,
		     const struct schema_field *f, uint32_t elem)
{
	netrv__field__init(pb);
	pb->name = strdup(name);
	pb->type = strdup(type);
	pb->kind = f->kind;
	pb->size = f->size;
	pb->is_signed = f->is_signed;
	pb->is_dynamic = f->dynamic;
	pb->elem_size = elem;
}

static bool int_size(uint32_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/*
 * libtraceevent calls every __data_loc array a string; DLM's
 * "__data_loc __u8[] res_name" is binary and may hold NULs.  A string is
 * an array of plain char.
 */
static bool char_array(const char *type)
{
	if (!strncmp(type, "__data_loc ", 11))
		type += 11;
	else if (!strncmp(type, "__rel_loc ", 10))
		type += 10;
	if (!strncmp(type, "const ", 6))
		type += 6;
	return !strncmp(type, "char", 4) && (type[4] == ' ' || type[4] == '[');
}

static int add_tep_field(struct schema_type *t, struct tep_format_field *ff)
{
	struct schema_field *f = &t->fields[t->n_fields];
	uint32_t elem = 0;

	memset(f, 0, sizeof(*f));
	f->off = ff->offset;
	f->size = ff->size;
	f->is_signed = ff->flags & TEP_FIELD_IS_SIGNED;
	f->dynamic = ff->flags & (TEP_FIELD_IS_DYNAMIC | TEP_FIELD_IS_RELATIVE);
	f->relative = ff->flags & TEP_FIELD_IS_RELATIVE;
	if (f->dynamic || (ff->flags & TEP_FIELD_IS_ARRAY)) {
		f->kind = char_array(ff->type) ?
				  NETRV__FIELD_KIND__FIELD_STRING :
				  NETRV__FIELD_KIND__FIELD_BYTES;
		elem = ff->elementsize ? ff->elementsize : 1;
		f->is_signed = false;
	} else if (int_size(f->size)) {
		f->kind = NETRV__FIELD_KIND__FIELD_INT;
	} else {
		f->kind = NETRV__FIELD_KIND__FIELD_BYTES;
		elem = 1;
	}
	t->pb.fields[t->n_fields] = calloc(1, sizeof(Netrv__Field));
	if (!t->pb.fields[t->n_fields])
		return -1;
	field_pb(t->pb.fields[t->n_fields], ff->name, ff->type, f, elem);
	t->n_fields++;
	t->pb.n_fields = t->n_fields;
	return 0;
}

static int add_tep_type(struct schema *s, struct tep_handle *tep,
			const char *spec)
{
	char sys[128], *name;
	struct tep_event *ev;
	struct tep_format_field *ff;
	struct schema_type *t = &s->types[s->n_types];
	int n = 1;

	snprintf(sys, sizeof(sys), "%s", spec);
	name = strchr(sys, ':');
	if (!name) {
		pr_err("event '%s' is not \"system:name\"", spec);
		return -1;
	}
	*name++ = '\0';
	ev = tep_find_event_by_name(tep, sys, name);
	if (!ev) {
		pr_err("no event %s:%s in this kernel (see /sys/kernel/tracing/available_events)",
		       sys, name);
		return -1;
	}
	for (ff = ev->format.fields; ff; ff = ff->next)
		n++;
	memset(t, 0, sizeof(*t));
	t->src = SCHEMA_SRC_TEP;
	t->id = s->n_types;
	t->kernel_id = ev->id;
	t->fields = calloc(n, sizeof(*t->fields));
	netrv__event_type__init(&t->pb);
	t->pb.id = t->id;
	t->pb.system = strdup(sys);
	t->pb.name = strdup(name);
	t->pb.fields = calloc(n, sizeof(*t->pb.fields));
	s->n_types++;
	if (!t->fields || !t->pb.fields || !t->pb.system || !t->pb.name)
		return -1;
	ff = tep_find_common_field(ev, "common_pid");
	if (!ff || add_tep_field(t, ff))
		return -1;
	for (ff = ev->format.fields; ff; ff = ff->next)
		if (add_tep_field(t, ff))
			return -1;
	if (ev->id >= 0 && ev->id < 65536)
		s->by_kernel_id[ev->id] = (int16_t)t->id;
	return 0;
}

static int add_marker_type(struct schema *s, struct tep_handle *tep,
			   const struct config_section *sec)
{
	struct schema_type *t = &s->types[s->n_types];
	struct tep_event *raw =
		tep_find_event_by_name(tep, "ftrace", "raw_data");
	struct schema_field *mf;
	Netrv__Field **mpb;
	char err[256];
	int n;

	if (!raw) {
		pr_err("marker %s: no ftrace:raw_data event in this kernel",
		       config_section_name(sec));
		return -1;
	}
	if (!config_is_set(sec, "id") || !config_get_string(sec, "fields")) {
		pr_err("[marker %s] needs 'id' and 'fields'",
		       config_section_name(sec));
		return -1;
	}
	n = marker_parse_fields(config_get_string(sec, "fields"), &mf, &mpb,
				err, sizeof(err));
	if (n < 0) {
		pr_err("[marker %s] fields: %s", config_section_name(sec), err);
		return -1;
	}
	memset(t, 0, sizeof(*t));
	t->src = SCHEMA_SRC_MARKER;
	t->id = s->n_types;
	t->kernel_id = (int)config_get_int(sec, "id");
	t->fields = calloc(n + 1, sizeof(*t->fields));
	netrv__event_type__init(&t->pb);
	t->pb.id = t->id;
	t->pb.system = strdup("marker");
	t->pb.name = strdup(config_section_name(sec));
	t->pb.fields = calloc(n + 1, sizeof(*t->pb.fields));
	s->n_types++;
	if (!t->fields || !t->pb.fields || !t->pb.system || !t->pb.name) {
		free(mf);
		for (int i = 0; i < n; i++) {
			free(mpb[i]->name);
			free(mpb[i]->type);
			free(mpb[i]);
		}
		free(mpb);
		return -1;
	}
	if (add_tep_field(t, tep_find_common_field(raw, "common_pid")))
		return -1;
	for (int i = 0; i < n; i++) {
		t->fields[t->n_fields] = mf[i];
		t->fields[t->n_fields].off += RAW_DATA_PAYLOAD;
		t->pb.fields[t->n_fields++] = mpb[i];
	}
	t->pb.n_fields = t->n_fields;
	free(mf);
	free(mpb);
	s->raw_data_id = raw->id;
	return 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ? h : 1;
}

struct schema *schema_create(struct tep_handle *tep, char *const *events,
			     int n_events, const struct config *cfg)
{
	struct schema *s = calloc(1, sizeof(*s));
	const struct config_section *sec;
	unsigned int n_markers = 0;
	uint8_t *buf;
	size_t len;

	while (config_section(cfg, "marker", n_markers))
		n_markers++;
	if (!s)
		return NULL;
	netrv__schema__init(&s->pb);
	s->raw_data_id = -1;
	s->types = calloc(n_events + n_markers + 1, sizeof(*s->types));
	s->by_kernel_id = malloc(65536 * sizeof(*s->by_kernel_id));
	s->pb.types = calloc(n_events + n_markers + 1, sizeof(*s->pb.types));
	if (!s->types || !s->by_kernel_id || !s->pb.types)
		goto fail;
	memset(s->by_kernel_id, 0xff, 65536 * sizeof(*s->by_kernel_id));
	for (int i = 0; i < n_events; i++)
		if (add_tep_type(s, tep, events[i]))
			goto fail;
	for (unsigned int i = 0; (sec = config_section(cfg, "marker", i)); i++)
		if (add_marker_type(s, tep, sec))
			goto fail;
	/* pb.types has room for every type: add_* added at most that many */
	for (uint32_t i = 0; i < s->n_types; i++)
		s->pb.types[i] = &s->types[i].pb;
	s->pb.n_types = s->n_types;
	len = netrv__schema__get_packed_size(&s->pb);
	buf = malloc(len ? len : 1);
	if (!buf)
		goto fail;
	netrv__schema__pack(&s->pb, buf);
	s->id = fnv1a(buf, len);
	s->pb.schema_id = s->id;
	free(buf);
	return s;
fail:
	schema_destroy(s);
	return NULL;
}

void schema_destroy(struct schema *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; s->types && i < s->n_types; i++) {
		struct schema_type *t = &s->types[i];

		for (uint32_t j = 0; t->pb.fields && j < t->pb.n_fields; j++) {
			free(t->pb.fields[j]->name);
			free(t->pb.fields[j]->type);
			free(t->pb.fields[j]);
		}
		free(t->pb.fields);
		free(t->pb.system);
		free(t->pb.name);
		free(t->fields);
	}
	free(s->types);
	free(s->pb.types);
	free(s->by_kernel_id);
	free(s);
}

static uint64_t load_uint(const uint8_t *p, uint32_t size)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (size) {
	case 1:
		memcpy(&u8, p, 1);
		return u8;
	case 2:
		memcpy(&u16, p, 2);
		return u16;
	case 4:
		memcpy(&u32, p, 4);
		return u32;
	default:
		memcpy(&u64, p, 8);
		return u64;
	}
}

static int64_t sign_extend(uint64_t v, uint32_t size)
{
	unsigned int shift = 64 - 8 * size;

	return (int64_t)(v << shift) >> shift;
}

/*
 * Field @f of record @rec (@len bytes): an integer in *v, or bytes at *p,
 * *n long.  Return: false if the record is too short for it (the value is
 * then 0 or what is there).
 */
static inline bool field_value(const struct schema_field *f, const uint8_t *rec,
			       uint32_t len, uint64_t *v, const uint8_t **p,
			       uint32_t *n)
{
	bool ok = true;

	if (f->kind == NETRV__FIELD_KIND__FIELD_INT) {
		*v = 0;
		if (f->off + f->size <= len)
			*v = load_uint(rec + f->off, f->size);
		else
			ok = false;
		if (f->is_signed)
			*v = (uint64_t)sign_extend(*v, f->size);
		return ok;
	}
	*p = rec;
	*n = 0;
	if (f->dynamic) {
		uint32_t loc = 0, off;

		if (f->off + 4 <= len)
			loc = (uint32_t)load_uint(rec + f->off, 4);
		off = (loc & 0xffff) + (f->relative ? f->off + 4 : 0);
		*n = loc >> 16;
		if (off > len || *n > len - off) {
			ok = false;
			*n = 0;
			off = 0;
		}
		*p = rec + off;
	} else if (f->off <= len) {
		*p = rec + f->off;
		*n = f->size ? f->size : len - f->off;
		if (*n > len - f->off) {
			ok = false;
			*n = len - f->off;
		}
	} else {
		ok = false;
	}
	if (f->kind == NETRV__FIELD_KIND__FIELD_STRING)
		*n = (uint32_t)strnlen((const char *)*p, *n);
	return ok;
}

int schema_pack_event(const struct schema_type *t, const uint8_t *rec,
		      uint32_t len, struct bytebuf *out)
{
	bool short_rec = false;

	for (uint32_t i = 0; i < t->n_fields; i++) {
		const struct schema_field *f = &t->fields[i];
		const uint8_t *p;
		uint64_t v;
		uint32_t n;
		int ret;

		short_rec |= !field_value(f, rec, len, &v, &p, &n);
		if (f->kind != NETRV__FIELD_KIND__FIELD_INT)
			ret = evpack_put_bytes(out, p, n);
		else if (f->is_signed)
			ret = evpack_put_s64(out, (int64_t)v);
		else
			ret = evpack_put_u64(out, v);
		if (ret)
			return -1;
	}
	if (short_rec) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int schema_pack_columns(const struct schema_type *t, const uint8_t *rec,
			uint32_t len, struct colpack *c)
{
	bool short_rec = false;

	for (uint32_t i = 0; i < t->n_fields; i++) {
		const struct schema_field *f = &t->fields[i];
		const uint8_t *p;
		uint64_t v;
		uint32_t n;
		int ret;

		short_rec |= !field_value(f, rec, len, &v, &p, &n);
		if (f->kind == NETRV__FIELD_KIND__FIELD_INT)
			ret = colpack_put_int(c, t->id, i, v);
		else
			ret = colpack_put_bytes(c, t->id, i, p, n);
		if (ret)
			return -1;
	}
	if (short_rec) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}
