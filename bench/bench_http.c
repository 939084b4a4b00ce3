// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench_http.c - prints what the HTTP side costs the collector:
 *   - ns per merged event in the node statistics consumer (hot path),
 *   - ns per http_publish() of a 200-byte verdict to N subscribers that
 *     read (over 127.0.0.1, pumped on the same thread).
 *   bench_http [EVENTS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client.h"
#include "clocks.h"
#include "feed.h"
#include "http.h"
#include "log.h"

static double now_s(void)
{
	return clocks_now(CLOCK_MONOTONIC) / 1e9;
}

int main(int argc, char **argv)
{
	long events = argc > 1 ? atol(argv[1]) : 5000000;
	struct event_base *base = event_base_new();
	struct http_config cfg;
	struct http_stats st;
	struct http_nodes *ns;
	struct sse_reader subs[8];
	struct http *h;
	struct feed f;
	struct cnode *n[4];
	char verdict[256];
	uint64_t t = clocks_now(CLOCK_TAI);
	double t0, t1;
	long i;
	int k, nsub;

	log_setup("bench_http", LOG_WARNING);
	http_config_default(&cfg);
	cfg.port = 0;
	h = base ? http_create(base, &cfg) : NULL;
	ns = http_nodes_create(h);
	if (!h || !ns)
		return 1;
	feed_init(&f);
	feed_add_consumer(&f, http_nodes_consumer(ns));
	for (k = 0; k < 4; k++) {
		static const char *const names[] = { "a", "b", "c", "d" };

		n[k] = feed_node(&f, names[k],
				 NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP, true,
				 2000, 100);
	}
	t0 = now_s();
	for (i = 0; i < events; i++)
		feed_lock(&f, n[i & 3], t + i, "r", 1, 5, FEED_GRANT);
	t1 = now_s();
	printf("http_nodes consumer: %ld events, %.1f ns/event (includes the "
	       "feed's cevent setup)\n",
	       events, (t1 - t0) * 1e9 / events);

	memset(verdict, 'x', sizeof(verdict) - 1);
	verdict[sizeof(verdict) - 1] = '\0';
	memcpy(verdict, "{\"id\":1,\"pad\":\"", 15);
	verdict[sizeof(verdict) - 3] = '"';
	verdict[sizeof(verdict) - 2] = '}';
	for (nsub = 1; nsub <= 8; nsub *= 2) {
		int pubs = 20000;

		for (k = 0; k < nsub; k++)
			if (sse_open(base, http_port(h), "/events", NULL, 0,
				     &subs[k]))
				return 1;
		t0 = now_s();
		for (i = 0; i < pubs; i++) {
			http_publish(h, "verdict", verdict);
			if (!(i & 63))
				for (k = 0; k < nsub; k++)
					sse_poll(base, &subs[k], 0);
		}
		t1 = now_s();
		http_get_stats(h, &st);
		printf("http_publish: %d subscribers, %.0f ns/publish, %.0f "
		       "ns/publish/subscriber (end to end on one thread, "
		       "readers included; %llu dropped so far)\n",
		       nsub, (t1 - t0) * 1e9 / pubs,
		       (t1 - t0) * 1e9 / pubs / nsub,
		       (unsigned long long)st.sse_dropped);
		for (k = 0; k < nsub; k++)
			sse_close(&subs[k]);
		hc_pump(base, 20);
	}
	http_destroy(h);
	http_nodes_destroy(ns);
	event_base_free(base);
	return 0;
}
