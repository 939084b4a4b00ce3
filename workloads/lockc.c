// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lockc.c - netrv-lockc: a client of the demo lock service (netrv-lockd).
 *
 * Each operation asks the server for a shared or exclusive lock on one of
 * a few named resources, holds it a moment and releases it.  Right after
 * the server grants a lock the client calls lock_acquired(name, mode);
 * right before it releases one it calls lock_releasing(name).  These are
 * the user's view of the lock ("I now hold L in mode M", "I let go of L"),
 * and they are what netrv traces: real, exported, never-inlined functions
 * an agent puts uprobes on.  On x86-64 the arguments are in %di and %si:
 *
 *   p:GROUP/acquired /path/netrv-lockc:OFFSET name=+0(%di):string mode=%si:s32
 *   p:GROUP/releasing /path/netrv-lockc:OFFSET name=+0(%di):string
 *
 * where OFFSET is the symbol's file offset (nm + the LOAD segment that holds
 * it; see deploy/cluster/README.md).
 *
 * Output (stdout): "lockc: start ...", with --log-ops one line per call
 * ("lockc: acquired name=N mode=M", "lockc: releasing name=N"), and at the
 * end "lockc: done node=N ops=N shared=S exclusive=X".
 * Exit status: 0 when every operation was done (or SIGTERM came), 2 on
 * usage errors or when the server failed or went away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOG_SUBSYS "lockc"
#include "lockproto.h"
#include "log.h"
#include "wl_util.h"

/* The traced functions: keep them out of line, visible and not merged. */
#define LOCKC_TRACED __attribute__((noinline, used, visibility("default")))

LOCKC_TRACED void lock_acquired(const char *name, int mode);
LOCKC_TRACED void lock_releasing(const char *name);
LOCKC_TRACED void lock_msg_sent(const char *node, uint64_t seq);
LOCKC_TRACED void lock_msg_received(const char *node, uint64_t seq);

static int lockc_log_ops;
static uint64_t lockc_held;

LOCKC_TRACED void lock_acquired(const char *name, int mode)
{
	lockc_held++;
	if (lockc_log_ops)
		printf("lockc: acquired name=%s mode=%d\n", name, mode);
	__asm__ volatile("" ::: "memory");
}

LOCKC_TRACED void lock_releasing(const char *name)
{
	lockc_held--;
	if (lockc_log_ops)
		printf("lockc: releasing name=%s\n", name);
	__asm__ volatile("" ::: "memory");
}

/*
 * Message hooks for causal pairs: the client's requests after its hello
 * are numbered 1, 2, ... and so are the server's replies; lock_msg_sent()
 * runs right before a request is sent, lock_msg_received() right after a
 * reply is read.  netrv-lockd has the same pair of functions for its side,
 * so (node, seq) names one message on both ends: a send -> receive edge.
 */
LOCKC_TRACED void lock_msg_sent(const char *node, uint64_t seq)
{
	(void)node;
	(void)seq;
	__asm__ volatile("" ::: "memory");
}

LOCKC_TRACED void lock_msg_received(const char *node, uint64_t seq)
{
	(void)node;
	(void)seq;
	__asm__ volatile("" ::: "memory");
}

struct lockc_conn {
	int fd;
	const char *node;
	uint64_t sent, received; /* messages after the hello */
	char in[LOCKP_LINE_MAX];
	size_t inlen;
};

static int lockc_connect(const char *addr, uint64_t timeout_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *colon = strrchr(addr, ':');
	uint64_t port, waited = 0;
	char host[64];
	int one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host) ||
	    wl_parse_u64("server", colon + 1, 1, 65535, &port))
		goto bad;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		goto bad;
	sin.sin_port = htons(port);
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			pr_err("socket: %m");
			return -1;
		}
		if (!connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			return fd;
		}
		close(fd);
		/* The server may still be starting: retry for a while. */
		if ((errno != ECONNREFUSED && errno != ENETUNREACH) ||
		    waited >= timeout_ms || wl_stop) {
			pr_err("connect to %s: %m (is netrv-lockd running there?)",
			       addr);
			return -1;
		}
		wl_sleep_us(100000);
		waited += 100;
	}
bad:
	pr_err("--server: '%s' is not IPV4:PORT", addr);
	return -1;
}

static int lockc_send(struct lockc_conn *c, const char *line)
{
	size_t len = strlen(line);

	if (send(c->fd, line, len, MSG_NOSIGNAL) != (ssize_t)len) {
		pr_err("send to server: %m");
		return -1;
	}
	return 0;
}

/*
 * Read one reply line into @out (newline removed).  Return 0, or -1 on
 * EOF, error or a stop signal.
 */
static int lockc_recv(struct lockc_conn *c, char *out, size_t size)
{
	for (;;) {
		char *nl = memchr(c->in, '\n', c->inlen);
		ssize_t n;

		if (nl) {
			size_t len = nl - c->in;

			if (len >= size)
				len = size - 1;
			memcpy(out, c->in, len);
			out[len] = '\0';
			c->inlen -= nl - c->in + 1;
			memmove(c->in, nl + 1, c->inlen);
			return 0;
		}
		if (c->inlen == sizeof(c->in)) {
			pr_err("reply line too long");
			return -1;
		}
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n < 0 && errno == EINTR && !wl_stop)
			continue;
		if (n <= 0) {
			if (!wl_stop)
				pr_err("server closed the connection%s",
				       n < 0 ? " with an error" : "");
			return -1;
		}
		c->inlen += n;
	}
}

/* Send @req and expect a reply equal to @expect. */
static int lockc_call(struct lockc_conn *c, const char *req, const char *expect)
{
	char reply[LOCKP_LINE_MAX];

	lock_msg_sent(c->node, ++c->sent);
	if (lockc_send(c, req) || lockc_recv(c, reply, sizeof(reply)))
		return -1;
	lock_msg_received(c->node, ++c->received);
	if (strcmp(reply, expect)) {
		pr_err("server replied '%s' to '%.*s'", reply,
		       (int)strcspn(req, "\n"), req);
		return -1;
	}
	return 0;
}

static void lockc_usage(FILE *out)
{
	fputs("usage: netrv-lockc --server IPV4:PORT [options]\n"
	      "  --server IPV4:PORT   the netrv-lockd to use\n"
	      "  --node NAME          node name sent to the server (default: hostname)\n"
	      "  --ops N              operations, 0 = until SIGTERM (default 1000)\n"
	      "  --names K            resources res0..resK-1 (default 4)\n"
	      "  --prefix P           resource name prefix (default \"res\")\n"
	      "  --exclusive-pct P    percent of exclusive requests (default 50)\n"
	      "  --hold-us U          hold each lock up to U us (default 1000)\n"
	      "  --pause-us U         pause up to U us between operations (default 0)\n"
	      "  --seed S             random seed, 0 = from the clock\n"
	      "  --connect-timeout MS keep retrying the server this long (default 10000)\n"
	      "  --log-ops            print one line per lock_acquired/lock_releasing\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 'S' },
		{ "node", required_argument, NULL, 'n' },
		{ "ops", required_argument, NULL, 'o' },
		{ "names", required_argument, NULL, 'k' },
		{ "prefix", required_argument, NULL, 'P' },
		{ "exclusive-pct", required_argument, NULL, 'x' },
		{ "hold-us", required_argument, NULL, 'H' },
		{ "pause-us", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "connect-timeout", required_argument, NULL, 'c' },
		{ "log-ops", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t ops = 1000, names = 4, excl = 50, hold = 1000, pause_us = 0;
	uint64_t seed = 0, timeout = 10000, done = 0, count[2] = { 0, 0 };
	const char *server = NULL, *node = NULL, *prefix = "res";
	struct lockc_conn conn = { .fd = -1 };
	char host[64], req[LOCKP_LINE_MAX], want[LOCKP_LINE_MAX];
	int c, err = 0, status = 2;

	log_setup("netrv-lockc", LOG_INFO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'S':
			server = optarg;
			break;
		case 'n':
			node = optarg;
			break;
		case 'o':
			err |= wl_parse_u64("ops", optarg, 0, UINT32_MAX, &ops);
			break;
		case 'k':
			err |= wl_parse_u64("names", optarg, 1, 100000, &names);
			break;
		case 'P':
			prefix = optarg;
			break;
		case 'x':
			err |= wl_parse_u64("exclusive-pct", optarg, 0, 100,
					    &excl);
			break;
		case 'H':
			err |= wl_parse_u64("hold-us", optarg, 0, 10000000,
					    &hold);
			break;
		case 'p':
			err |= wl_parse_u64("pause-us", optarg, 0, 10000000,
					    &pause_us);
			break;
		case 's':
			err |= wl_parse_u64("seed", optarg, 0, UINT64_MAX,
					    &seed);
			break;
		case 'c':
			err |= wl_parse_u64("connect-timeout", optarg, 0,
					    3600000, &timeout);
			break;
		case 'l':
			lockc_log_ops = 1;
			break;
		case 'h':
			lockc_usage(stdout);
			return 0;
		default:
			lockc_usage(stderr);
			return 2;
		}
	}
	if (err || !server || optind != argc) {
		if (!err)
			pr_err("--server is required and there are no positional arguments (try --help)");
		return 2;
	}
	if (!node) {
		if (gethostname(host, sizeof(host) - 1))
			strcpy(host, "node");
		host[sizeof(host) - 1] = '\0';
		node = host;
	}
	snprintf(req, sizeof(req), "%s%" PRIu64, prefix, names - 1);
	if (!lockp_valid_name(node) || !lockp_valid_name(req)) {
		pr_err("node name '%s' or resource name '%s' is not 1..%d of [A-Za-z0-9._/-]",
		       node, req, LOCKP_NAME_MAX);
		return 2;
	}
	seed = wl_seed(seed);
	wl_handle_stop_signals();
	conn.fd = lockc_connect(server, timeout);
	if (conn.fd < 0)
		goto out;
	printf("lockc: start node=%s pid=%d server=%s seed=%" PRIu64
	       " ops=%" PRIu64 "\n",
	       node, (int)getpid(), server, seed, ops);
	conn.node = node;
	snprintf(req, sizeof(req), "H %s\n", node);
	if (lockc_send(&conn, req))
		goto out;

	while (!wl_stop && (!ops || done < ops)) {
		uint64_t r = wl_rand(&seed);
		int mode =
			(r >> 32) % 100 < excl ? LOCKP_EXCLUSIVE : LOCKP_SHARED;
		char name[LOCKP_NAME_MAX + 1];

		snprintf(name, sizeof(name), "%s%" PRIu64, prefix, r % names);
		snprintf(req, sizeof(req), "L %s %d\n", name, mode);
		snprintf(want, sizeof(want), "G %s %d", name, mode);
		if (lockc_call(&conn, req, want))
			break;
		lock_acquired(name, mode);
		if (hold)
			wl_sleep_us(wl_rand(&seed) % (hold + 1));
		lock_releasing(name);
		snprintf(req, sizeof(req), "U %s\n", name);
		snprintf(want, sizeof(want), "R %s", name);
		if (lockc_call(&conn, req, want))
			break;
		count[mode]++;
		done++;
		if (pause_us)
			wl_sleep_us(wl_rand(&seed) % (pause_us + 1));
	}
	if (wl_stop || done == ops)
		status = 0;
out:
	if (conn.fd >= 0)
		close(conn.fd);
	printf("lockc: done node=%s ops=%" PRIu64 " shared=%" PRIu64
	       " exclusive=%" PRIu64 "%s\n",
	       node ? node : "?", done, count[LOCKP_SHARED],
	       count[LOCKP_EXCLUSIVE], status ? " error=1" : "");
	return status;
}
