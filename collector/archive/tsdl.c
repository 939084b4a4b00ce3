// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tsdl.c - writes the TSDL metadata that declares netrv's record layouts
 * (ctf.h) so that babeltrace2 and Trace Compass can decode the packets.
 *
 * Names that come from agents (node names, event and field names) are
 * untrusted: in TSDL they are reduced to safe characters, and the exact
 * bytes travel hex-encoded in netrv comment lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tsdl.h"

static int __attribute__((format(printf, 2, 3)))
out(struct bytebuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || bytebuf_reserve(b, (size_t)n + 1))
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static int out_hex(struct bytebuf *b, const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (bytebuf_reserve(b, len * 2))
		return -1;
	for (i = 0; i < len; i++) {
		b->data[b->len++] = digits[p[i] >> 4];
		b->data[b->len++] = digits[p[i] & 15];
	}
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tsdl_hex_decode(const char *s, size_t n, uint8_t *out)
{
	size_t i;

	if (n % 2)
		return -1;
	for (i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* A string literal's content: printable ASCII but quote and backslash. */
static int out_label(struct bytebuf *b, const char *s)
{
	if (bytebuf_reserve(b, strlen(s)))
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		b->data[b->len++] =
			(c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ?
				(char)c :
				'_';
	}
	return 0;
}

/*
 * A field identifier: "_" + name in [A-Za-z0-9_].  The leading underscore
 * keeps TSDL keywords ("type", "id", ...) usable; CTF readers drop it.
 * @i disambiguates names that clash or are empty after sanitising.
 */
static int out_ident(struct bytebuf *b, const Netrv__EventType *t, size_t i,
		     const char *suffix)
{
	const char *s = t->fields[i]->name;
	size_t j, start = b->len;
	bool clash = !*s;

	if (out(b, "_"))
		return -1;
	if (bytebuf_reserve(b, strlen(s)))
		return -1;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_')) {
			c = '_';
			clash = true; /* sanitised names may collide */
		}
		b->data[b->len++] = c;
	}
	for (j = 0; j < i && !clash; j++)
		clash = !strcmp(t->fields[j]->name, t->fields[i]->name);
	if (clash && out(b, "_%zu", i))
		return -1;
	(void)start;
	return out(b, "%s", suffix);
}

enum ctf_store tsdl_store(const Netrv__Field *f)
{
	if (f->kind == NETRV__FIELD_KIND__FIELD_STRING)
		return CTF_STR;
	if (f->kind != NETRV__FIELD_KIND__FIELD_INT)
		return CTF_BYTES;
	switch (f->size) {
	case 1:
		return f->is_signed ? CTF_S8 : CTF_U8;
	case 2:
		return f->is_signed ? CTF_S16 : CTF_U16;
	case 4:
		return f->is_signed ? CTF_S32 : CTF_U32;
	default: /* 8, and odd sizes widened to what evpack_value holds */
		return f->is_signed ? CTF_S64 : CTF_U64;
	}
}

unsigned int tsdl_store_size(enum ctf_store s)
{
	static const unsigned int size[] = {
		[CTF_U8] = 1,  [CTF_U16] = 2,	[CTF_U32] = 4, [CTF_U64] = 8,
		[CTF_S8] = 1,  [CTF_S16] = 2,	[CTF_S32] = 4, [CTF_S64] = 8,
		[CTF_STR] = 0, [CTF_BYTES] = 0,
	};

	return size[s];
}

static const char *const int_alias[] = {
	[CTF_U8] = "uint8_t",	[CTF_U16] = "uint16_t", [CTF_U32] = "uint32_t",
	[CTF_U64] = "uint64_t", [CTF_S8] = "int8_t",	[CTF_S16] = "int16_t",
	[CTF_S32] = "int32_t",	[CTF_S64] = "int64_t",
};

int tsdl_preamble(struct bytebuf *b, const uint8_t u[16], unsigned int chunk)
{
	static const char *const ints[] = { "uint8_t", "uint16_t", "uint32_t",
					    "uint64_t" };
	char uuid[37];
	int i;

	snprintf(uuid, sizeof(uuid),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	if (out(b,
		"/* CTF 1.8 */\n\n"
		"/* netrv merged cluster trace, chunk %u: see "
		"collector/archive/README.md */\n\n",
		chunk))
		return -1;
	for (i = 0; i < 4; i++) {
		if (out(b,
			"typealias integer { size = %d; align = 8; "
			"signed = false; } := %s;\n"
			"typealias integer { size = %d; align = 8; "
			"signed = true; } := %s;\n",
			8 << i, ints[i], 8 << i, ints[i] + 1))
			return -1;
	}
	return out(
		b,
		"typealias integer { size = 8; align = 8; signed = false; "
		"encoding = UTF8; } := utf8_t;\n\n"
		"trace {\n"
		"\tmajor = 1;\n\tminor = 8;\n"
		"\tuuid = \"%s\";\n"
		"\tbyte_order = le;\n"
		"\tpacket.header := struct {\n"
		"\t\tuint32_t magic;\n"
		"\t\tuint8_t uuid[16];\n"
		"\t\tuint32_t stream_id;\n"
		"\t\tuint32_t stream_instance_id;\n"
		"\t};\n"
		"};\n\n"
		"env {\n"
		"\tdomain = \"netrv\";\n"
		"\ttracer_name = \"netrv\";\n"
		"\ttracer_major = 0;\n\ttracer_minor = 1;\n"
		"\thostname = \"netrv-collector\";\n"
		"\tnetrv_chunk = %u;\n"
		"};\n\n"
		"clock {\n"
		"\tname = \"tai\";\n"
		"\tuuid = \"%s\";\n"
		"\tdescription = \"TAI in ns (CLOCK_TAI)\";\n"
		"\tfreq = 1000000000;\n"
		"\tprecision = 1;\n"
		"\toffset_s = 0;\n\toffset = 0;\n"
		"\tabsolute = TRUE;\n"
		"};\n\n"
		"typealias integer { size = 64; align = 8; signed = false; "
		"map = clock.tai.value; } := tai_t;\n\n"
		"struct netrv_packet_context {\n"
		"\ttai_t timestamp_begin;\n"
		"\ttai_t timestamp_end;\n"
		"\tuint64_t content_size;\n"
		"\tuint64_t packet_size;\n"
		"\tuint64_t packet_seq_num;\n"
		"};\n\n"
		"struct netrv_event_header {\n"
		"\tuint16_t id;\n"
		"\ttai_t timestamp;\n"
		"};\n\n"
		"/* Verdicts, clock-bound violations, node states, losses. */\n"
		"stream {\n"
		"\tid = %u;\n"
		"\tpacket.context := struct netrv_packet_context;\n"
		"\tevent.header := struct netrv_event_header;\n"
		"\tevent.context := struct { uint16_t tie; };\n"
		"};\n\n"
		"event {\n\tstream_id = 0;\n\tid = %d;\n"
		"\tname = \"netrv:verdict\";\n"
		"\tfields := struct {\n"
		"\t\tuint64_t tai_ns;\n"
		"\t\tuint32_t _class__len;\n\t\tutf8_t _class[_class__len];\n"
		"\t\tuint32_t _resource__len;\n"
		"\t\tuint8_t _resource[_resource__len];\n"
		"\t\tuint32_t _json__len;\n\t\tutf8_t _json[_json__len];\n"
		"\t};\n};\n\n"
		"event {\n\tstream_id = 0;\n\tid = %d;\n"
		"\tname = \"netrv:clock_violation\";\n"
		"\tfields := struct {\n"
		"\t\tuint64_t tai_ns;\n"
		"\t\tuint32_t _node;\n"
		"\t\tuint32_t _json__len;\n\t\tutf8_t _json[_json__len];\n"
		"\t};\n};\n\n"
		"event {\n\tstream_id = 0;\n\tid = %d;\n"
		"\tname = \"netrv:node_state\";\n"
		"\tfields := struct {\n"
		"\t\tuint64_t tai_ns;\n"
		"\t\tuint32_t _node;\n"
		"\t\tenum : uint8_t { up = 0, unreachable = 1 } state;\n"
		"\t};\n};\n\n"
		"event {\n\tstream_id = 0;\n\tid = %d;\n"
		"\tname = \"netrv:loss\";\n"
		"\tfields := struct {\n"
		"\t\tuint32_t _node;\n"
		"\t\tuint64_t from_tai_ns;\n"
		"\t\tuint64_t to_tai_ns;\n"
		"\t\tuint64_t count;\n"
		"\t};\n};\n\n"
		"event {\n\tstream_id = 0;\n\tid = %d;\n"
		"\tname = \"netrv:watermark\";\n"
		"\tfields := struct { uint64_t tai_ns; };\n"
		"};\n" CTF_META_COMMIT,
		uuid, chunk, CTF_CLOCK_UUID, CTF_STREAM_NETRV, CTF_EV_VERDICT,
		CTF_EV_CLOCK_VIOLATION, CTF_EV_NODE_STATE, CTF_EV_LOSS,
		CTF_EV_WATERMARK);
}

int tsdl_node(struct bytebuf *b, uint32_t index, const char *name)
{
	uint32_t sid = index + 1;

	if (out(b, "\n" CTF_META_NODE " %u %u ", sid, index) ||
	    out_hex(b, (const uint8_t *)name, strlen(name)) ||
	    out(b,
		" */\nstream {\n\tid = %u;\n"
		"\tpacket.context := struct netrv_packet_context;\n"
		"\tevent.header := struct netrv_event_header;\n"
		"\tevent.context := struct {\n"
		"\t\tenum : uint16_t { \"",
		sid) ||
	    out_label(b, *name ? name : "?") ||
	    out(b,
		"\" = %u } node;\n"
		"\t\tuint16_t tie;\n"
		"\t\tuint32_t cpu;\n"
		"\t\tuint64_t seq;\n"
		"\t\tuint32_t index;\n"
		"\t\tuint64_t eps_ns;\n"
		"\t};\n"
		"};\n\n"
		"event {\n\tstream_id = %u;\n\tid = %d;\n"
		"\tname = \"netrv:clock\";\n"
		"\tfields := struct {\n"
		"\t\tenum : uint8_t { none = 0, ptp = 1, roundtrip = 2 } "
		"source;\n"
		"\t\tuint8_t synced;\n"
		"\t\tint64_t tai_offset_ns;\n"
		"\t\tuint64_t epsilon_ns;\n"
		"\t\tint64_t master_offset_ns;\n"
		"\t\tint64_t path_delay_ns;\n"
		"\t\tuint32_t port_state;\n"
		"\t\tuint64_t sample_age_ns;\n"
		"\t\tuint32_t _gm_identity__len;\n"
		"\t\tuint8_t _gm_identity[_gm_identity__len];\n"
		"\t\tint64_t trace_offset_ns;\n"
		"\t\tuint64_t clock_domain;\n"
		"\t};\n};\n\n"
		"event {\n\tstream_id = %u;\n\tid = %d;\n"
		"\tname = \"netrv:late\";\n"
		"\tfields := struct { uint64_t tai_ns; };\n"
		"};\n" CTF_META_COMMIT,
		index, sid, CTF_EV_CLOCK, sid, CTF_EV_LATE))
		return -1;
	return 0;
}

int tsdl_type(struct bytebuf *b, uint32_t index, uint16_t event_id,
	      const Netrv__EventType *t, const uint8_t *packed, size_t len)
{
	uint32_t sid = index + 1;
	size_t i;

	if (out(b, "\n" CTF_META_TYPE " %u %u ", sid, event_id) ||
	    out_hex(b, packed, len) ||
	    out(b, " */\nevent {\n\tstream_id = %u;\n\tid = %u;\n\tname = \"",
		sid, event_id) ||
	    out_label(b, t->system) || out(b, ":") || out_label(b, t->name) ||
	    out(b, "\";\n\tfields := struct {\n"))
		return -1;
	for (i = 0; i < t->n_fields; i++) {
		enum ctf_store s = tsdl_store(t->fields[i]);

		if (s == CTF_STR || s == CTF_BYTES) {
			if (out(b, "\t\tuint32_t ") ||
			    out_ident(b, t, i, "__len;\n") ||
			    out(b, "\t\t%s ",
				s == CTF_STR ? "utf8_t" : "uint8_t") ||
			    out_ident(b, t, i, "[") ||
			    out_ident(b, t, i, "__len];\n"))
				return -1;
		} else if (out(b, "\t\t%s ", int_alias[s]) ||
			   out_ident(b, t, i, ";\n")) {
			return -1;
		}
	}
	return out(b, "\t};\n};\n" CTF_META_COMMIT);
}
