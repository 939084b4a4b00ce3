// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * http_testd.c - a TEST server for the dashboard: the real HTTP side
 * (collector/http) fed by feed.c and the TEST provider with a made-up
 * workload of three nodes passing locks around with messages.  The browser
 * test drives it; people can look at the page with it too:
 *
 *   http_testd [-a ADDR] [-p PORT] [-t TOKEN]   prints "listening PORT"
 *
 * Commands on stdin, one per line:
 *   violate    two nodes hold the hostile resource in EX at once (definite)
 *   possible   a grant within epsilon of the other node's release (possible)
 *   down NODE / up NODE    mark a node unreachable / up again
 *   quit
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "clocks.h"
#include "feed.h"
#include "http.h"
#include "log.h"
#include "test_provider.h"

#define HOSTILE "<img src=x onerror=window.__pwned=1>"

static const char *const resources[] = {
	"inode 8:1/1234",
	"vg0/lv_data",
	HOSTILE,
	"gfs2/\xff\xfe-not-utf8",
};
#define N_RES (sizeof(resources) / sizeof(resources[0]))

struct testd {
	struct event_base *base;
	struct http *h;
	struct http_nodes *ns;
	struct test_provider *tp;
	struct feed f;
	struct cnode *nodes[3];
	int holder[N_RES]; /* node index holding each resource in EX/PR */
	int mode[N_RES];
	unsigned int next_res;
	uint64_t msg, last_tai;
	char line[256];
	size_t line_len;
};

/* Stamps strictly increase, as the merge would release them. */
static uint64_t tick_tai(struct testd *d)
{
	uint64_t t = clocks_now(CLOCK_TAI);

	if (t <= d->last_tai)
		t = d->last_tai + 1000;
	d->last_tai = t;
	return t;
}

static void feed_res(struct testd *d, struct cnode *n, uint64_t t,
		     unsigned int r, int mode, enum feed_op op)
{
	feed_lock(&d->f, n, t, resources[r], strlen(resources[r]), mode, op);
}

/* Hand resource @r to the next node, ordered by a message. */
static void pass_on(struct testd *d, unsigned int r)
{
	int from = d->holder[r], to = (from + 1) % 3;
	uint64_t t = tick_tai(d);

	feed_res(d, d->nodes[from], t, r, d->mode[r], FEED_RELEASE);
	feed_msg(&d->f, d->nodes[from], t + 20000, FEED_SEND, resources[r],
		 strlen(resources[r]), ++d->msg);
	feed_msg(&d->f, d->nodes[to], t + 140000, FEED_RECV, resources[r],
		 strlen(resources[r]), d->msg);
	d->mode[r] = (d->msg % 3) ? 5 : 4;
	feed_res(d, d->nodes[to], t + 160000, r, d->mode[r], FEED_GRANT);
	d->holder[r] = to;
	d->last_tai = t + 160000;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct testd *d = arg;
	uint64_t wm;
	int i;

	pass_on(d, d->next_res++ % N_RES);
	wm = d->last_tai;
	feed_watermark(&d->f, wm);
	for (i = 0; i < 3; i++) {
		http_nodes_watermark(d->ns, d->nodes[i], wm + 1000000);
		http_nodes_queue(d->ns, d->nodes[i], (d->msg * (i + 1)) % 7);
	}
}

static void violate(struct testd *d, bool possible)
{
	unsigned int r = 2; /* the hostile name */
	int from = d->holder[r], to = (from + 2) % 3;
	uint64_t t = tick_tai(d);

	if (possible) {
		/* Release, then a grant 1 us later (inside every epsilon), no message. */
		feed_res(d, d->nodes[from], t, r, d->mode[r], FEED_RELEASE);
		d->mode[r] = 5;
		feed_res(d, d->nodes[to], t + 1000, r, 5, FEED_GRANT);
		d->holder[r] = to;
		d->last_tai = t + 1000;
		return;
	}
	feed_res(d, d->nodes[to], t, r, 5, FEED_GRANT);
	/* ... and give it back so the workload goes on. */
	feed_res(d, d->nodes[to], t + 2000000, r, 5, FEED_RELEASE);
	d->last_tai = t + 2000000;
}

static struct cnode *find_node(struct testd *d, const char *name)
{
	int i;

	for (i = 0; i < 3; i++)
		if (!strcmp(d->nodes[i]->name, name))
			return d->nodes[i];
	return NULL;
}

static void command(struct testd *d, char *cmd)
{
	struct cnode *n;

	if (!strcmp(cmd, "violate")) {
		violate(d, false);
	} else if (!strcmp(cmd, "possible")) {
		violate(d, true);
	} else if (!strncmp(cmd, "down ", 5) && (n = find_node(d, cmd + 5))) {
		feed_state(&d->f, n, CNODE_UNREACHABLE, tick_tai(d));
	} else if (!strncmp(cmd, "up ", 3) && (n = find_node(d, cmd + 3))) {
		feed_state(&d->f, n, CNODE_UP, tick_tai(d));
	} else if (!*cmd) {
		return;
	} else if (!strcmp(cmd, "quit")) {
		event_base_loopexit(d->base, NULL);
		return;
	} else {
		fprintf(stderr, "http_testd: unknown command '%s'\n", cmd);
		return;
	}
	printf("ok %s\n", cmd);
	fflush(stdout);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
	struct testd *d = arg;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));
	ssize_t i;

	if (n <= 0) {
		event_base_loopexit(d->base, NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			d->line[d->line_len] = '\0';
			command(d, d->line);
			d->line_len = 0;
		} else if (d->line_len < sizeof(d->line) - 1) {
			d->line[d->line_len++] = buf[i];
		}
	}
}

int main(int argc, char **argv)
{
	struct http_config cfg;
	struct event *ev_tick = NULL, *ev_in = NULL;
	struct timeval period = { 0, 100000 };
	struct testd d;
	int c, i, rc = 1;

	log_setup("http_testd", LOG_INFO);
	memset(&d, 0, sizeof(d));
	http_config_default(&cfg);
	cfg.port = 0;
	while ((c = getopt(argc, argv, "a:p:t:")) != -1) {
		switch (c) {
		case 'a':
			cfg.address = optarg;
			break;
		case 'p':
			cfg.port = atoi(optarg);
			break;
		case 't':
			cfg.token = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: http_testd [-a ADDR] [-p PORT] [-t TOKEN]\n");
			return 2;
		}
	}
	d.base = event_base_new();
	if (!d.base)
		return 1;
	d.h = http_create(d.base, &cfg);
	if (!d.h)
		goto out;
	d.ns = http_nodes_create(d.h);
	d.tp = test_provider_create(d.h);
	if (!d.ns || !d.tp)
		goto out;
	http_add_provider(d.h, http_nodes_provider(d.ns));
	http_add_provider(d.h, test_provider_provider(d.tp));
	feed_init(&d.f);
	feed_add_consumer(&d.f, http_nodes_consumer(d.ns));
	feed_add_consumer(&d.f, test_provider_consumer(d.tp));
	d.nodes[0] =
		feed_node(&d.f, "alpha", NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP,
			  true, 2300, 1200);
	d.nodes[1] =
		feed_node(&d.f, "beta", NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP,
			  true, 4100, -3400);
	d.nodes[2] = feed_node(&d.f, "gamma",
			       NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP,
			       false, 80000, 0);
	for (i = 0; i < (int)N_RES; i++) {
		uint64_t t = tick_tai(&d);

		d.holder[i] = i % 3;
		d.mode[i] = 5;
		feed_res(&d, d.nodes[i % 3], t, i, 5, FEED_GRANT);
	}
	for (i = 0; i < 3; i++)
		feed_state(&d.f, d.nodes[i], CNODE_UP, tick_tai(&d));
	ev_tick = event_new(d.base, -1, EV_PERSIST, tick, &d);
	ev_in = event_new(d.base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin,
			  &d);
	if (!ev_tick || !ev_in || event_add(ev_tick, &period) ||
	    event_add(ev_in, NULL))
		goto out;
	printf("listening %u\n", http_port(d.h));
	fflush(stdout);
	event_base_dispatch(d.base);
	rc = 0;
out:
	if (ev_tick)
		event_free(ev_tick);
	if (ev_in)
		event_free(ev_in);
	http_destroy(d.h);
	http_nodes_destroy(d.ns);
	test_provider_destroy(d.tp);
	event_base_free(d.base);
	return rc;
}
