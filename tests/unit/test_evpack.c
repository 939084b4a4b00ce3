// SPDX-License-Identifier: GPL-2.0-or-later
/* test_evpack.c - packed field values round-trip and refuse bad input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "evpack.h"

static void test_varints(void)
{
	static const int64_t values[] = {
		0,   1,	  -1,	  63,	     -64,	64,
		127, 128, -65536, INT64_MAX, INT64_MIN, 0x10002
	};
	struct bytebuf b = { 0 };
	struct evpack_reader r;
	int bad = 0;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		evpack_put_s64(&b, values[i]);
		evpack_put_u64(&b, (uint64_t)values[i]);
	}
	r.p = b.data;
	r.end = b.data + b.len;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int64_t s;
		uint64_t u;

		if (evpack_get_s64(&r, &s) || s != values[i])
			bad++;
		if (evpack_get_u64(&r, &u) || u != (uint64_t)values[i])
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK(r.p == r.end);
	/* small values stay small */
	b.len = 0;
	evpack_put_s64(&b, -3);
	evpack_put_u64(&b, 5);
	CHECK_INT(b.len, 2);
	bytebuf_release(&b);
}

static void test_decode_event(void)
{
	Netrv__Field f_id = NETRV__FIELD__INIT, f_st = NETRV__FIELD__INIT,
		     f_name = NETRV__FIELD__INIT;
	Netrv__Field *fields[] = { &f_id, &f_st, &f_name };
	Netrv__EventType t = NETRV__EVENT_TYPE__INIT;
	struct evpack_value v[3];
	struct bytebuf b = { 0 };
	struct evpack_reader r;

	f_id.name = "lkb_id";
	f_st.name = "sb_status";
	f_st.is_signed = 1;
	f_name.name = "res_name";
	f_name.kind = NETRV__FIELD_KIND__FIELD_BYTES;
	t.n_fields = 3;
	t.fields = fields;

	evpack_put_u64(&b, 0xdeadbeef);
	evpack_put_s64(&b, -0x10002);
	evpack_put_bytes(&b, "res\0x", 5);
	r.p = b.data;
	r.end = b.data + b.len;
	REQUIRE(evpack_decode(&r, &t, v) == 0);
	CHECK(v[0].u == 0xdeadbeef);
	CHECK_INT(v[1].s, -0x10002);
	CHECK_INT(v[2].len, 5);
	CHECK(!memcmp(v[2].bytes, "res\0x", 5));
	CHECK_INT(evpack_field_index(&t, "sb_status"), 1);
	CHECK_INT(evpack_field_index(&t, "nope"), -1);

	/* every truncation is refused, never read past the end */
	for (size_t cut = 0; cut < b.len; cut++) {
		r.p = b.data;
		r.end = b.data + cut;
		CHECK_INT(evpack_decode(&r, &t, v), -1);
		CHECK_INT(errno, EBADMSG);
	}
	/* a length larger than the rest */
	b.len = 0;
	evpack_put_u64(&b, 1);
	evpack_put_s64(&b, 0);
	evpack_put_u64(&b, 1000);
	r.p = b.data;
	r.end = b.data + b.len;
	CHECK_INT(evpack_decode(&r, &t, v), -1);
	/* an endless varint */
	memset(b.data, 0xff, 11);
	r.p = b.data;
	r.end = b.data + 11;
	CHECK_INT(evpack_decode(&r, &t, v), -1);
out:
	bytebuf_release(&b);
}

int main(int argc, char **argv)
{
	test_varints();
	test_decode_event();
	return check_summary("test_evpack");
}
