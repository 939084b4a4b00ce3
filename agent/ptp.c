// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ptp.c - ask ptp4l how good the clock is, over its UNIX management socket.
 *
 * Spoken natively (no pmc): every poll period the agent sends three
 * management GETs (TIME_STATUS_NP, PORT_DATA_SET, CURRENT_DATA_SET) from a
 * datagram socket bound to its own path - ptp4l answers the sender's
 * address, so an unbound client never hears back.  A GET is the 34-byte PTP
 * header (messageType 0x0d MANAGEMENT, version 2), the target port identity
 * (all 0xff: any), hops, the action (GET = 0) and one MANAGEMENT TLV
 * (type 0x0001) with the management id and a zeroed data field of the
 * dataset's size, as pmc sends it.  Replies have action RESPONSE (2).
 *
 * Offsets of the reply data used here (data starts at byte 54):
 *   TIME_STATUS_NP:   master_offset s64 ns @0, gmPresent s32 @38,
 *                     gmIdentity 8 @42
 *   PORT_DATA_SET:    portIdentity 10 @0 (clock id 8), portState u8 @10
 *   CURRENT_DATA_SET: stepsRemoved u16 @0, offsetFromMaster @2 and
 *                     meanPathDelay @10 as TimeInterval (s64 ns << 16)
 * Multi-byte values are big-endian (network order).
 */
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOG_SUBSYS "ptp"
#include "agent.h"
#include "clocks.h"
#include "log.h"

#define MSG_MANAGEMENT 0x0d
#define ACTION_GET 0
#define ACTION_RESPONSE 2
#define TLV_MANAGEMENT 0x0001

struct ptp {
	int fd;
	struct sockaddr_un server, self;
	uint8_t domain;
	uint16_t seq;
	uint64_t period_ns;
	struct event *timer, *rx;
	struct ptp_status st;
	bool warned;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint16_t data_size(uint16_t id)
{
	switch (id) {
	case PTP_TIME_STATUS_NP:
		return 50;
	case PTP_PORT_DATA_SET:
		return 26;
	default:
		return 18; /* CURRENT_DATA_SET */
	}
}

static void send_get(struct ptp *p, uint16_t id)
{
	uint8_t msg[PTP_MGMT_HDR + 64];
	uint16_t dlen = data_size(id);
	size_t len = PTP_MGMT_HDR + dlen;

	memset(msg, 0, len);
	msg[0] = MSG_MANAGEMENT;
	msg[1] = 2; /* versionPTP */
	put16(msg + 2, (uint16_t)len);
	msg[4] = p->domain;
	/* sourcePortIdentity @20: our pid as a made-up port identity */
	put16(msg + 28, (uint16_t)getpid());
	put16(msg + 30, p->seq++);
	msg[32] = 0x04; /* controlField: management */
	msg[33] = 0x7f; /* logMessageInterval */
	memset(msg + 34, 0xff, 10); /* targetPortIdentity: any */
	msg[44] = 0; /* startingBoundaryHops */
	msg[45] = 0;
	msg[46] = ACTION_GET;
	put16(msg + 48, TLV_MANAGEMENT);
	put16(msg + 50, 2 + dlen);
	put16(msg + 52, id);
	if (sendto(p->fd, msg, len, 0, (struct sockaddr *)&p->server,
		   sizeof(p->server)) < 0) {
		if (!p->warned)
			pr_warning(
				"no ptp4l at %s: %m (clock reported as unsynchronised until it answers)",
				p->server.sun_path);
		p->warned = true;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ptp *p = arg;

	send_get(p, PTP_TIME_STATUS_NP);
	send_get(p, PTP_PORT_DATA_SET);
	send_get(p, PTP_CURRENT_DATA_SET);
	/* Silence for three periods: ptp4l is gone or hung. */
	if (p->st.answered &&
	    clocks_now(CLOCK_MONOTONIC) - p->st.sampled_mono_ns >
		    3 * p->period_ns) {
		pr_warning("ptp4l at %s stopped answering", p->server.sun_path);
		p->st.answered = false;
	}
}

static void parse(struct ptp *p, const uint8_t *m, size_t len)
{
	const uint8_t *d = m + PTP_MGMT_HDR;
	uint16_t id, tlv_len;

	if (len < PTP_MGMT_HDR || (m[0] & 0x0f) != MSG_MANAGEMENT ||
	    (m[46] & 0x0f) != ACTION_RESPONSE ||
	    get16(m + 48) != TLV_MANAGEMENT)
		return;
	id = get16(m + 52);
	tlv_len = get16(m + 50);
	if (tlv_len < 2 || PTP_MGMT_HDR + (size_t)tlv_len - 2 > len)
		return;
	switch (id) {
	case PTP_TIME_STATUS_NP:
		if (tlv_len - 2 < 50)
			return;
		p->st.master_offset_ns = (int64_t)get64(d);
		p->st.offset_ingress_ns = get64(d + 8);
		p->st.gm_present = get64(d + 38 - 4) & 0xffffffff;
		memcpy(p->st.gm_identity, d + 42, 8);
		break;
	case PTP_PORT_DATA_SET:
		if (tlv_len - 2 < 11)
			return;
		memcpy(p->st.clock_identity, d, 8);
		if (p->st.port_state != d[10])
			pr_info("port state %u -> %u", p->st.port_state, d[10]);
		p->st.port_state = d[10];
		break;
	case PTP_CURRENT_DATA_SET:
		if (tlv_len - 2 < 18)
			return;
		p->st.path_delay_ns = (int64_t)get64(d + 10) >> 16;
		break;
	default:
		return;
	}
	if (!p->st.answered)
		pr_info("ptp4l at %s answers", p->server.sun_path);
	p->st.answered = true;
	p->warned = false;
	p->st.sampled_mono_ns = clocks_now(CLOCK_MONOTONIC);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct ptp *p = arg;
	uint8_t buf[1500];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		parse(p, buf, (size_t)n);
}

static int set_path(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a->sun_path, path);
	return 0;
}

struct ptp *ptp_create(struct event_base *base, const char *server,
		       const char *self, uint8_t domain, uint64_t period_ns)
{
	struct ptp *p = calloc(1, sizeof(*p));
	struct timeval tv = { .tv_sec = period_ns / NSEC_PER_SEC,
			      .tv_usec = period_ns % NSEC_PER_SEC / 1000 };

	if (!p)
		return NULL;
	p->fd = -1;
	p->domain = domain;
	p->period_ns = period_ns;
	if (set_path(&p->server, server) || set_path(&p->self, self)) {
		pr_err("socket path too long: %s / %s", server, self);
		goto fail;
	}
	p->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		goto fail;
	unlink(self);
	if (bind(p->fd, (struct sockaddr *)&p->self, sizeof(p->self))) {
		pr_err("bind %s: %m (set ptp.self_address to a writable path)",
		       self);
		goto fail;
	}
	p->timer = event_new(base, -1, EV_PERSIST, on_timer, p);
	p->rx = event_new(base, p->fd, EV_READ | EV_PERSIST, on_read, p);
	if (!p->timer || !p->rx || event_add(p->timer, &tv) ||
	    event_add(p->rx, NULL))
		goto fail;
	on_timer(-1, 0, p);
	return p;
fail:
	ptp_destroy(p);
	return NULL;
}

void ptp_destroy(struct ptp *p)
{
	if (!p)
		return;
	if (p->timer)
		event_free(p->timer);
	if (p->rx)
		event_free(p->rx);
	if (p->fd >= 0) {
		close(p->fd);
		unlink(p->self.sun_path);
	}
	free(p);
}

const struct ptp_status *ptp_status(const struct ptp *p)
{
	return &p->st;
}
