// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_crash.c - kill -9 of the collector during a stream loses nothing
 * it acknowledged and delivers nothing twice.
 *
 * For each WAL sync policy (batch, always, none): three load-generator
 * agents stream over TLS at a fixed rate.  The
 * collector is killed with SIGKILL twice while they do and restarted on
 * the same port; the agents reconnect and resend what the HelloAck says is
 * missing.  When they have everything acknowledged, the last collector is
 * stopped and its JSON-lines event log must hold every event the agents
 * generated exactly once, with the content the generator defines for it
 * (the event log is cut back to the last checkpoint at restart and the WAL
 * replays the rest).
 */
#include "check.h"
#include "harness.h"

#define NODES 3
#define EVENTS 60000 /* per node */

struct seen {
	uint8_t once[NODES][EVENTS];
	long dup, bad;
	uint64_t last_seq[NODES];
	uint32_t last_idx[NODES];
	long order;
};

static void on_event(void *arg, const char *node, uint64_t seq, uint32_t index,
		     uint64_t k, uint64_t h)
{
	struct seen *s = arg;
	int i;

	if (sscanf(node, "n%d", &i) != 1 || i < 0 || i >= NODES ||
	    k >= EVENTS || h != loadgen_hash(node, k)) {
		s->bad++;
		return;
	}
	/* each node's local order survives crashes and replays */
	if (seq < s->last_seq[i] ||
	    (seq == s->last_seq[i] && index <= s->last_idx[i] && seq))
		s->order++;
	s->last_seq[i] = seq;
	s->last_idx[i] = index;
	if (s->once[i][k]++)
		s->dup++;
}

static pid_t start_loadgen(int port)
{
	char conn[64], pki[300];
	pid_t pid;

	snprintf(conn, sizeof(conn), "127.0.0.1:%d", port);
	snprintf(pki, sizeof(pki), "%s/pki", h_dir);
	pid = fork();
	if (!pid) {
		char nodes[16], events[16];

		snprintf(nodes, sizeof(nodes), "%d", NODES);
		snprintf(events, sizeof(events), "%d", EVENTS);
		execl(NETRV_LOADGEN, NETRV_LOADGEN, "-C", conn, "-p", pki, "-n",
		      nodes, "-P", "n", "-e", events, "-b", "200", "-w", "16",
		      "-r", "20000", "-l", "1500", "-t", "90", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Stream, crash twice, finish; check the event log.  Return: 0 or -1. */
static int crash_run(struct h_proc *coll, pid_t *lgp, const char *policy,
		     struct seen *seen)
{
	char listen[64], path[300];
	int status = -1;
	long n;

	REQUIRE(!h_collector_start(coll, "127.0.0.1:0",
				   "wal.checkpoint_interval=200ms", policy,
				   "collector.liveness_timeout=20s", NULL));
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", coll->port);
	*lgp = start_loadgen(coll->port);
	REQUIRE(*lgp > 0);

	for (int round = 0; round < 2; round++) {
		/* let it stream (and checkpoint) a while, then crash */
		h_sleep_ms(700);
		h_stop(coll, SIGKILL, 2000);
		h_sleep_ms(200);
		REQUIRE(!h_collector_start(
			coll, listen, "wal.checkpoint_interval=200ms", policy,
			policy, "collector.liveness_timeout=20s", NULL));
	}
	/* the agents finish once everything is acknowledged */
	for (uint64_t end = h_now_ms() + 100000; h_now_ms() < end;) {
		if (waitpid(*lgp, &status, WNOHANG) == *lgp) {
			*lgp = -1;
			break;
		}
		h_sleep_ms(50);
	}
	REQUIRE(*lgp < 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	{
		int st = h_stop(coll, SIGTERM, 10000);

		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	snprintf(path, sizeof(path), "%s/events.jsonl", h_dir);
	n = h_read_events(path, on_event, seen);
	CHECK_INT(n, (long)NODES * EVENTS);
	CHECK_INT(seen->dup, 0);
	CHECK_INT(seen->bad, 0);
	CHECK_INT(seen->order, 0);
	for (int i = 0; i < NODES; i++)
		for (int k = 0; k < EVENTS; k++)
			if (!CHECK(seen->once[i][k] == 1)) {
				fprintf(stderr,
					"node n%d event %d seen %u times\n", i,
					k, seen->once[i][k]);
				i = NODES;
				break;
			}
	/* what the restarts did (informational: depends on timing) */
	h_sh("grep -h -e 'WAL replayed' -e 'event log' -e 'torn record' %s/collector-*.log | cut -d' ' -f2- >&2",
	     h_dir);
	return check_failed ? -1 : 0;
out:
	return -1;
}

int main(int argc, char **argv)
{
	struct seen *seen = calloc(1, sizeof(*seen));
	struct h_proc coll = { 0 };
	static const char *const policies[] = { "wal.sync=batch",
						"wal.sync=always",
						"wal.sync=none" };
	pid_t lg = -1;

	REQUIRE(seen);
	REQUIRE(!h_setup("crash"));
	REQUIRE(!h_sh("%s %s/pki node n0 n1 n2", NETRV_PKI, h_dir));
	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		fprintf(stderr, "wal.sync=%s\n", policies[p] + 9);
		memset(seen, 0, sizeof(*seen));
		REQUIRE(!h_sh("rm -rf %s/wal %s/events.jsonl", h_dir, h_dir));
		REQUIRE(!crash_run(&coll, &lg, policies[p], seen));
	}
out:
	if (lg > 0) {
		kill(lg, SIGKILL);
		waitpid(lg, NULL, 0);
	}
	if (coll.pid > 0)
		h_stop(&coll, SIGKILL, 1000);
	if (check_failed)
		fprintf(stderr, "logs in %s (set NETRV_KEEP=1 to keep them)\n",
			h_dir);
	free(seen);
	h_cleanup();
	return check_summary(argv[0]);
}
