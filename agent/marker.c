// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * marker.c - the payload layout of trace_marker_raw records, from the config.
 *
 * A writer puts a u32 id and then its payload into the instance's
 * trace_marker_raw in one write(); the kernel records it as ftrace:raw_data.
 * "[marker NAME]" says which id it uses and how its payload is laid out, so
 * its records reach the collector as typed events marker:NAME.  Integers
 * are host-endian and packed without padding.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

struct mtype {
	const char *name;
	Netrv__FieldKind kind;
	uint32_t size;
	bool is_signed;
	const char *ctype;
};

static const struct mtype mtypes[] = {
	{ "u8", NETRV__FIELD_KIND__FIELD_INT, 1, false, "u8" },
	{ "u16", NETRV__FIELD_KIND__FIELD_INT, 2, false, "u16" },
	{ "u32", NETRV__FIELD_KIND__FIELD_INT, 4, false, "u32" },
	{ "u64", NETRV__FIELD_KIND__FIELD_INT, 8, false, "u64" },
	{ "s8", NETRV__FIELD_KIND__FIELD_INT, 1, true, "s8" },
	{ "s16", NETRV__FIELD_KIND__FIELD_INT, 2, true, "s16" },
	{ "s32", NETRV__FIELD_KIND__FIELD_INT, 4, true, "s32" },
	{ "s64", NETRV__FIELD_KIND__FIELD_INT, 8, true, "s64" },
	{ NULL },
};

static int parse_one(char *item, bool last, uint32_t off,
		     struct schema_field *f, Netrv__Field *pb, char *err,
		     size_t errlen)
{
	char *type = strchr(item, ':'), *end, ctype[32];
	unsigned long n = 0;

	if (!type || type == item) {
		snprintf(err, errlen, "'%s' is not name:type", item);
		return -1;
	}
	*type++ = '\0';
	memset(f, 0, sizeof(*f));
	f->off = off;
	for (const struct mtype *m = mtypes; m->name; m++) {
		if (strcmp(type, m->name))
			continue;
		f->kind = m->kind;
		f->size = m->size;
		f->is_signed = m->is_signed;
		snprintf(ctype, sizeof(ctype), "%s", m->ctype);
		goto done;
	}
	if (!strncmp(type, "str", 3)) {
		f->kind = NETRV__FIELD_KIND__FIELD_STRING;
		type += 3;
	} else if (!strncmp(type, "bytes", 5)) {
		f->kind = NETRV__FIELD_KIND__FIELD_BYTES;
		type += 5;
	} else {
		snprintf(err, errlen, "field %s: unknown type '%s'", item,
			 type);
		return -1;
	}
	if (*type) {
		n = strtoul(type, &end, 10);
		if (*end || n == 0 || n > 65535) {
			snprintf(err, errlen, "field %s: bad array size '%s'",
				 item, type);
			return -1;
		}
	} else if (!last) {
		snprintf(err, errlen,
			 "field %s: an array without a size must be last",
			 item);
		return -1;
	}
	f->size = (uint32_t)n;
	snprintf(ctype, sizeof(ctype), "%s[%lu]",
		 f->kind == NETRV__FIELD_KIND__FIELD_STRING ? "char" : "u8", n);
	if (!n)
		snprintf(ctype, sizeof(ctype), "%s[]",
			 f->kind == NETRV__FIELD_KIND__FIELD_STRING ? "char" :
								      "u8");
done:
	netrv__field__init(pb);
	pb->name = strdup(item);
	pb->type = strdup(ctype);
	pb->kind = f->kind;
	pb->size = f->size;
	pb->is_signed = f->is_signed;
	pb->elem_size = f->kind == NETRV__FIELD_KIND__FIELD_INT ? 0 : 1;
	if (!pb->name || !pb->type) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int marker_parse_fields(const char *spec, struct schema_field **fields,
			Netrv__Field ***pb, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *item;
	int n = 0, cap = 1;
	uint32_t off = 0;

	for (const char *c = spec; *c; c++)
		cap += *c == ',';
	*fields = calloc(cap, sizeof(**fields));
	*pb = calloc(cap, sizeof(**pb));
	if (!copy || !*fields || !*pb) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (item = strtok_r(copy, ", \t", &save); item;
	     item = strtok_r(NULL, ", \t", &save)) {
		(*pb)[n] = calloc(1, sizeof(Netrv__Field));
		if (!(*pb)[n]) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		n++;
		if (parse_one(item, save == NULL || !*save, off,
			      &(*fields)[n - 1], (*pb)[n - 1], err, errlen))
			goto fail;
		if ((*fields)[n - 1].size == 0 && save && *save) {
			snprintf(
				err, errlen,
				"field %s: an array without a size must be last",
				item);
			goto fail;
		}
		off += (*fields)[n - 1].size;
	}
	if (!n) {
		snprintf(err, errlen, "no fields");
		goto fail;
	}
	free(copy);
	return n;
fail:
	for (int i = 0; i < n; i++) {
		free((*pb)[i]->name);
		free((*pb)[i]->type);
		free((*pb)[i]);
	}
	free(*pb);
	free(*fields);
	free(copy);
	return -1;
}
