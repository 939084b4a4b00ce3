/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agent.h - the parts of netrv-agent and how they talk to each other.
 *
 * One thread, one libevent loop.  A timer drains the per-CPU ring buffers
 * of the agent's tracefs instance (trace.c); records are parsed by
 * subbuf.c, merged into one local order and packed into Batch messages
 * (encode.c) using the Schema built from the kernel's format files
 * (schema.c).  Every batch is appended to the on-disk spool (spool.c)
 * before the transport (transport.c) sends it; it leaves the spool when the
 * collector acknowledges it.  ptp.c asks ptp4l how good the clock is,
 * scope.c keeps the pid filter current, uprobe.c and marker.c add user-space
 * sources.
 */
#ifndef NETRV_AGENT_H
#define NETRV_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "evpack.h"
#include "netrv.pb-c.h"

struct event_base;
struct tep_handle;
struct tracefs_instance;

/* --- config.c ---------------------------------------------------------- */

/** agent_config_create - the agent's option table with its defaults */
struct config *agent_config_create(void);

/* --- schema.c ---------------------------------------------------------- */

enum schema_src {
	SCHEMA_SRC_TEP, /* fields at fixed offsets of a kernel record */
	SCHEMA_SRC_MARKER, /* fields packed in a trace_marker_raw payload */
};

struct schema_field {
	uint32_t off; /* offset in the record (tep) or payload (marker) */
	uint32_t size; /* bytes; 0 = "rest of the record" (flexible array) */
	Netrv__FieldKind kind;
	bool is_signed;
	bool dynamic; /* __data_loc: u32 (len << 16 | off) at @off */
	bool relative; /* __rel_loc: offset relative to the field's end */
};

struct schema_type {
	enum schema_src src;
	uint32_t id; /* index in the schema, = pb.id */
	int kernel_id; /* common_type of the records, or the marker id */
	uint32_t n_fields;
	struct schema_field *fields;
	Netrv__EventType pb;
};

struct schema {
	uint64_t id;
	uint32_t n_types;
	struct schema_type *types;
	int raw_data_id; /* common_type of ftrace:raw_data, -1 if no markers */
	int16_t *by_kernel_id; /* common_type -> type index, -1: not ours */
	Netrv__Schema pb;
};

/**
 * schema_create - the schema of the events @events (system:name strings)
 *		   plus the marker types declared in @cfg
 * @tep: formats of the instance's events
 *
 * Return: the schema, freed with schema_destroy(), or NULL with a logged
 * error naming the event that is missing or cannot be described.
 */
struct schema *schema_create(struct tep_handle *tep, char *const *events,
			     int n_events, const struct config *cfg);
void schema_destroy(struct schema *s);

/**
 * schema_pack_event - append the fields of record @rec to @out
 * @len: size of the record
 *
 * Return: 0, or -1 with errno (ENOMEM; EBADMSG: record shorter than its
 * format says - the record is still packed, truncated fields empty).
 */
int schema_pack_event(const struct schema_type *t, const uint8_t *rec,
		      uint32_t len, struct bytebuf *out);

struct colpack;
/**
 * schema_pack_columns - like schema_pack_event(), into the columns of
 * @c (lib/colpack.h, between colpack_begin() and colpack_finish(); @rec
 * must stay valid until then)
 */
int schema_pack_columns(const struct schema_type *t, const uint8_t *rec,
			uint32_t len, struct colpack *c);

/* --- subbuf.c ---------------------------------------------------------- */

/* Walks one sub-buffer of a kernel ring buffer (host format: 64-bit LE). */
struct subbuf_iter {
	const uint8_t *data; /* the records, after the 16-byte header */
	uint32_t size; /* data bytes (the header's commit) */
	uint32_t next; /* offset of the next record header in @data */
	uint64_t ts; /* running time stamp */
	int64_t missed; /* events lost before it: 0 none, -1 unknown count */
	bool truncated; /* stopped at a record running past @size */
};

/* One data record; @data points into the sub-buffer. */
struct subbuf_rec {
	uint32_t off; /* its header's offset from the data start */
	uint64_t ts;
	const uint8_t *data;
	uint32_t len; /* payload bytes (type_len 0: rounded up to 4) */
};

/**
 * subbuf_load - start walking the sub-buffer at @page (@len bytes readable)
 *
 * Nothing is copied or allocated: @page must stay while @it is used.
 * Return: 0, or -1 with errno EPROTO when @len cannot hold the header or
 * the commit the header claims.
 */
int subbuf_load(struct subbuf_iter *it, const void *page, size_t len);
/**
 * subbuf_next - the next data record (time extends, time stamps, padding
 * and discarded records are applied or skipped, as kbuffer does)
 *
 * Return: true with @r set; false at the end, with @it->truncated set if
 * the record at @it->next ran past the commit (a malformed sub-buffer: the
 * rest is unreadable).
 */
bool subbuf_next(struct subbuf_iter *it, struct subbuf_rec *r);

/* --- trace.c ----------------------------------------------------------- */

/*
 * One record waiting to be merged.  Its bytes are in the ring buffer's
 * mapping (valid until the next trace_drain) or in the trace's arena.
 */
struct trace_rec {
	uint64_t ts;
	const uint8_t *data; /* NULL while they are at @off in an arena */
	uint32_t cpu;
	uint32_t type; /* schema type index */
	uint32_t off;
	uint32_t len;
	uint32_t seq; /* read order, breaks ties between equal stamps */
};

struct trace_loss {
	uint32_t cpu;
	Netrv__LossReason reason;
	uint64_t count; /* 0: unknown how many (perhaps none) */
	uint64_t from_ns, to_ns;
};

struct trace;

/**
 * trace_open - create or re-use the tracefs instance named in @cfg, set it
 * up (pid filter, clock, buffer size, events, uprobes, markers) and open the per-CPU
 * raw pipes, mapped or read with read() as agent.read_mode says.
 *
 * Return: the trace, closed with trace_close(), or NULL (logged).
 */
struct trace *trace_open(const struct config *cfg);
/** trace_close - close the pipes; remove the instance when @remove */
void trace_close(struct trace *t, bool remove);
const struct schema *trace_schema(const struct trace *t);
clockid_t trace_clockid(const struct trace *t);
const char *trace_clock_name(const struct trace *t);
struct tracefs_instance *trace_instance(const struct trace *t);

/**
 * trace_drain - take the next sub-buffer of every CPU's ring buffer
 * @recs: set to the records that are now safe to emit, in local order
 * @n: their number
 * @wm: set to the watermark: no record read later is older than this
 * @losses, @n_losses: overruns the kernel reported during this drain
 * @more: set if some CPU had new data (call again after spooling)
 *
 * Records read but not yet safe (a CPU may still commit older stamps) are
 * kept for the next drain; trace_carry_pack() serialises them with the
 * per-CPU read marks, and that carry must be spooled with the records of
 * this round before the next round, or a kill -9 could lose them.  The arrays are owned by @t and valid until the next drain.
 *
 * Return: 0, or -1 if reading failed (logged).
 */
int trace_drain(struct trace *t, const struct trace_rec **recs, size_t *n,
		uint64_t *wm, const struct trace_loss **losses,
		size_t *n_losses, bool *more);
/**
 * trace_cpu_fd - @cpu's trace_pipe_raw, or -1; poll() says it is readable
 * when the buffer is agent.wake_percent full
 */
int trace_cpu_fd(const struct trace *t, int cpu);
int trace_n_cpus(const struct trace *t);
/**
 * trace_take_peak - the most bytes one CPU's buffer delivered since the
 * last call (the drain policy's measure of the write rate); resets it
 */
uint64_t trace_take_peak(struct trace *t);
/** trace_rec_data - the bytes of @r */
const uint8_t *trace_rec_data(const struct trace *t, const struct trace_rec *r);
/**
 * trace_carry_pack - serialise the records held back for the next drain
 * and the per-CPU read marks into @out (replaced)
 * @clean: this is the last carry of a clean exit: no round after it
 *
 * Return: 0, or -1 (ENOMEM).
 */
int trace_carry_pack(const struct trace *t, struct bytebuf *out, bool clean);
/**
 * trace_carry_load - put the held records and marks back after a restart
 * (after trace_open(), before the first drain)
 *
 * Return: 1 if the carry was written at a clean exit: the caller must
 * spool a carry packed with @clean false before the first drain, so that
 * a kill -9 from now on is not taken for a clean exit; 0 otherwise (also
 * for an empty carry); -1 if malformed (logged; held records lost).
 */
int trace_carry_load(struct trace *t, const uint8_t *p, size_t len);

/* --- scope.c ----------------------------------------------------------- */

enum scope_mode { SCOPE_HOST, SCOPE_NETNS, SCOPE_PIDS };

/**
 * scope_apply - write the instance's pid filter for @mode
 * @pids: "1 2 3" for SCOPE_PIDS
 *
 * @refresh: a periodic call: only add tasks that are new since the last
 *
 * SCOPE_NETNS never truncates the list (that would let every task through
 * until the new list is written): it adds the namespace's tasks not listed
 * yet; event-fork follows their children and drops tasks that exit.
 * Return: 0, or -1 (logged).  For SCOPE_NETNS call it again periodically:
 * event-fork catches children of filtered tasks, but not tasks that enter
 * the namespace by setns().
 */
int scope_apply(struct tracefs_instance *inst, enum scope_mode mode,
		const char *pids, bool refresh);

/* --- uprobe.c ---------------------------------------------------------- */

/**
 * uprobe_create_all - create the [uprobe NAME] dynamic events of @cfg
 * @events: set to a malloc'd array of "system:name" strings (free each and
 *	    the array)
 *
 * Return: number created, or -1 (logged; those created are removed).
 */
int uprobe_create_all(const struct config *cfg, char ***events);
/** uprobe_destroy_all - remove the uprobes of @cfg (ignores missing ones) */
void uprobe_destroy_all(const struct config *cfg);
/** uprobe_file_offset - file offset of @symbol in ELF file @path, or -1 */
long uprobe_file_offset(const char *path, const char *symbol);

/* --- marker.c ---------------------------------------------------------- */

/**
 * marker_parse_fields - turn "name:type,..." into schema fields
 *
 * Types: u8 u16 u32 u64 s8 s16 s32 s64, strN (NUL-padded N bytes), bytesN,
 * and str / bytes as the last field (the rest of the payload).
 * Return: number of fields (array malloc'd into *fields, names into the
 * pb fields), or -1 with a message in @err.
 */
int marker_parse_fields(const char *spec, struct schema_field **fields,
			Netrv__Field ***pb, char *err, size_t errlen);

/* --- ptp.c ------------------------------------------------------------- */

struct ptp_status {
	bool answered; /* ptp4l replied recently */
	uint8_t port_state;
	bool gm_present;
	int64_t master_offset_ns;
	/* when the sync behind master_offset arrived: a new one, a new sample */
	uint64_t offset_ingress_ns;
	int64_t path_delay_ns;
	uint8_t gm_identity[8];
	uint8_t clock_identity[8]; /* our port's clock */
	uint64_t sampled_mono_ns; /* CLOCK_MONOTONIC of the last reply */
};

struct ptp;

/**
 * ptp_create - poll ptp4l at @server every @period_ns from our socket @self
 *
 * Return: the poller, freed with ptp_destroy() (removes @self), or NULL.
 */
struct ptp *ptp_create(struct event_base *base, const char *server,
		       const char *self, uint8_t domain, uint64_t period_ns);
void ptp_destroy(struct ptp *p);
const struct ptp_status *ptp_status(const struct ptp *p);

/* PTP management message layout, shared with the tests. */
#define PTP_MGMT_HDR 54 /* bytes before the management TLV's data */
#define PTP_TIME_STATUS_NP 0xC000
#define PTP_PORT_DATA_SET 0x2004
#define PTP_CURRENT_DATA_SET 0x2001

/* --- clock.c ----------------------------------------------------------- */

struct agent_clock;

/**
 * agent_clock_create - maps the trace clock to TAI and bounds the error
 * @ptp: may be NULL (no ptp4l configured)
 */
struct agent_clock *agent_clock_create(clockid_t trace_clock,
				       const struct ptp *ptp,
				       uint64_t drift_ppm);

/**
 * agent_clock_set_skew - make the clock lie, for tests of clock-bound
 * verdicts: @skew_ns is added to every TAI offset reported, epsilon is
 * left as it is (config ptp.test_skew_ns; 0 = honest).
 */
void agent_clock_set_skew(struct agent_clock *c, int64_t skew_ns);
void agent_clock_destroy(struct agent_clock *c);
/** agent_clock_status - fill @out (a fresh pair is taken); gm bytes in @c */
void agent_clock_status(struct agent_clock *c, Netrv__ClockStatus *out);

/* --- spool.c ----------------------------------------------------------- */

struct spool;

#define SPOOL_DEFLATED 1u /* the batch's fields are in fields_deflate */
#define SPOOL_COLUMNS 2u /* the batch's events are in columns_zstd */
#define SPOOL_MORE 0x80000000u /* on disk: more records of one append follow */

struct spool_info {
	uint64_t seq;
	uint32_t n_events;
	uint32_t flags; /* SPOOL_* */
	uint64_t first_ns, last_ns;
};

/**
 * spool_open - open or create the spool in @dir
 * @max_bytes: total size above which the oldest segment is dropped
 * @seg_bytes: size at which a segment is closed and a new one started
 *
 * Scans every segment, checks each record and cuts a corrupt or torn tail
 * (logged).  Return: the spool, closed with spool_close(), or NULL.
 */
struct spool *spool_open(const char *dir, uint64_t max_bytes,
			 uint64_t seg_bytes, bool sync);
void spool_close(struct spool *s);

/** spool_next_seq - the sequence number the next batch gets (>= 1) */
uint64_t spool_next_seq(const struct spool *s);
/** spool_last_carry - carry bytes of the newest record (owned by @s) */
const struct bytebuf *spool_last_carry(const struct spool *s);

/**
 * spool_append - add records in one write
 * @frames: the batch frames (each a whole frame, seqs consecutive from
 *	    spool_next_seq()), @n of them, with their @info
 * @carry: bytes stored with the last record (may be empty)
 *
 * A carry-only append (@n = 0) stores just the carry.
 * Return: 0, or -1 with errno (the spool is unchanged).
 */
int spool_append(struct spool *s, const struct bytebuf *frames,
		 const size_t *frame_len, const struct spool_info *info,
		 size_t n, const struct bytebuf *carry);

/**
 * spool_read - the frame of batch @seq
 * @out: replaced with the frame bytes
 * @info: if not NULL, set to what the batch holds
 *
 * Return: 1 if found, 0 if @seq is not (or no longer) spooled, -1 on error.
 */
int spool_read(struct spool *s, uint64_t seq, struct bytebuf *out,
	       struct spool_info *info);
/** spool_first_seq - the oldest spooled batch, or next_seq if none */
uint64_t spool_first_seq(const struct spool *s);

/** spool_ack - batches up to @seq are safe: drop whole segments */
void spool_ack(struct spool *s, uint64_t seq);

/**
 * spool_take_loss - batches dropped because the spool was full
 * Return: true and the summed loss (count, time range) once per drop.
 */
bool spool_take_loss(struct spool *s, struct spool_info *lost);

/** spool_bytes - total size on disk */
uint64_t spool_bytes(const struct spool *s);

/* --- encode.c --------------------------------------------------------- */

struct encoder;

/** encoder_create - packs up to @batch_events events per Batch */
struct encoder *encoder_create(const struct schema *schema,
			       uint32_t batch_events);
/**
 * encoder_set_codec - how the batches from now on are compressed
 * @deflate: the fields with zlib (Batch.fields_deflate)
 * @columns: the events in column form with zstd (Batch.columns_zstd,
 *	     lib/colpack.h); preferred over @deflate
 *
 * Return: 0, or -1 (ENOMEM; the encoder then sends plain batches).
 */
int encoder_set_codec(struct encoder *e, bool deflate, bool columns);
/**
 * encoder_set_max_frame - the largest payload the collector takes
 * @max_payload: its HelloAck.max_frame (0: FRAME_DEFAULT_MAX)
 *
 * Batches from now on are cut so that their frames stay below it: by
 * events (batch_events) and by a bound of their size.
 */
void encoder_set_max_frame(struct encoder *e, uint32_t max_payload);
/**
 * encoder_inflate_frame - rewrite a Batch frame with fields_deflate or
 * columns_zstd into one with plain columns, for a collector that cannot
 * decode them
 * @s: the schema the batch was made with
 * @in: the frame; @out: replaced with the new frame
 *
 * Return: 0, or -1 with errno (EBADMSG: not a valid frame).
 */
int encoder_inflate_frame(const struct schema *s, const uint8_t *in, size_t len,
			  struct bytebuf *out);
void encoder_destroy(struct encoder *e);

/**
 * encoder_run - turn one drain into Batch frames
 * @first_seq: seq of the first batch
 * @losses: go into the first batch (a batch without events if needed)
 * @frames: the frames, back to back; @lens and @infos: per batch, owned by
 *	    the encoder and valid until the next call
 *
 * Return: number of batches, or -1 with errno.
 */
int encoder_run(struct encoder *e, const struct trace *t,
		const struct trace_rec *recs, size_t n, uint64_t wm,
		Netrv__LossReport **losses, size_t n_losses,
		Netrv__ClockStatus *clock, uint64_t first_seq,
		struct bytebuf *frames, const size_t **lens,
		const struct spool_info **infos);

/* --- transport.c ------------------------------------------------------- */

struct transport;

struct transport_params {
	const char *host, *port;
	const char *ca, *cert, *key;
	const char *node;
	const char *trace_clock;
	uint64_t heartbeat_ns;
	uint64_t backoff_min_ns, backoff_max_ns;
	uint64_t max_unacked_bytes; /* in flight beyond this: keep spooling */
	bool deflate; /* compress batches if the collector accepts it */
};

/* Provides what heartbeats carry. */
struct transport_source {
	void (*status)(struct transport_source *src, uint64_t *watermark,
		       Netrv__ClockStatus *clock);
	/* the collector said whether it decodes Batch.fields_deflate and
	 * Batch.columns_zstd (and the config allows compression) */
	void (*peer_codec)(struct transport_source *src, bool deflate,
			   bool columns, uint32_t max_frame);
};

/**
 * transport_create - connect (and keep reconnecting) to the collector
 *
 * Return: the transport, freed with transport_destroy(), or NULL.
 */
struct transport *transport_create(struct event_base *base,
				   const struct transport_params *p,
				   struct spool *spool,
				   const struct schema *schema,
				   struct transport_source *src);
void transport_destroy(struct transport *t);
/**
 * transport_kick - new batches were spooled: send what the window allows
 * @batch_wm: the watermark the newest spooled batch carries
 */
void transport_kick(struct transport *t, uint64_t batch_wm);
/** transport_idle - nothing left to send and everything acknowledged */
bool transport_idle(const struct transport *t);

#endif
