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
#include "tables.h"
#include "wire.h"

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
	struct config *cfg = collector_config_create();
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
	log_setup("netrv-collector",
		  log_parse_level(collector_level_names[config_enum(
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
		.roundtrip_clock =
			config_bool(cfg, "collector", "roundtrip_clock"),
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
	pr_notice("running: WAL %s, sync %s", pc.wal_dir,
		  collector_sync_names[pc.sync]);
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
