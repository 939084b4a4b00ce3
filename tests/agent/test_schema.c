// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_schema.c - Schema from kernel format text (parsed by libtraceevent,
 * as the agent does with tracefs' format files) and packing of records:
 * integers of every size and sign, a fixed char array, a __data_loc byte
 * array with NULs inside (like DLM's res_name), a __rel_loc string,
 * marker layouts from the config, and records shorter than their format.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <traceevent/event-parse.h>

#include "agent.h"
#include "check.h"
#include "log.h"

static const char dlm_format[] =
	"name: dlm_lock_start\n"
	"ID: 999\n"
	"format:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
	"\n"
	"\tfield:__u32 ls_id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:__u32 lkb_id;\toffset:12;\tsize:4;\tsigned:0;\n"
	"\tfield:int mode;\toffset:16;\tsize:4;\tsigned:1;\n"
	"\tfield:short sh;\toffset:20;\tsize:2;\tsigned:1;\n"
	"\tfield:unsigned char u8;\toffset:22;\tsize:1;\tsigned:0;\n"
	"\tfield:__data_loc __u8[] res_name;\toffset:24;\tsize:4;\tsigned:0;\n"
	"\tfield:char comm[16];\toffset:28;\tsize:16;\tsigned:0;\n"
	"\tfield:__rel_loc char[] msg;\toffset:44;\tsize:4;\tsigned:0;\n"
	"\tfield:s64 big;\toffset:48;\tsize:8;\tsigned:1;\n"
	"\n"
	"print fmt: \"ls_id=%u\", REC->ls_id\n";

static const char raw_format[] =
	"name: raw_data\n"
	"ID: 19\n"
	"format:\n"
	"\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
	"\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
	"\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
	"\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
	"\n"
	"\tfield:unsigned int id;\toffset:8;\tsize:4;\tsigned:0;\n"
	"\tfield:char buf[];\toffset:12;\tsize:0;\tsigned:0;\n"
	"\n"
	"print fmt: \"id:%04x\", REC->id\n";

static const uint8_t res[] = { 0x00, 'a', 'b', 0xff, 0x00 };

static size_t dlm_record(uint8_t *r)
{
	uint16_t type = 999;
	int32_t pid = 4242, mode = -5;
	uint32_t ls = 0xdeadbeef, lkb = 7, loc;
	int16_t sh = -300;
	int64_t big = INT64_MIN + 3;

	memset(r, 0, 128);
	memcpy(r, &type, 2);
	memcpy(r + 4, &pid, 4);
	memcpy(r + 8, &ls, 4);
	memcpy(r + 12, &lkb, 4);
	memcpy(r + 16, &mode, 4);
	memcpy(r + 20, &sh, 2);
	r[22] = 200;
	loc = (uint32_t)sizeof(res) << 16 | 56; /* res_name at 56 */
	memcpy(r + 24, &loc, 4);
	memcpy(r + 56, res, sizeof(res));
	strcpy((char *)r + 28, "lockd");
	loc = 6u << 16 | (64 - 48); /* __rel_loc: from the field's end (48) */
	memcpy(r + 44, &loc, 4);
	memcpy(r + 64, "hello", 6);
	memcpy(r + 48, &big, 8);
	return 70;
}

static struct tep_handle *make_tep(void)
{
	struct tep_handle *tep = tep_alloc();

	if (!tep)
		return NULL;
	if (tep_parse_event(tep, dlm_format, sizeof(dlm_format) - 1, "dlm") ||
	    tep_parse_event(tep, raw_format, sizeof(raw_format) - 1,
			    "ftrace")) {
		tep_free(tep);
		return NULL;
	}
	return tep;
}

static void test_kernel_event(void)
{
	struct tep_handle *tep = make_tep();
	struct config *cfg = agent_config_create();
	char *events[] = { "dlm:dlm_lock_start" };
	struct schema *s = NULL;
	struct bytebuf out = { 0 };
	struct evpack_value v[16];
	struct evpack_reader rd;
	const Netrv__EventType *pb;
	uint8_t rec[128];
	size_t len;

	REQUIRE(tep && cfg);
	s = schema_create(tep, events, 1, cfg);
	REQUIRE(s);
	REQUIRE(s->n_types == 1);
	pb = &s->types[0].pb;
	CHECK_STR(pb->system, "dlm");
	CHECK_INT(pb->n_fields, 10); /* common_pid + 9 */
	CHECK_STR(pb->fields[0]->name, "common_pid");
	CHECK_STR(pb->fields[6]->name, "res_name");
	CHECK_INT(pb->fields[6]->kind, NETRV__FIELD_KIND__FIELD_BYTES);
	CHECK(pb->fields[6]->is_dynamic);
	CHECK_INT(pb->fields[7]->kind, NETRV__FIELD_KIND__FIELD_STRING);
	CHECK_INT(pb->fields[7]->size, 16);
	CHECK_INT(pb->fields[8]->kind, NETRV__FIELD_KIND__FIELD_STRING);
	CHECK(pb->fields[8]->is_dynamic);
	CHECK(s->id != 0);
	CHECK_INT(s->by_kernel_id[999], 0);

	len = dlm_record(rec);
	CHECK_INT(schema_pack_event(&s->types[0], rec, len, &out), 0);
	rd.p = out.data;
	rd.end = out.data + out.len;
	REQUIRE(evpack_decode(&rd, pb, v) == 0);
	CHECK(rd.p == rd.end);
	CHECK_INT(v[0].s, 4242);
	CHECK_INT(v[1].u, 0xdeadbeef);
	CHECK_INT(v[2].u, 7);
	CHECK_INT(v[3].s, -5);
	CHECK_INT(v[4].s, -300);
	CHECK_INT(v[5].u, 200);
	CHECK(v[6].len == sizeof(res) && !memcmp(v[6].bytes, res, sizeof(res)));
	CHECK(v[7].len == 5 && !memcmp(v[7].bytes, "lockd", 5));
	CHECK(v[8].len == 5 && !memcmp(v[8].bytes, "hello", 5));
	CHECK(v[9].s == INT64_MIN + 3);

	/* a record cut short: still packed (fields empty), error reported */
	out.len = 0;
	errno = 0;
	CHECK_INT(schema_pack_event(&s->types[0], rec, 30, &out), -1);
	CHECK_INT(errno, EBADMSG);
	rd.p = out.data;
	rd.end = out.data + out.len;
	CHECK(evpack_decode(&rd, pb, v) == 0 && v[6].len == 0 && v[9].s == 0);
out:
	bytebuf_release(&out);
	schema_destroy(s);
	config_destroy(cfg);
	if (tep)
		tep_free(tep);
}

static void test_marker(void)
{
	struct tep_handle *tep = make_tep();
	struct config *cfg = agent_config_create();
	struct schema *s = NULL;
	struct bytebuf out = { 0 };
	struct evpack_value v[8];
	struct evpack_reader rd;
	uint8_t rec[64] = { 0 };
	uint16_t type = 19;
	uint32_t id = 77, node = 3;
	uint64_t lkid = 1ULL << 40;

	REQUIRE(tep && cfg);
	REQUIRE(!config_override(cfg, "marker:dlmlike.id=77"));
	REQUIRE(!config_override(
		cfg,
		"marker:dlmlike.fields=node:u32,mode:s8,lkid:u64,res:str16,"
		"tail:bytes"));
	s = schema_create(tep, NULL, 0, cfg);
	REQUIRE(s);
	CHECK_INT(s->raw_data_id, 19);
	REQUIRE(s->n_types == 1);
	CHECK_STR(s->types[0].pb.system, "marker");
	CHECK_STR(s->types[0].pb.name, "dlmlike");
	memcpy(rec, &type, 2);
	memcpy(rec + 8, &id, 4);
	memcpy(rec + 12, &node, 4);
	rec[16] = (uint8_t)-2;
	memcpy(rec + 17, &lkid, 8);
	strcpy((char *)rec + 25, "res-1");
	memcpy(rec + 41, "\x01\x02\x03", 3);
	CHECK_INT(schema_pack_event(&s->types[0], rec, 44, &out), 0);
	rd.p = out.data;
	rd.end = out.data + out.len;
	REQUIRE(evpack_decode(&rd, &s->types[0].pb, v) == 0);
	CHECK_INT(v[1].u, 3);
	CHECK_INT(v[2].s, -2);
	CHECK(v[3].u == lkid);
	CHECK(v[4].len == 5 && !memcmp(v[4].bytes, "res-1", 5));
	CHECK(v[5].len == 3 && !memcmp(v[5].bytes, "\x01\x02\x03", 3));
out:
	bytebuf_release(&out);
	schema_destroy(s);
	config_destroy(cfg);
	if (tep)
		tep_free(tep);
}

static void test_marker_errors(void)
{
	static const struct {
		const char *spec, *err;
	} bad[] = {
		{ "node", "'node' is not name:type" },
		{ "a:u7", "field a: unknown type 'u7'" },
		{ "a:str,b:u8",
		  "field a: an array without a size must be last" },
		{ "a:bytesX", "field a: bad array size 'X'" },
		{ "", "no fields" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct schema_field *f = NULL;
		Netrv__Field **pb = NULL;
		char err[128] = "";

		CHECK_INT(marker_parse_fields(bad[i].spec, &f, &pb, err,
					      sizeof(err)),
			  -1);
		CHECK_STR(err, bad[i].err);
	}
}

int main(int argc, char **argv)
{
	log_setup("test_schema", LOG_WARNING);
	test_kernel_event();
	test_marker();
	test_marker_errors();
	return check_summary(argv[0]);
}
