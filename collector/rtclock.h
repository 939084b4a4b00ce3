/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rtclock.h - a node's clock estimated by the collector from heartbeat
 * round trips (Cristian/NTP style), for nodes without a synchronised PTP
 * clock (DESIGN §3).
 *
 * An agent stamps each heartbeat with sent_ns (t1, its TAI estimate); the
 * collector notes its own TAI when it handles it (t2, also the time of the
 * Ack it sends at once, t3) and echoes t1 in the Ack; the agent stamps the
 * Ack's arrival (t4) and sends t1 and t4 back in its next heartbeat.  With
 * theta = agent TAI - collector TAI, causality alone gives
 *
 *	t1 - t2 <= theta <= t4 - t3
 *
 * (a message arrives after it was sent, whatever the delays and the
 * queueing on either side), so the midpoint is off by at most half the
 * width: the round trip minus the collector's own time, halved.  The
 * estimate with the smallest bound is kept; it ages by RTCLOCK_DRIFT_PPM
 * of the time since it was made.  A node's events then get
 *
 *	TAI = trace + tai_offset - theta
 *	eps = half width + the agent's own eps (its trace/TAI pairing)
 *	      + RTCLOCK_DRIFT_PPM * (time since the measurement + age of the
 *	        batch's oldest event)
 *
 * and the clock source CLOCK_SOURCE_ROUNDTRIP (not synced: weak).  The
 * reference is the collector's own CLOCK_TAI.
 *
 * A node's TAI must never move back: its events would fall behind what the
 * merge already released (reported as loss).  So the offset applied,
 * @applied, starts at 0 (the agent's own figures) and only ever decreases
 * (its TAI moves forward); where the estimate is above it, the difference
 * is added to eps instead:
 *
 *	TAI = trace + tai_offset - applied
 *	eps = |theta - applied| + half width (aged) + ...
 *
 * A node whose clock is behind is corrected; one whose clock is ahead
 * keeps its times and gets the skew in its eps (it is weakly synced).
 */
#ifndef NETRV_COLLECTOR_RTCLOCK_H
#define NETRV_COLLECTOR_RTCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "netrv.pb-c.h"

/* relative drift allowed between a free-running node clock and ours */
#define RTCLOCK_DRIFT_PPM 100
#define RTCLOCK_PENDING 8

struct rtclock {
	struct {
		uint64_t sent; /* the agent's t1 */
		uint64_t recv; /* our TAI when we handled it (t2 = t3) */
	} pend[RTCLOCK_PENDING]; /* heartbeats answered, not echoed yet */
	unsigned int next;
	bool have; /* an estimate exists */
	int64_t theta; /* agent TAI - collector TAI, midpoint */
	int64_t applied; /* the correction in force: <= 0, never increases */
	uint64_t half; /* half width of [t1 - t2, t4 - t3] when measured */
	uint64_t delay; /* round trip minus the collector's time */
	uint64_t t_meas; /* collector TAI of the measurement */
	uint64_t samples, rejected;
};

/**
 * rtclock_heartbeat - take a heartbeat handled at our TAI @now_tai
 *
 * Call before the Ack that echoes @h->sent_ns is sent.  Uses @h's echo of
 * an earlier Ack, if any, for a new measurement.
 */
void rtclock_heartbeat(struct rtclock *rc, const Netrv__Heartbeat *h,
		       uint64_t now_tai);

/**
 * rtclock_apply - rewrite @clk (a batch's or heartbeat's clock status) with
 * the estimate, if PTP does not bound @clk (see collector/README.md) and
 * an estimate exists
 * @oldest_trace: trace time of the oldest thing @clk applies to (first
 *		  event, or the watermark)
 *
 * Return: true if @clk was rewritten (source ROUNDTRIP).
 */
bool rtclock_apply(const struct rtclock *rc, Netrv__ClockStatus *clk,
		   uint64_t oldest_trace, uint64_t now_tai);

#endif
