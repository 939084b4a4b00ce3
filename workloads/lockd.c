// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lockd.c - netrv-lockd: a small user-space lock service for the demo.
 *
 * One node of the local cluster runs the server; clients (netrv-lockc) in
 * the other nodes take shared and exclusive locks on named resources over
 * TCP (protocol in lockproto.h).  No kernel tracepoint sees such a service:
 * netrv watches it through uprobes on the clients' lock_acquired() and
 * lock_releasing() functions, the way a user would watch Redis, etcd or
 * their own lock service.
 *
 * The fault switch makes the service wrong on purpose: while it is on,
 * a request that conflicts with a current holder is granted anyway with
 * probability --fault-rate percent, so two clients hold incompatible modes
 * at once.  SIGUSR1 turns it on, SIGUSR2 off (deploy/cluster/local.sh fault
 * on|off).  Every such grant is logged ("lockd: fault ..."), so a test can
 * compare what netrv reports with what really happened.
 *
 * Single-threaded poll() loop; requests are served in arrival order per
 * resource (a request waits behind earlier waiters, so exclusive requests
 * are not starved).  Tables are small fixed arrays: this is a workload,
 * not a product.
 *
 * Output (stdout): "lockd: listening ...", "lockd: fault on|off",
 * "lockd: fault granted ...", "lockd: client ... gone grants=G",
 * "lockd: done grants=G releases=R faults=F clients=C".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_SUBSYS "lockd"
#include "lockproto.h"
#include "log.h"
#include "wl_util.h"

#define LOCKD_MAX_CLIENTS 64
#define LOCKD_MAX_RES 256
#define LOCKD_MAX_HOLDS 1024

struct lockd_client {
	int fd; /* -1: free slot */
	unsigned int id;
	char node[LOCKP_NAME_MAX + 1];
	char in[LOCKP_LINE_MAX];
	size_t inlen;
	/* the one request a client may have waiting */
	int wait_res; /* -1: none */
	int wait_mode;
	uint64_t wait_seq;
	uint64_t grants;
	uint64_t sent, received; /* messages after the hello */
};

struct lockd_hold {
	int client; /* -1: free slot */
	int res;
	int mode;
};

struct lockd {
	struct lockd_client clients[LOCKD_MAX_CLIENTS];
	char res[LOCKD_MAX_RES][LOCKP_NAME_MAX + 1];
	struct lockd_hold holds[LOCKD_MAX_HOLDS];
	uint64_t seq, rng, grants, releases, faults;
	unsigned int next_id, fault_rate;
	int fault;
};

/*
 * Message hooks for causal pairs (see lock_msg_sent() in lockc.c): after a
 * client's hello, its requests and our replies are numbered 1, 2, ...;
 * lockd_msg_received() runs once a request line is read, lockd_msg_sent()
 * right before a reply is sent.
 */
#define LOCKD_TRACED __attribute__((noinline, used, visibility("default")))

LOCKD_TRACED void lockd_msg_sent(const char *node, uint64_t seq);
LOCKD_TRACED void lockd_msg_received(const char *node, uint64_t seq);

LOCKD_TRACED void lockd_msg_sent(const char *node, uint64_t seq)
{
	(void)node;
	(void)seq;
	__asm__ volatile("" ::: "memory");
}

LOCKD_TRACED void lockd_msg_received(const char *node, uint64_t seq)
{
	(void)node;
	(void)seq;
	__asm__ volatile("" ::: "memory");
}

static void lockd_send(struct lockd_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void lockd_send(struct lockd_client *c, const char *fmt, ...)
{
	char line[LOCKP_LINE_MAX + 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->node[0])
		lockd_msg_sent(c->node, ++c->sent);
	/* Replies are tiny and the client reads them right away: a blocking
	 * send on a healthy connection does not stall the loop.  A failure
	 * shows up as EOF on the next poll. */
	if (send(c->fd, line, n, MSG_NOSIGNAL) != n)
		pr_debug("send to client %u: %m", c->id);
}

static int lockd_res_find(struct lockd *d, const char *name, int create)
{
	int free_slot = -1;

	for (int i = 0; i < LOCKD_MAX_RES; i++) {
		if (!strcmp(d->res[i], name))
			return i;
		if (!d->res[i][0] && free_slot < 0)
			free_slot = i;
	}
	if (!create || free_slot < 0)
		return -1;
	strcpy(d->res[free_slot], name);
	return free_slot;
}

/* Forget a resource nobody holds or waits for, so the table stays small. */
static void lockd_res_gc(struct lockd *d, int res)
{
	for (int i = 0; i < LOCKD_MAX_HOLDS; i++)
		if (d->holds[i].client >= 0 && d->holds[i].res == res)
			return;
	for (int i = 0; i < LOCKD_MAX_CLIENTS; i++)
		if (d->clients[i].fd >= 0 && d->clients[i].wait_res == res)
			return;
	d->res[res][0] = '\0';
}

/* A holder of @res whose mode is incompatible with @mode, or -1. */
static int lockd_conflict(struct lockd *d, int res, int mode, int self)
{
	for (int i = 0; i < LOCKD_MAX_HOLDS; i++) {
		struct lockd_hold *h = &d->holds[i];

		if (h->client >= 0 && h->res == res && h->client != self &&
		    !lockp_compatible(h->mode, mode))
			return i;
	}
	return -1;
}

static int lockd_grant(struct lockd *d, int ci, int res, int mode)
{
	struct lockd_client *c = &d->clients[ci];

	for (int i = 0; i < LOCKD_MAX_HOLDS; i++) {
		if (d->holds[i].client >= 0)
			continue;
		d->holds[i] = (struct lockd_hold){ ci, res, mode };
		c->wait_res = -1;
		c->grants++;
		d->grants++;
		lockd_send(c, "G %s %d\n", d->res[res], mode);
		return 0;
	}
	return -1;
}

/* The oldest waiter on @res, or -1. */
static int lockd_oldest_waiter(struct lockd *d, int res)
{
	int best = -1;

	for (int i = 0; i < LOCKD_MAX_CLIENTS; i++) {
		struct lockd_client *c = &d->clients[i];

		if (c->fd >= 0 && c->wait_res == res &&
		    (best < 0 || c->wait_seq < d->clients[best].wait_seq))
			best = i;
	}
	return best;
}

/* Grant waiters of @res in arrival order while they fit. */
static void lockd_wake(struct lockd *d, int res)
{
	int w;

	while ((w = lockd_oldest_waiter(d, res)) >= 0) {
		int mode = d->clients[w].wait_mode;

		if (lockd_conflict(d, res, mode, w) >= 0 ||
		    lockd_grant(d, w, res, mode))
			return;
	}
	lockd_res_gc(d, res);
}

static void lockd_request(struct lockd *d, int ci, const char *name, int mode)
{
	struct lockd_client *c = &d->clients[ci];
	int res = lockd_res_find(d, name, 1);
	int conflict;

	if (res < 0) {
		lockd_send(c, "E too many resources\n");
		return;
	}
	conflict = lockd_conflict(d, res, mode, ci);
	if (conflict < 0 && lockd_oldest_waiter(d, res) < 0) {
		if (lockd_grant(d, ci, res, mode))
			lockd_send(c, "E too many holds\n");
		return;
	}
	if (conflict >= 0 && d->fault &&
	    wl_rand(&d->rng) % 100 < d->fault_rate) {
		struct lockd_hold *h = &d->holds[conflict];
		struct lockd_client *o = &d->clients[h->client];

		if (lockd_grant(d, ci, res, mode) == 0) {
			d->faults++;
			printf("lockd: fault granted name=%s mode=%s node=%s client=%u while node=%s client=%u holds mode=%s\n",
			       name, lockp_mode_name(mode), c->node, c->id,
			       o->node, o->id, lockp_mode_name(h->mode));
			return;
		}
	}
	c->wait_res = res;
	c->wait_mode = mode;
	c->wait_seq = ++d->seq;
}

static void lockd_release(struct lockd *d, int ci, const char *name)
{
	struct lockd_client *c = &d->clients[ci];
	int res = lockd_res_find(d, name, 0);

	for (int i = 0; res >= 0 && i < LOCKD_MAX_HOLDS; i++) {
		struct lockd_hold *h = &d->holds[i];

		if (h->client == ci && h->res == res) {
			h->client = -1;
			d->releases++;
			lockd_send(c, "R %s\n", name);
			lockd_wake(d, res);
			return;
		}
	}
	lockd_send(c, "E %s is not held\n", name);
}

static void lockd_drop(struct lockd *d, int ci)
{
	struct lockd_client *c = &d->clients[ci];

	printf("lockd: client=%u node=%s gone grants=%" PRIu64 "\n", c->id,
	       c->node, c->grants);
	close(c->fd);
	c->fd = -1;
	c->wait_res = -1;
	for (int i = 0; i < LOCKD_MAX_HOLDS; i++) {
		struct lockd_hold *h = &d->holds[i];

		if (h->client == ci) {
			h->client = -1;
			lockd_wake(d, h->res);
		}
	}
}

/* One request line (without the newline).  Return -1 to drop the client. */
static int lockd_line(struct lockd *d, int ci, char *line)
{
	struct lockd_client *c = &d->clients[ci];
	char *op = strtok(line, " "), *a = strtok(NULL, " ");
	char *b = strtok(NULL, " "), *extra = strtok(NULL, " ");

	if (!op || !a || !lockp_valid_name(a) || extra)
		goto bad;
	if (!strcmp(op, "H") && !b) {
		strcpy(c->node, a);
		return 0;
	}
	if (c->node[0])
		lockd_msg_received(c->node, ++c->received);
	if (c->wait_res >= 0) {
		lockd_send(c, "E one request at a time\n");
		return -1;
	}
	if (!strcmp(op, "L") && b && (!strcmp(b, "0") || !strcmp(b, "1"))) {
		lockd_request(d, ci, a, b[0] - '0');
		return 0;
	}
	if (!strcmp(op, "U") && !b) {
		lockd_release(d, ci, a);
		return 0;
	}
bad:
	lockd_send(c, "E bad request\n");
	return -1;
}

static void lockd_read(struct lockd *d, int ci)
{
	struct lockd_client *c = &d->clients[ci];
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	char *nl;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		lockd_drop(d, ci);
		return;
	}
	c->inlen += n;
	while ((nl = memchr(c->in, '\n', c->inlen))) {
		size_t len = nl - c->in + 1;

		*nl = '\0';
		if (lockd_line(d, ci, c->in)) {
			lockd_drop(d, ci);
			return;
		}
		memmove(c->in, c->in + len, c->inlen - len);
		c->inlen -= len;
	}
	if (c->inlen == sizeof(c->in)) {
		lockd_send(c, "E line too long\n");
		lockd_drop(d, ci);
	}
}

static void lockd_accept(struct lockd *d, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), one = 1;

	if (fd < 0) {
		pr_warning("accept: %m");
		return;
	}
	for (int i = 0; i < LOCKD_MAX_CLIENTS; i++) {
		struct lockd_client *c = &d->clients[i];

		if (c->fd >= 0)
			continue;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		*c = (struct lockd_client){ .fd = fd,
					    .id = ++d->next_id,
					    .wait_res = -1 };
		strcpy(c->node, "?");
		return;
	}
	pr_warning("too many clients (%d): refusing one", LOCKD_MAX_CLIENTS);
	close(fd);
}

static int lockd_listen(const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(addr, ':');
	uint64_t port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host) ||
	    wl_parse_u64("listen", colon + 1, 1, 65535, &port))
		goto bad;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = '\0';
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		goto bad;
	sin.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 64)) {
		pr_err("listen on %s: %m", addr);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
bad:
	pr_err("--listen: '%s' is not IPV4:PORT", addr);
	return -1;
}

static void lockd_usage(FILE *out)
{
	fputs("usage: netrv-lockd [options]\n"
	      "  --listen IPV4:PORT   address to serve (default 0.0.0.0:7411)\n"
	      "  --fault              start with the fault switch on\n"
	      "  --fault-rate P       percent of conflicting requests granted\n"
	      "                       while the switch is on (default 25)\n"
	      "  --seed S             random seed, 0 = from the clock\n"
	      "SIGUSR1 turns the fault switch on, SIGUSR2 off; SIGTERM stops.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "fault", no_argument, NULL, 'f' },
		{ "fault-rate", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct lockd d;
	struct pollfd pfd[2 + LOCKD_MAX_CLIENTS];
	const char *listen_addr = "0.0.0.0:7411";
	uint64_t rate = 25, seed = 0;
	int c, lfd, sfd, running = 1;
	sigset_t mask;

	log_setup("netrv-lockd", LOG_INFO);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'f':
			d.fault = 1;
			break;
		case 'r':
			if (wl_parse_u64("fault-rate", optarg, 0, 100, &rate))
				return 2;
			break;
		case 's':
			if (wl_parse_u64("seed", optarg, 0, UINT64_MAX, &seed))
				return 2;
			break;
		case 'h':
			lockd_usage(stdout);
			return 0;
		default:
			lockd_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		lockd_usage(stderr);
		return 2;
	}
	d.fault_rate = rate;
	d.rng = wl_seed(seed);
	for (int i = 0; i < LOCKD_MAX_CLIENTS; i++)
		d.clients[i].fd = -1;
	for (int i = 0; i < LOCKD_MAX_HOLDS; i++)
		d.holds[i].client = -1;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	lfd = lockd_listen(listen_addr);
	if (sfd < 0 || lfd < 0) {
		if (sfd < 0)
			pr_err("signalfd: %m");
		return 2;
	}
	printf("lockd: listening on %s pid=%d fault=%s fault_rate=%u\n",
	       listen_addr, (int)getpid(), d.fault ? "on" : "off",
	       d.fault_rate);

	while (running) {
		int n = 0, map[LOCKD_MAX_CLIENTS];

		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < LOCKD_MAX_CLIENTS; i++) {
			if (d.clients[i].fd < 0)
				continue;
			map[n - 2] = i;
			pfd[n++] = (struct pollfd){ .fd = d.clients[i].fd,
						    .events = POLLIN };
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("poll: %m");
			return 2;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGUSR1 ||
				    si.ssi_signo == SIGUSR2) {
					d.fault = si.ssi_signo == SIGUSR1;
					printf("lockd: fault %s\n",
					       d.fault ? "on" : "off");
				} else {
					running = 0;
				}
			}
		}
		for (int i = 2; i < n; i++)
			if (pfd[i].revents && d.clients[map[i - 2]].fd >= 0 &&
			    d.clients[map[i - 2]].fd == pfd[i].fd)
				lockd_read(&d, map[i - 2]);
		if (pfd[1].revents)
			lockd_accept(&d, lfd);
	}
	printf("lockd: done grants=%" PRIu64 " releases=%" PRIu64
	       " faults=%" PRIu64 " clients=%u\n",
	       d.grants, d.releases, d.faults, d.next_id);
	return 0;
}
