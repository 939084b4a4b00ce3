// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test_rtclock.c - the round-trip clock estimate (collector/rtclock.c)
 * against the truth: random true offsets between an agent's clock and the
 * collector's, random and asymmetric one-way delays and processing times,
 * Acks lost or echoed late.  After every exchange the true offset must lie
 * within the claimed half width of the estimate; a batch's clock is
 * rewritten so its events land on the collector's time within the eps it
 * then claims; the correction never moves a node's TAI back; a
 * synchronised PTP clock is left alone; a stepped clock is followed.
 */
#include <stdlib.h>

#include "check.h"
#include "rtclock.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng % n;
}

int main(int argc, char **argv)
{
	(void)argc;
	for (int h = 0; h < 2000; h++) {
		struct rtclock rc = { 0 };
		/* theta: agent - collector, up to +-1 s */
		int64_t theta = (int64_t)rnd(2000000000) - 1000000000;
		uint64_t now = 1000000000000000000ULL + rnd(1000000000);
		uint64_t prev_sent = 0, prev_recv = 0;
		bool ok = true;

		for (int i = 0; i < 50; i++) {
			Netrv__Heartbeat hb = NETRV__HEARTBEAT__INIT;
			uint64_t fwd = 10000 + rnd(5000000), proc = rnd(200000);

			/* the agent sends at true (collector) time now */
			hb.sent_ns = (uint64_t)((int64_t)now + theta);
			hb.echo_sent_ns = prev_sent;
			hb.echo_recv_ns = prev_recv;
			now += fwd + proc; /* handled at collector time now */
			{
				int64_t before = rc.applied;

				rtclock_heartbeat(&rc, &hb, now);
				/* a node's TAI never moves back */
				ok &= CHECK(rc.applied <= before &&
					    rc.applied <= 0);
			}
			if (rc.have) {
				int64_t err = rc.theta - theta;

				ok &= CHECK((uint64_t)llabs(err) <= rc.half);
			}
			/* its Ack arrives back (or is lost: no echo) */
			now += 10000 + rnd(5000000);
			if (rnd(5)) {
				prev_sent = hb.sent_ns;
				prev_recv = (uint64_t)((int64_t)now + theta);
			}
			now += rnd(100000000);
		}
		CHECK(rc.have);
		CHECK(rc.samples > 0);
		if (!ok) {
			fprintf(stderr, "history %d, theta %lld\n", h,
				(long long)theta);
			break;
		}
		/* a batch of a node without PTP: onto our time within eps */
		{
			Netrv__ClockStatus c = NETRV__CLOCK_STATUS__INIT;
			uint64_t trace = 5000000000ULL, pair = 300;
			int64_t agent_off = (int64_t)now + theta -
					    (int64_t)trace; /* exact pairing */
			int64_t err;

			c.tai_offset_ns = agent_off;
			c.epsilon_ns = pair;
			CHECK(rtclock_apply(&rc, &c, trace, now));
			CHECK_INT(c.source,
				  NETRV__CLOCK_SOURCE__CLOCK_SOURCE_ROUNDTRIP);
			CHECK(!c.synced);
			CHECK(c.epsilon_ns >= rc.half + pair);
			err = (int64_t)trace + c.tai_offset_ns - (int64_t)now;
			CHECK((uint64_t)llabs(err) <= c.epsilon_ns);
			CHECK_INT(c.master_offset_ns, rc.theta);
			/* synchronised PTP: untouched */
			c = (Netrv__ClockStatus)NETRV__CLOCK_STATUS__INIT;
			c.source = NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP;
			c.synced = true;
			c.tai_offset_ns = 7;
			c.epsilon_ns = 9;
			CHECK(!rtclock_apply(&rc, &c, trace, now));
			CHECK(c.tai_offset_ns == 7 && c.epsilon_ns == 9);
		}
	}

	/* no estimate yet: nothing rewritten */
	{
		struct rtclock rc = { 0 };
		Netrv__ClockStatus c = NETRV__CLOCK_STATUS__INIT;

		CHECK(!rtclock_apply(&rc, &c, 0, 1000));
	}

	/* a node's clock is stepped by 10 s: the estimate follows */
	{
		struct rtclock rc = { 0 };
		int64_t theta = 1000;
		uint64_t now = 1000000000000ULL, ps = 0, pr = 0;

		for (int i = 0; i < 20; i++) {
			Netrv__Heartbeat hb = NETRV__HEARTBEAT__INIT;

			if (i == 10)
				theta += 10000000000LL;
			hb.sent_ns = (uint64_t)((int64_t)now + theta);
			hb.echo_sent_ns = ps;
			hb.echo_recv_ns = pr;
			now += 50000;
			rtclock_heartbeat(&rc, &hb, now);
			now += 50000;
			ps = hb.sent_ns;
			pr = (uint64_t)((int64_t)now + theta);
			now += 100000000;
		}
		CHECK((uint64_t)llabs(rc.theta - theta) <= rc.half);
	}
	return check_summary(argv[0]);
}
