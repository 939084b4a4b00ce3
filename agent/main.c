// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * main.c - netrv-agent: options, set-up, the drain loop, shutdown.
 *
 * Each drain: read the ring buffers (trace.c), pack what is safe to send
 * into batches (encode.c), append batches and carry to the spool in one
 * write (spool.c), then let the transport send.  Nothing is sent that is
 * not spooled first, so a kill -9 at any point after the spool write loses
 * nothing; restart re-reads the spool and the still-filled instance.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_SUBSYS "agent"
#include "agent.h"
#include "clocks.h"
#include "log.h"

struct agent {
	struct config *cfg;
	struct event_base *base;
	struct trace *trace;
	struct spool *spool;
	struct encoder *enc;
	struct ptp *ptp;
	struct agent_clock *clock;
	struct transport *transport;
	struct transport_source src;
	struct event *drain_ev, *scope_ev, *sig_int, *sig_term;
	struct event **wake_ev; /* per CPU: its buffer is wake_percent full */
	int n_wake;
	struct bytebuf frames, carry;
	Netrv__LossReport *loss_store;
	Netrv__LossReport **loss_ptrs;
	size_t cap_losses;
	uint64_t watermark;
	uint64_t batch_wm; /* the watermark of the newest spooled batch */
	uint64_t events_sent;
	/* drain policy, see next_drain() */
	uint64_t drain_min_ns, drain_max_ns, drain_budget, last_drain_ns;
	enum scope_mode scope;
	bool failed;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: netrv-agent [-c FILE] [options] [section.key=value ...]\n"
		"\n"
		"Reads kernel tracepoints, uprobes and trace_marker_raw records,\n"
		"stamps them with PTP-bounded time and streams them to the\n"
		"netrv collector over mutual TLS, spooling to disk first.\n"
		"\n"
		"  -c, --config FILE     configuration file (INI)\n"
		"  -o, --set S.K=V       override one option (also as a bare argument)\n"
		"      --check-config    validate configuration and exit\n"
		"      --print-example   print a commented example configuration\n"
		"  -v, --verbose         log debug messages\n"
		"  -h, --help            this text and every option\n"
		"\n"
		"Options (file sections and keys; override as section.key=value,\n"
		"or section:NAME.key=value for [uprobe NAME] and [marker NAME]):\n");
}

static int grow_losses(struct agent *a, size_t n)
{
	Netrv__LossReport *ns;
	Netrv__LossReport **np;

	if (n <= a->cap_losses)
		return 0;
	ns = realloc(a->loss_store, n * sizeof(*ns));
	if (!ns)
		return -1;
	a->loss_store = ns;
	np = realloc(a->loss_ptrs, n * sizeof(*np));
	if (!np)
		return -1;
	a->loss_ptrs = np;
	a->cap_losses = n;
	return 0;
}

#define MAX_ROUNDS 64 /* sub-buffers per CPU and drain; then let I/O run */

/* One round: a sub-buffer per CPU into the spool.  -1: stop the agent. */
static int drain_round(struct agent *a, bool *more)
{
	const struct trace_rec *recs;
	const struct trace_loss *tl;
	const size_t *lens;
	const struct spool_info *infos;
	struct spool_info sl;
	Netrv__ClockStatus cs;
	size_t n, n_tl, n_losses;
	uint64_t wm;
	int nb;

	if (trace_drain(a->trace, &recs, &n, &wm, &tl, &n_tl, more))
		return -1;
	if (grow_losses(a, n_tl + 1))
		goto nomem;
	n_losses = 0;
	for (size_t i = 0; i < n_tl; i++) {
		Netrv__LossReport *l = &a->loss_store[n_losses];

		netrv__loss_report__init(l);
		l->reason = tl[i].reason;
		l->cpu = tl[i].cpu;
		l->count = tl[i].count;
		l->from_ns = tl[i].from_ns;
		l->to_ns = tl[i].to_ns;
		a->loss_ptrs[n_losses] = l;
		n_losses++;
	}
	if (spool_take_loss(a->spool, &sl)) {
		Netrv__LossReport *l = &a->loss_store[n_losses];

		netrv__loss_report__init(l);
		l->reason = NETRV__LOSS_REASON__LOSS_SPOOL_FULL;
		l->count = sl.n_events;
		l->from_ns = sl.first_ns;
		l->to_ns = sl.last_ns;
		a->loss_ptrs[n_losses++] = l;
	}
	if (wm > a->watermark && wm != UINT64_MAX)
		a->watermark = wm;
	if (!n && !n_losses) {
		/* Nothing to send; keep the carry durable if it changed. */
		const struct bytebuf *old = spool_last_carry(a->spool);

		if (trace_carry_pack(a->trace, &a->carry, false))
			goto nomem;
		if (a->carry.len == old->len &&
		    (!old->len || !memcmp(a->carry.data, old->data, old->len)))
			return 0;
		if (spool_append(a->spool, NULL, NULL, NULL, 0, &a->carry))
			goto spool_fail;
		return 0;
	}
	agent_clock_status(a->clock, &cs);
	nb = encoder_run(a->enc, a->trace, recs, n, a->watermark, a->loss_ptrs,
			 n_losses, &cs, spool_next_seq(a->spool), &a->frames,
			 &lens, &infos);
	if (nb < 0 || trace_carry_pack(a->trace, &a->carry, false))
		goto nomem;
	if (spool_append(a->spool, &a->frames, lens, infos, (size_t)nb,
			 &a->carry))
		goto spool_fail;
	if (nb > 0)
		a->batch_wm = a->watermark;
	a->events_sent += n;
	return 0;
nomem:
	pr_err("out of memory while encoding");
	return -1;
spool_fail:
	/*
	 * Stop: with the mapping the kernel still holds the sub-buffer and a
	 * restart re-reads it; what read() consumed is lost and the restart
	 * reports it (the spool's carry does not say "clean").
	 */
	pr_err("cannot write the spool: %m (free disk space or fix spool.dir; stopping to lose nothing)");
	return -1;
}

/* A carry-only record: the held records, marks and whether @clean. */
static int spool_carry(struct agent *a, bool clean)
{
	if (trace_carry_pack(a->trace, &a->carry, clean)) {
		pr_err("out of memory while packing the carry");
		return -1;
	}
	if (spool_append(a->spool, NULL, NULL, NULL, 0, &a->carry)) {
		pr_err("cannot write the spool: %m (free disk space or fix spool.dir)");
		return -1;
	}
	return 0;
}

static struct timeval tv_of(uint64_t ns)
{
	struct timeval tv = { .tv_sec = ns / NSEC_PER_SEC,
			      .tv_usec = ns % NSEC_PER_SEC / 1000 };
	return tv;
}

/*
 * When to drain next.  Each wake-up costs the agent tens of microseconds
 * (mostly the scheduler), whatever it finds, so the interval follows the
 * write rate: it is chosen so that the busiest CPU writes about
 * drain_budget bytes (an eighth of its buffer) until then, at the rate it
 * wrote since the last drain, between drain_interval and drain_max.  A
 * drain that could not empty the buffers asks for the shortest interval.
 * drain_max bounds how old the watermark gets.
 */
static uint64_t next_drain(struct agent *a, uint64_t now, bool behind)
{
	uint64_t elapsed = now - a->last_drain_ns;
	uint64_t peak = trace_take_peak(a->trace), next;

	a->last_drain_ns = now;
	if (behind)
		return a->drain_min_ns;
	if (!peak)
		return a->drain_max_ns;
	/* elapsed * budget / peak without overflowing */
	next = (uint64_t)((double)elapsed * (double)a->drain_budget /
			  (double)peak);
	if (next < a->drain_min_ns)
		next = a->drain_min_ns;
	if (next > a->drain_max_ns)
		next = a->drain_max_ns;
	return next;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct timeval tv;
	bool more = true;

	for (int i = 0; more && i < MAX_ROUNDS; i++) {
		if (drain_round(a, &more)) {
			a->failed = true;
			event_base_loopbreak(a->base);
			return;
		}
	}
	transport_kick(a->transport, a->batch_wm);
	tv = tv_of(next_drain(a, clocks_now(CLOCK_MONOTONIC), more));
	if (event_add(a->drain_ev, &tv)) {
		pr_err("cannot re-arm the drain timer");
		a->failed = true;
		event_base_loopbreak(a->base);
	}
}

static void on_scope(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	scope_apply(trace_instance(a->trace), a->scope,
		    config_string(a->cfg, "agent", "pids"), true);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;

	pr_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(a->base);
}

static void src_status(struct transport_source *src, uint64_t *wm,
		       Netrv__ClockStatus *clock)
{
	struct agent *a = (void *)((char *)src - offsetof(struct agent, src));

	*wm = a->watermark;
	agent_clock_status(a->clock, clock);
}

static void src_peer_codec(struct transport_source *src, bool deflate,
			   bool columns, uint32_t max_frame)
{
	struct agent *a = (void *)((char *)src - offsetof(struct agent, src));

	encoder_set_max_frame(a->enc, max_frame);
	if (encoder_set_codec(a->enc, deflate, columns))
		pr_warning(
			"out of memory for compression; sending plain batches");
}

static int run(struct agent *a)
{
	struct config *cfg = a->cfg;
	struct transport_params tp = { 0 };
	char port[16], host[256], self[108];
	const char *ptp_addr = config_string(cfg, "ptp", "uds_address");
	const struct bytebuf *carry;
	struct timeval tv;

	a->base = event_base_new();
	if (!a->base)
		return -1;
	a->trace = trace_open(cfg);
	if (!a->trace)
		return -1;
	a->spool = spool_open(config_string(cfg, "spool", "dir"),
			      config_int(cfg, "spool", "max_size"),
			      config_int(cfg, "spool", "segment_size"),
			      config_bool(cfg, "spool", "sync"));
	if (!a->spool)
		return -1;
	carry = spool_last_carry(a->spool);
	if (trace_carry_load(a->trace, carry->data, carry->len) == 1 &&
	    spool_carry(a, false))
		return -1;
	/* trace_open() applied the scope; netns needs refreshing (below) */
	a->scope = (enum scope_mode)config_enum(cfg, "agent", "scope");
	a->enc = encoder_create(
		trace_schema(a->trace),
		(uint32_t)config_int(cfg, "agent", "batch_events"));
	if (!a->enc)
		return -1;
	if (ptp_addr) {
		const char *s = config_string(cfg, "ptp", "self_address");

		if (!s) {
			snprintf(self, sizeof(self), "/run/netrv-agent.%d.ptp",
				 (int)getpid());
			s = self;
		}
		a->ptp = ptp_create(a->base, ptp_addr, s,
				    (uint8_t)config_int(cfg, "ptp", "domain"),
				    config_int(cfg, "ptp", "poll"));
		if (!a->ptp)
			return -1;
	}
	a->clock = agent_clock_create(trace_clockid(a->trace), a->ptp,
				      config_int(cfg, "ptp", "drift_ppm"));
	if (!a->clock)
		return -1;
	agent_clock_set_skew(a->clock, config_int(cfg, "ptp", "test_skew_ns"));
	snprintf(port, sizeof(port), "%lld",
		 (long long)config_int(cfg, "collector", "port"));
	tp.host = config_string(cfg, "collector", "host");
	tp.port = port;
	tp.ca = config_string(cfg, "collector", "ca");
	tp.cert = config_string(cfg, "collector", "cert");
	tp.key = config_string(cfg, "collector", "key");
	tp.node = config_string(cfg, "agent", "node");
	if (!tp.node) {
		gethostname(host, sizeof(host));
		host[sizeof(host) - 1] = '\0';
		tp.node = host;
	}
	tp.trace_clock = trace_clock_name(a->trace);
	tp.heartbeat_ns = config_int(cfg, "collector", "heartbeat");
	tp.backoff_min_ns = config_int(cfg, "collector", "backoff_min");
	tp.backoff_max_ns = config_int(cfg, "collector", "backoff_max");
	tp.max_unacked_bytes = config_int(cfg, "collector", "max_unacked");
	tp.deflate = config_bool(cfg, "collector", "compress");
	a->src.status = src_status;
	a->src.peer_codec = src_peer_codec;
	a->transport = transport_create(a->base, &tp, a->spool,
					trace_schema(a->trace), &a->src);
	if (!a->transport)
		return -1;
	a->drain_min_ns = config_int(cfg, "agent", "drain_interval");
	a->drain_max_ns = config_int(cfg, "agent", "drain_max");
	if (a->drain_max_ns < a->drain_min_ns)
		a->drain_max_ns = a->drain_min_ns;
	a->drain_budget = config_int(cfg, "agent", "buffer_size") / 8;
	a->last_drain_ns = clocks_now(CLOCK_MONOTONIC);
	a->drain_ev = event_new(a->base, -1, 0, on_drain, a);
	tv = tv_of(a->drain_min_ns);
	if (!a->drain_ev || event_add(a->drain_ev, &tv))
		return -1;
	if (a->scope == SCOPE_NETNS) {
		a->scope_ev = event_new(a->base, -1, EV_PERSIST, on_scope, a);
		tv = tv_of(config_int(cfg, "agent", "scope_refresh"));
		if (!a->scope_ev || event_add(a->scope_ev, &tv))
			return -1;
	}
	a->n_wake = trace_n_cpus(a->trace);
	a->wake_ev = calloc(a->n_wake, sizeof(*a->wake_ev));
	if (!a->wake_ev)
		return -1;
	for (int c = 0; c < a->n_wake; c++) {
		int fd = trace_cpu_fd(a->trace, c);

		if (fd < 0)
			continue;
		a->wake_ev[c] = event_new(a->base, fd, EV_READ | EV_PERSIST,
					  on_drain, a);
		if (!a->wake_ev[c] || event_add(a->wake_ev[c], NULL))
			return -1;
	}
	a->sig_int = evsignal_new(a->base, SIGINT, on_signal, a);
	a->sig_term = evsignal_new(a->base, SIGTERM, on_signal, a);
	if (!a->sig_int || !a->sig_term || event_add(a->sig_int, NULL) ||
	    event_add(a->sig_term, NULL))
		return -1;
	signal(SIGPIPE, SIG_IGN);
	pr_info("node %s streaming to %s:%s", tp.node, tp.host, tp.port);
	event_base_dispatch(a->base);
	if (!a->failed)
		on_drain(-1, 0, a); /* last records and carry into the spool */
	/* nothing is read after this: a restart has nothing to report */
	if (!a->failed && spool_carry(a, true))
		a->failed = true;
	return a->failed ? -1 : 0;
}

static void cleanup(struct agent *a)
{
	bool remove = a->cfg && config_bool(a->cfg, "agent", "remove_instance");

	transport_destroy(a->transport);
	if (a->drain_ev)
		event_free(a->drain_ev);
	for (int c = 0; a->wake_ev && c < a->n_wake; c++)
		if (a->wake_ev[c])
			event_free(a->wake_ev[c]);
	free(a->wake_ev);
	if (a->scope_ev)
		event_free(a->scope_ev);
	if (a->sig_int)
		event_free(a->sig_int);
	if (a->sig_term)
		event_free(a->sig_term);
	ptp_destroy(a->ptp);
	agent_clock_destroy(a->clock);
	encoder_destroy(a->enc);
	spool_close(a->spool);
	trace_close(a->trace, remove);
	if (a->trace || remove)
		uprobe_destroy_all(a->cfg);
	if (a->base) {
		/*
		 * A bufferevent with deferred callbacks is finalized by the
		 * loop, not by bufferevent_free(): run it once more so the
		 * TLS connection is really freed before the base is.
		 */
		event_base_loop(a->base, EVLOOP_NONBLOCK);
		event_base_free(a->base);
	}
	bytebuf_release(&a->frames);
	bytebuf_release(&a->carry);
	free(a->loss_store);
	free(a->loss_ptrs);
	config_destroy(a->cfg);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-example", no_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL },
	};
	struct agent a = { 0 };
	const char *file = NULL;
	bool check = false, example = false, verbose = false;
	char **sets = calloc(argc + 1, sizeof(*sets));
	int n_sets = 0, opt, level, ret;

	log_setup("netrv-agent", LOG_INFO);
	a.cfg = agent_config_create();
	if (!a.cfg || !sets)
		return 1;
	while ((opt = getopt_long(argc, argv, "c:o:vh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'o':
			sets[n_sets++] = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'E':
			example = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			config_print_help(a.cfg, stdout);
			free(sets);
			config_destroy(a.cfg);
			return 0;
		default:
			fprintf(stderr, "try 'netrv-agent --help'\n");
			free(sets);
			config_destroy(a.cfg);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++)
		sets[n_sets++] = argv[i];
	if (example) {
		config_print_example(a.cfg, stdout);
		free(sets);
		config_destroy(a.cfg);
		return 0;
	}
	if (file && config_read(a.cfg, file)) {
		fprintf(stderr, "netrv-agent: %s\n", config_error(a.cfg));
		goto bad_config;
	}
	for (int i = 0; i < n_sets; i++) {
		if (config_override(a.cfg, sets[i])) {
			fprintf(stderr, "netrv-agent: %s\n",
				config_error(a.cfg));
			goto bad_config;
		}
	}
	level = log_parse_level(config_string(a.cfg, "agent", "log_level"));
	if (level < 0) {
		fprintf(stderr,
			"netrv-agent: agent.log_level '%s' is not err, warning, notice, info or debug\n",
			config_string(a.cfg, "agent", "log_level"));
		goto bad_config;
	}
	if (config_int(a.cfg, "collector", "backoff_min") >
	    config_int(a.cfg, "collector", "backoff_max")) {
		fprintf(stderr,
			"netrv-agent: collector.backoff_min is above backoff_max\n");
		goto bad_config;
	}
	if ((enum scope_mode)config_enum(a.cfg, "agent", "scope") ==
		    SCOPE_PIDS &&
	    !config_string(a.cfg, "agent", "pids")) {
		fprintf(stderr,
			"netrv-agent: agent.scope = pids needs agent.pids\n");
		goto bad_config;
	}
	free(sets);
	if (check) {
		printf("netrv-agent: configuration OK\n");
		config_destroy(a.cfg);
		return 0;
	}
	log_setup("netrv-agent", verbose ? LOG_DEBUG : level);
	ret = run(&a);
	if (ret)
		pr_err("stopped on error");
	else
		pr_info("stopped; %llu events streamed this run",
			(unsigned long long)a.events_sent);
	cleanup(&a);
	return ret ? 1 : 0;
bad_config:
	free(sets);
	config_destroy(a.cfg);
	return 2;
}
