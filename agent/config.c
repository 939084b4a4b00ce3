// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * config.c - every option of netrv-agent, in one table.
 *
 * The table drives parsing, range checks, --help and the example config
 * (deploy/agent.conf.example is `netrv-agent --print-example`).
 */
#include "agent.h"

static const char *const clocks[] = { "mono", "boot", "tai", NULL };
static const char *const scopes[] = { "host", "netns", "pids", NULL };
static const char *const read_modes[] = { "auto", "mmap", "read", NULL };

static const struct config_section_def sections[] = {
	{ "agent", false, "this node and what it traces" },
	{ "collector", false, "where batches go, over mutual TLS" },
	{ "spool", false, "on-disk store of unacknowledged batches" },
	{ "ptp", false, "clock quality from ptp4l's management socket" },
	{ "uprobe", true,
	  "a user-space probe; its events are uprobes:NAME (or SYSTEM:NAME)" },
	{ "marker", true,
	  "records written to the instance's trace_marker_raw with this id" },
	{ NULL },
};

static const struct config_option options[] = {
	{ "agent", "node", CONFIG_STRING, NULL, 0, 0, NULL,
	  "node name; must equal the CN of the certificate (default: hostname)" },
	{ "agent", "instance", CONFIG_STRING, "netrv-agent", 0, 0, NULL,
	  "tracefs instance; re-used after a restart so nothing is missed" },
	{ "agent", "events", CONFIG_STRING, "filelock:flock_lock_inode", 0, 0,
	  NULL,
	  "trace events to enable, \"system:name\" separated by spaces, or "
	  "none (only uprobes and markers)" },
	{ "agent", "trace_clock", CONFIG_ENUM, "mono", 0, 0, clocks,
	  "trace clock of the instance" },
	{ "agent", "buffer_size", CONFIG_SIZE, "4M", 4096, 1LL << 32, NULL,
	  "ring buffer per CPU" },
	{ "agent", "subbuf_size", CONFIG_SIZE, "64K", 4096, 1 << 20, NULL,
	  "ring buffer sub-buffer size (buffer_subbuf_size_kb); the agent "
	  "spools once per sub-buffer, so bigger means fewer, larger batches" },
	{ "agent", "read_mode", CONFIG_ENUM, "auto", 0, 0, read_modes,
	  "how the ring buffers are read: mmap (the kernel's ring-buffer "
	  "mapping, Linux 6.10+; a kill -9 loses nothing), read (read() of "
	  "trace_pipe_raw, any kernel; a kill -9 loses the records of the "
	  "round it interrupts, reported as a loss of unknown count), auto "
	  "(mmap if the mapping works, else read)" },
	{ "agent", "drain_interval", CONFIG_DURATION, "5ms", 100000, 1000000000,
	  NULL,
	  "shortest interval between reads of the ring buffers (no "
	  "wake-ups for writers); the agent waits longer while little is "
	  "written, see drain_max" },
	{ "agent", "wake_percent", CONFIG_INT, "50", 1, 100, NULL,
	  "a CPU's buffer this full (percent) wakes the agent before the "
	  "next drain is due: the kernel then wakes it once, the writer "
	  "pays nothing otherwise (the instance's buffer_percent)" },
	{ "agent", "drain_max", CONFIG_DURATION, "100ms", 1000000, 10000000000,
	  NULL,
	  "longest interval between reads: bounds how late an event and the "
	  "watermark reach the collector when little is written" },
	{ "agent", "order_slack", CONFIG_DURATION, "50us", 0, 100000000, NULL,
	  "records younger than this at a drain wait for the next one, so a "
	  "late commit on another CPU cannot arrive out of order" },
	{ "agent", "batch_events", CONFIG_INT, "4096", 1, 1000000, NULL,
	  "most events in one batch" },
	{ "agent", "scope", CONFIG_ENUM, "host", 0, 0, scopes,
	  "host: all tasks; netns: tasks in the agent's network namespace; "
	  "pids: the tasks in 'pids' (and their children)" },
	{ "agent", "pids", CONFIG_STRING, NULL, 0, 0, NULL,
	  "process ids for scope = pids, separated by spaces" },
	{ "agent", "scope_refresh", CONFIG_DURATION, "1s", 1000000,
	  3600000000000LL, NULL,
	  "how often scope = netns rescans /proc for tasks of the namespace" },
	{ "agent", "remove_instance", CONFIG_BOOL, "no", 0, 0, NULL,
	  "remove the tracefs instance on a clean exit (loses what a restart "
	  "would have read)" },
	{ "agent", "log_level", CONFIG_STRING, "info", 0, 0, NULL,
	  "err, warning, notice, info or debug" },
	{ "collector", "host", CONFIG_STRING, "127.0.0.1", 0, 0, NULL,
	  "collector address" },
	{ "collector", "port", CONFIG_INT, "7400", 1, 65535, NULL,
	  "collector port" },
	{ "collector", "ca", CONFIG_STRING, "/etc/netrv/ca.crt", 0, 0, NULL,
	  "CA certificate that signed the collector's certificate" },
	{ "collector", "cert", CONFIG_STRING, "/etc/netrv/node.crt", 0, 0, NULL,
	  "this node's certificate (CN = node)" },
	{ "collector", "key", CONFIG_STRING, "/etc/netrv/node.key", 0, 0, NULL,
	  "this node's private key" },
	{ "collector", "heartbeat", CONFIG_DURATION, "75ms", 1000000,
	  60000000000LL, NULL, "heartbeat period while no batch is sent" },
	{ "collector", "backoff_min", CONFIG_DURATION, "100ms", 1000000,
	  3600000000000LL, NULL,
	  "first reconnect delay (doubles, +-25% jitter)" },
	{ "collector", "backoff_max", CONFIG_DURATION, "10s", 1000000,
	  3600000000000LL, NULL, "longest reconnect delay" },
	{ "collector", "max_unacked", CONFIG_SIZE, "4M", 4096, 1LL << 32, NULL,
	  "bytes sent but not acknowledged before the agent waits (the rest "
	  "stays in the spool)" },
	{ "collector", "compress", CONFIG_BOOL, "yes", 0, 0, NULL,
	  "compress batches when the collector accepts it: column form "
	  "with zstd (accepts_columns), else fields with zlib "
	  "(accepts_deflate)" },
	{ "spool", "dir", CONFIG_STRING, "/var/lib/netrv-agent/spool", 0, 0,
	  NULL, "spool directory (one per agent)" },
	{ "spool", "max_size", CONFIG_SIZE, "256M", 65536, 1LL << 40, NULL,
	  "above this the oldest segment is dropped and reported as loss" },
	{ "spool", "segment_size", CONFIG_SIZE, "4M", 4096, 1LL << 32, NULL,
	  "segment file size" },
	{ "spool", "sync", CONFIG_BOOL, "no", 0, 0, NULL,
	  "fdatasync after each append (survives power loss, not only kill -9)" },
	{ "ptp", "uds_address", CONFIG_STRING, NULL, 0, 0, NULL,
	  "ptp4l's management socket (e.g. /var/run/ptp4l); unset: no PTP" },
	{ "ptp", "self_address", CONFIG_STRING, NULL, 0, 0, NULL,
	  "our socket path (default /run/netrv-agent.PID.ptp)" },
	{ "ptp", "domain", CONFIG_INT, "0", 0, 255, NULL,
	  "PTP domain number of ptp4l" },
	{ "ptp", "poll", CONFIG_DURATION, "500ms", 10000000, 60000000000LL,
	  NULL, "how often ptp4l is asked" },
	{ "ptp", "drift_ppm", CONFIG_INT, "100", 0, 100000, NULL,
	  "clock drift allowed between PTP samples, in ppm (adds to epsilon)" },
	{ "ptp", "test_skew_ns", CONFIG_INT, "0", -1000000000, 1000000000, NULL,
	  "TESTS ONLY: add this to every TAI time the agent reports, a clock that lies about its error (0: off)" },
	{ "uprobe", "binary", CONFIG_STRING, NULL, 0, 0, NULL,
	  "absolute path of the ELF file to probe" },
	{ "uprobe", "symbol", CONFIG_STRING, NULL, 0, 0, NULL,
	  "function to probe (looked up in .symtab/.dynsym)" },
	{ "uprobe", "offset", CONFIG_INT, "0", 0, 0, NULL,
	  "file offset to probe instead of a symbol, or added to it" },
	{ "uprobe", "fetchargs", CONFIG_STRING, "", 0, 0, NULL,
	  "kprobe-style fetch arguments, e.g. \"node=%di:s32 name=+0(%si):string\"" },
	{ "uprobe", "system", CONFIG_STRING, "uprobes", 0, 0, NULL,
	  "event system of the probe" },
	{ "marker", "id", CONFIG_INT, NULL, 0, 4294967295LL, NULL,
	  "the u32 a writer puts first in its trace_marker_raw record" },
	{ "marker", "fields", CONFIG_STRING, NULL, 0, 0, NULL,
	  "payload layout after the id: \"name:type,...\", types u8..u64, "
	  "s8..s64, strN, bytesN, and str or bytes last" },
	{ NULL },
};

struct config *agent_config_create(void)
{
	return config_create(sections, options);
}
