// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * tables.c - netrv-collector's configuration: its own sections and options
 * (network, WAL, built-in outputs) followed by those of the lock engine,
 * the archive, the HTTP server and the [model NAME] sections, as one
 * table for parsing, --help and --print-example.  `netrv replay --config`
 * reads a collector's file with the same table.
 */
#include <stdlib.h>

#include "archive_config.h"
#include "frame.h"
#include "http.h"
#include "lock.h"
#include "tables.h"

const char *const collector_sync_names[] = { "always", "batch", "none", NULL };
const char *const collector_level_names[] = { "err",  "warning", "notice",
					      "info", "debug",	 NULL };

static const struct config_section_def sections[] = {
	{ "collector", false, "network, TLS, merge and logging" },
	{ "wal", false,
	  "write-ahead log: what is acknowledged survives a crash" },
	{ "output", false, "built-in consumers" },
	{ NULL },
};

static const struct config_option options[] = {
	{ "collector", "listen", CONFIG_STRING, "127.0.0.1:7400", 0, 0, NULL,
	  "address:port agents connect to (port 0: any free port)" },
	{ "collector", "ca", CONFIG_STRING, "/etc/netrv/pki/ca.crt", 0, 0, NULL,
	  "cluster CA (PEM): agents must present a certificate it signed" },
	{ "collector", "cert", CONFIG_STRING, "/etc/netrv/pki/collector.crt", 0,
	  0, NULL, "the collector's certificate (PEM)" },
	{ "collector", "key", CONFIG_STRING, "/etc/netrv/pki/collector.key", 0,
	  0, NULL, "the collector's private key (PEM)" },
	{ "collector", "max_frame", CONFIG_SIZE, "4M", 4096, FRAME_HARD_MAX,
	  NULL,
	  "largest frame payload accepted; larger ones close the connection" },
	{ "collector", "liveness_timeout", CONFIG_DURATION, "5s", 10000000,
	  3600000000000LL, NULL,
	  "a node silent this long is unreachable; the merge goes on without it" },
	{ "collector", "roundtrip_clock", CONFIG_BOOL, "yes", 0, 0, NULL,
	  "estimate the clock of nodes that PTP does not bound from round trips "
	  "over the connection; no: trust what agents claim (to show lying "
	  "clocks in experiments)" },
	{ "collector", "idle_timeout", CONFIG_DURATION, "60s", 0,
	  86400000000000LL, NULL,
	  "close a connection that sends nothing this long (0: never)" },
	{ "collector", "queue_events", CONFIG_INT, "1000000", 1000, 1000000000,
	  NULL,
	  "per node: stop reading its connection above this many queued events" },
	{ "collector", "log_level", CONFIG_ENUM, "info", 0, 0,
	  collector_level_names, "lowest level logged" },
	{ "wal", "dir", CONFIG_STRING, "/var/lib/netrv/wal", 0, 0, NULL,
	  "WAL directory (one collector per directory)" },
	{ "wal", "sync", CONFIG_ENUM, "batch", 0, 0, collector_sync_names,
	  "always: fdatasync before each Ack; batch: every sync_interval or sync_bytes; none: Ack after write() (survives kill -9, not power loss)" },
	{ "wal", "sync_interval", CONFIG_DURATION, "5ms", 100000, 10000000000LL,
	  NULL, "sync=batch: longest wait before an fdatasync" },
	{ "wal", "sync_bytes", CONFIG_SIZE, "4M", 4096, 1LL << 32, NULL,
	  "sync=batch: fdatasync as soon as this much is written" },
	{ "wal", "segment_size", CONFIG_SIZE, "64M", 65536, 1LL << 40, NULL,
	  "start a new segment file above this size" },
	{ "wal", "retain_size", CONFIG_SIZE, "0", 0, 1LL << 50, NULL,
	  "per node: keep up to this much of processed segments" },
	{ "wal", "retain_time", CONFIG_DURATION, "0s", 0, 1LL << 62, NULL,
	  "... and for at most this long (0: remove when processed)" },
	{ "wal", "checkpoint_interval", CONFIG_DURATION, "1s", 10000000,
	  3600000000000LL, NULL,
	  "how often the processed position is checkpointed (bounds the replay after a crash)" },
	{ "output", "event_log", CONFIG_STRING, NULL, 0, 0, NULL,
	  "write every released event as a JSON line to this file (exactly once across restarts)" },
	{ "output", "stats_file", CONFIG_STRING, NULL, 0, 0, NULL,
	  "write counts, latency percentiles and CPU time as JSON here at exit" },
	{ NULL },
};

static const struct config_section_def model_sections[] = {
	{ "model", true,
	  "a DA model (DOT, kernel RV conventions) and its binding, run over the merged stream; violations are verdicts of class protocol" },
	{ NULL },
};

static const struct config_option model_options[] = {
	{ "model", "dot", CONFIG_STRING, NULL, 0, 0, NULL,
	  "the model's .dot file (required)" },
	{ "model", "binding", CONFIG_STRING, NULL, 0, 0, NULL,
	  "its binding (default: the .dot path with .bind)" },
	{ "model", "enable", CONFIG_BOOL, "yes", 0, 0, NULL, "run this model" },
	{ NULL },
};

static const struct config_option archive_options[] = {
	ARCHIVE_CONFIG_OPTIONS,
	{ NULL },
};

static size_t n_sections(const struct config_section_def *s)
{
	size_t n = 0;

	while (s[n].name)
		n++;
	return n;
}

static size_t n_options(const struct config_option *o)
{
	size_t n = 0;

	while (o[n].name)
		n++;
	return n;
}

struct config *collector_config_create(void)
{
	static struct config_section_def *sec;
	static struct config_option *opt;
	const struct config_section_def archive_section =
		ARCHIVE_CONFIG_SECTION;
	const struct config_option *parts[] = { options, lock_config_options,
						archive_options,
						http_config_options,
						model_options };
	size_t ns, no = 0, k = 0;

	if (!sec) {
		ns = n_sections(sections) + n_sections(lock_config_sections) +
		     n_sections(model_sections) + 2;
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			no += n_options(parts[i]);
		sec = calloc(ns + 1, sizeof(*sec));
		opt = calloc(no + 1, sizeof(*opt));
		if (!sec || !opt) {
			free(sec);
			free(opt);
			sec = NULL;
			opt = NULL;
			return NULL;
		}
		for (size_t i = 0; sections[i].name; i++)
			sec[k++] = sections[i];
		for (size_t i = 0; lock_config_sections[i].name; i++)
			sec[k++] = lock_config_sections[i];
		sec[k++] = archive_section;
		sec[k++] = http_config_section;
		sec[k++] = model_sections[0];
		k = 0;
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			for (size_t j = 0; parts[i][j].name; j++)
				opt[k++] = parts[i][j];
	}
	return config_create(sec, opt);
}
