// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rtclock.c - node clock offsets and bounds from heartbeat round trips
 * (see rtclock.h for the reasoning).
 */
#include "rtclock.h"

static uint64_t aged(const struct rtclock *rc, uint64_t now_tai)
{
	uint64_t age = now_tai > rc->t_meas ? now_tai - rc->t_meas : 0;

	return rc->half + age / 1000000 * RTCLOCK_DRIFT_PPM +
	       age % 1000000 * RTCLOCK_DRIFT_PPM / 1000000;
}

void rtclock_heartbeat(struct rtclock *rc, const Netrv__Heartbeat *h,
		       uint64_t now_tai)
{
	if (h->echo_sent_ns && h->echo_recv_ns) {
		for (unsigned int i = 0; i < RTCLOCK_PENDING; i++) {
			int64_t lo, hi;
			uint64_t half, cur;

			if (rc->pend[i].sent != h->echo_sent_ns)
				continue;
			lo = (int64_t)(rc->pend[i].sent - rc->pend[i].recv);
			hi = (int64_t)(h->echo_recv_ns - rc->pend[i].recv);
			rc->pend[i].sent = 0;
			if (hi < lo) {
				/* the agent's clock went back: no bound */
				rc->rejected++;
				break;
			}
			half = ((uint64_t)(hi - lo) + 1) / 2;
			rc->samples++;
			cur = rc->have ? aged(rc, now_tai) : UINT64_MAX;
			/*
			 * Keep the tighter bound; take the new one also
			 * when the old interval no longer contains it (the
			 * node's clock was stepped).
			 */
			if (half <= cur || !rc->have ||
			    hi < rc->theta - (int64_t)cur ||
			    lo > rc->theta + (int64_t)cur) {
				rc->have = true;
				rc->theta = lo + (hi - lo) / 2;
				rc->half = half;
				rc->delay = (uint64_t)(hi - lo);
				rc->t_meas = now_tai;
				if (rc->theta < rc->applied)
					rc->applied = rc->theta;
			}
			break;
		}
	}
	if (h->sent_ns) {
		rc->pend[rc->next].sent = h->sent_ns;
		rc->pend[rc->next].recv = now_tai;
		rc->next = (rc->next + 1) % RTCLOCK_PENDING;
	}
}

/*
 * PTP bounds a node's clock whenever its port measures against a master:
 * disciplined (SLAVE, or the grandmaster itself: "synced"), or measuring
 * only (UNCALIBRATED, as with free_running 1), where the agent's epsilon
 * already covers the measured master offset and path delay.
 */
static bool ptp_bounds(const Netrv__ClockStatus *clk)
{
	return clk->source == NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP &&
	       (clk->synced || clk->port_state == 8);
}

bool rtclock_apply(const struct rtclock *rc, Netrv__ClockStatus *clk,
		   uint64_t oldest_trace, uint64_t now_tai)
{
	int64_t oldest;
	uint64_t eps, span = 0;

	if (!rc->have || ptp_bounds(clk))
		return false;
	clk->tai_offset_ns -= rc->applied;
	/* drift over the measurement's age and the batch's */
	oldest = (int64_t)oldest_trace + clk->tai_offset_ns;
	if (oldest > 0 && (uint64_t)oldest < now_tai)
		span = now_tai - (uint64_t)oldest;
	eps = aged(rc, now_tai) + clk->epsilon_ns +
	      (uint64_t)(rc->theta - rc->applied);
	eps += span / 1000000 * RTCLOCK_DRIFT_PPM +
	       span % 1000000 * RTCLOCK_DRIFT_PPM / 1000000;
	clk->epsilon_ns = eps;
	clk->source = NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP;
	clk->synced = false;
	clk->master_offset_ns = rc->theta;
	clk->path_delay_ns = (int64_t)rc->delay;
	clk->port_state = 0;
	clk->sample_age_ns = now_tai > rc->t_meas ? now_tai - rc->t_meas : 0;
	clk->gm_identity.len = 0;
	return true;
}
