// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - netrv-collector: configuration, consumers, the event loop.
 *
 *   netrv-collector [-c FILE] [--check-config] [SECTION.KEY=VALUE...]
 *
 * Consumers are registered in register_consumers(): the archive
 * (collector/archive), the lock-safety engine (collector/lock), the
 * automata monitors (models/) and the dashboard (collector/http), put
 * together in wire.c, then the built-in event log and statistics.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#define LOG_SUBSYS "collector"
#include "config.h"
#include "consumers.h"
#include "ingest.h"
#include "log.h"
#include "pipeline.h"
#include "wire.h"

static const char *const sync_names[] = { "always", "batch", "none", NULL };
static const char *const level_names[] = { "err",  "warning", "notice",
					   "info", "debug",   NULL };

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
	{ "collector", "idle_timeout", CONFIG_DURATION, "60s", 0,
	  86400000000000LL, NULL,
	  "close a connection that sends nothing this long (0: never)" },
	{ "collector", "queue_events", CONFIG_INT, "1000000", 1000, 1000000000,
	  NULL,
	  "per node: stop reading its connection above this many queued events" },
	{ "collector", "log_level", CONFIG_ENUM, "info", 0, 0, level_names,
	  "lowest level logged" },
	{ "wal", "dir", CONFIG_STRING, "/var/lib/netrv/wal", 0, 0, NULL,
	  "WAL directory (one collector per directory)" },
	{ "wal", "sync", CONFIG_ENUM, "batch", 0, 0, sync_names,
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

static void usage(FILE *out, struct config *cfg)
{
	fprintf(out,
		"usage: netrv-collector [-c FILE] [--check-config] [SECTION.KEY=VALUE...]\n"
		"\n"
		"Receives event streams from netrv agents over mutual TLS, makes\n"
		"them durable in a write-ahead log, merges them in TAI order and\n"
		"hands them to the consumers.\n"
		"\n"
		"  -c, --config FILE   read FILE (INI, see --print-example)\n"
		"      --check-config  validate the configuration and exit\n"
		"      --print-example print a config file with every default\n"
		"  -h, --help          this text and every option\n"
		"\n");
	if (cfg)
		config_print_help(cfg, out);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	pr_notice("signal %d: shutting down", (int)sig);
	event_base_loopbreak(arg);
}

/*
 * Consumers, in the order they are called: archive, lock engine, DA
 * models, the dashboard's node table (wire.c), then the event log and the
 * statistics.  Every verdict goes through the lock engine's sinks.
 */
static int register_consumers(struct pipeline *p, struct config *cfg,
			      struct event_base *base, struct wire **wire,
			      struct consumer **stats)
{
	const char *path = config_string(cfg, "output", "event_log");
	struct consumer *c;

	*wire = wire_create(p, cfg, base);
	if (!*wire)
		return -1;
	if (path) {
		c = eventlog_consumer_create(path);
		if (!c)
			return -1;
		pipeline_add_consumer(p, c);
	}
	*stats = stats_consumer_create();
	if (!*stats)
		return -1;
	pipeline_add_consumer(p, *stats);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-example", no_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL },
	};
	struct config *cfg = wire_config_create(sections, options);
	const char *file = NULL;
	bool check = false;
	struct event_base *base = NULL;
	struct event *sigint = NULL, *sigterm = NULL;
	struct pipeline *p = NULL;
	struct ingest *ing = NULL;
	struct consumer *stats = NULL;
	struct wire *wire = NULL;
	struct pipeline_config pc;
	struct ingest_config ic;
	const char *stats_file;
	int opt, ret = 1;

	log_setup("netrv-collector", LOG_INFO);
	if (!cfg)
		return 1;
	while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'E':
			config_print_example(cfg, stdout);
			config_destroy(cfg);
			return 0;
		case 'h':
			usage(stdout, cfg);
			config_destroy(cfg);
			return 0;
		default:
			usage(stderr, NULL);
			config_destroy(cfg);
			return 2;
		}
	}
	if (file && config_read(cfg, file)) {
		fprintf(stderr, "netrv-collector: %s\n", config_error(cfg));
		goto out;
	}
	for (int i = optind; i < argc; i++) {
		if (config_override(cfg, argv[i])) {
			fprintf(stderr, "netrv-collector: %s\n",
				config_error(cfg));
			goto out;
		}
	}
	if (check) {
		printf("netrv-collector: configuration is valid\n");
		ret = 0;
		goto out;
	}
	log_setup("netrv-collector", log_parse_level(level_names[config_enum(
					     cfg, "collector", "log_level")]));
	signal(SIGPIPE, SIG_IGN);

	pc = (struct pipeline_config){
		.wal_dir = config_string(cfg, "wal", "dir"),
		.sync = (enum wal_sync_policy)config_enum(cfg, "wal", "sync"),
		.sync_interval_ns =
			(uint64_t)config_int(cfg, "wal", "sync_interval"),
		.sync_bytes = (uint64_t)config_int(cfg, "wal", "sync_bytes"),
		.segment_size =
			(uint64_t)config_int(cfg, "wal", "segment_size"),
		.retain_size = (uint64_t)config_int(cfg, "wal", "retain_size"),
		.retain_ns = (uint64_t)config_int(cfg, "wal", "retain_time"),
		.checkpoint_ns =
			(uint64_t)config_int(cfg, "wal", "checkpoint_interval"),
		.liveness_ns = (uint64_t)config_int(cfg, "collector",
						    "liveness_timeout"),
		.queue_events =
			(uint64_t)config_int(cfg, "collector", "queue_events"),
		.max_frame =
			(uint32_t)config_int(cfg, "collector", "max_frame"),
	};
	ic = (struct ingest_config){
		.listen = config_string(cfg, "collector", "listen"),
		.ca = config_string(cfg, "collector", "ca"),
		.cert = config_string(cfg, "collector", "cert"),
		.key = config_string(cfg, "collector", "key"),
		.max_frame = pc.max_frame,
		.idle_ns =
			(uint64_t)config_int(cfg, "collector", "idle_timeout"),
	};
	base = event_base_new();
	if (!base)
		goto out;
	p = pipeline_create(base, &pc);
	if (!p)
		goto out;
	if (register_consumers(p, cfg, base, &wire, &stats) ||
	    pipeline_start(p))
		goto out;
	ing = ingest_create(base, &ic, p);
	if (!ing)
		goto out;
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sigint || !sigterm || event_add(sigint, NULL) ||
	    event_add(sigterm, NULL))
		goto out;
	pr_notice("running: WAL %s, sync %s", pc.wal_dir, sync_names[pc.sync]);
	event_base_dispatch(base);

	ingest_close_all(ing, NETRV__GOODBYE_CODE__GOODBYE_SHUTDOWN,
			 "collector shutting down");
	pipeline_stop(p);
	wire_stop(wire);
	stats_file = config_string(cfg, "output", "stats_file");
	if (stats_file) {
		FILE *f = fopen(stats_file, "we");

		if (f) {
			stats_consumer_write(stats, f);
			fclose(f);
		} else {
			pr_err("cannot write %s: %m", stats_file);
		}
	}
	ret = 0;
out:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	ingest_destroy(ing);
	pipeline_destroy(p); /* the consumers first: they borrow from wire */
	wire_destroy(wire);
	if (base)
		event_base_free(base);
	config_destroy(cfg);
	return ret;
}
