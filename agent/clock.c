// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * clock.c - from trace time to TAI, with an honest error bound epsilon.
 *
 * TAI = trace time + tai_offset_ns, where tai_offset_ns is read now as an
 * A-B-A pair (trace clock, CLOCK_TAI, trace clock); pair_bound is half the
 * narrowest A-A gap.  How far CLOCK_TAI itself is from the cluster's time
 * comes from ptp4l:
 *
 *   grandmaster (port MASTER, grandmaster identity = our clock):
 *       epsilon = pair_bound
 *   otherwise, with a PTP answer age_ns old:
 *       epsilon = max |master_offset| + mean_path_delay + pair_bound
 *                 + drift_ppm * age_ns / 1e6
 *
 * max |master_offset| is the largest measured distance from the master
 * among the last OFFSET_WINDOW samples (one sample is one sync's reading,
 * told apart by TIME_STATUS_NP's ingress_time however often ptp4l is
 * polled; one noisy reading does not tell: a servo that swings between -5
 * and -1 ms is not 1 ms off);
 * mean_path_delay bounds the error an asymmetric path can hide (offset is
 * computed assuming both directions take the same time, so the true offset
 * lies within +-delay of it); the drift term covers the time since ptp4l
 * measured.  "synced" means the port is SLAVE (servo locked) or we are the
 * grandmaster.  A slave of a free-running ptp4l stays UNCALIBRATED: it
 * reports live offsets (so epsilon is meaningful) but synced is false.
 * Without ptp4l the source is NONE, synced false, and epsilon covers only
 * the pair reading: the collector must estimate the rest (round trip).
 */
#include <stdlib.h>
#include <string.h>

#define LOG_SUBSYS "clock"
#include "agent.h"
#include "clocks.h"
#include "log.h"

#define OFFSET_WINDOW 8 /* PTP samples epsilon looks back over */

struct agent_clock {
	clockid_t trace_clock;
	const struct ptp *ptp;
	uint64_t drift_ppm;
	int64_t skew_ns; /* tests: a lie added to the mapping */
	uint8_t gm[8];
	/* |master_offset| of the last samples; a new master starts afresh */
	uint64_t offsets[OFFSET_WINDOW];
	unsigned int n_offsets, next_offset;
	uint64_t last_ingress_ns; /* of the newest sample in offsets[] */
};

/* The largest |master_offset| of the recent samples, with @st's. */
static uint64_t recent_offset(struct agent_clock *c,
			      const struct ptp_status *st)
{
	uint64_t off = (uint64_t)llabs(st->master_offset_ns), max = 0;

	if (memcmp(c->gm, st->gm_identity, 8))
		c->n_offsets = 0;
	/* a sample is one sync's offset, however often ptp4l is asked */
	if (st->offset_ingress_ns != c->last_ingress_ns) {
		c->last_ingress_ns = st->offset_ingress_ns;
		c->offsets[c->next_offset] = off;
		c->next_offset = (c->next_offset + 1) % OFFSET_WINDOW;
		if (c->n_offsets < OFFSET_WINDOW)
			c->n_offsets++;
	}
	for (unsigned int i = 0; i < c->n_offsets; i++)
		if (c->offsets[i] > max)
			max = c->offsets[i];
	return max > off ? max : off;
}

struct agent_clock *agent_clock_create(clockid_t trace_clock,
				       const struct ptp *ptp,
				       uint64_t drift_ppm)
{
	struct agent_clock *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->trace_clock = trace_clock;
	c->ptp = ptp;
	c->drift_ppm = drift_ppm;
	return c;
}

void agent_clock_set_skew(struct agent_clock *c, int64_t skew_ns)
{
	c->skew_ns = skew_ns;
	if (skew_ns)
		pr_warning(
			"ptp.test_skew_ns = %lld: reported times are off by that much while epsilon does not say so (tests only)",
			(long long)skew_ns);
}

void agent_clock_destroy(struct agent_clock *c)
{
	free(c);
}

void agent_clock_status(struct agent_clock *c, Netrv__ClockStatus *out)
{
	const struct ptp_status *st = c->ptp ? ptp_status(c->ptp) : NULL;
	struct clocks_pair pair = { 0 };

	netrv__clock_status__init(out);
	clocks_pair(c->trace_clock, CLOCK_TAI, 3, &pair);
	out->tai_offset_ns = pair.offset_ns + c->skew_ns;
	out->epsilon_ns = pair.bound_ns;
	out->source = NETRV__CLOCK_SOURCE__CLOCK_SOURCE_NONE;
	if (!st || !st->answered)
		return;

	uint64_t age = clocks_now(CLOCK_MONOTONIC) - st->sampled_mono_ns;
	uint64_t offset;
	bool gm = st->port_state == 6 && st->gm_present == false;

	gm |= st->port_state == 6 &&
	      !memcmp(st->gm_identity, st->clock_identity, 8);
	out->source = NETRV__CLOCK_SOURCE__CLOCK_SOURCE_PTP;
	out->port_state = st->port_state;
	out->master_offset_ns = st->master_offset_ns;
	out->path_delay_ns = st->path_delay_ns;
	out->sample_age_ns = age;
	offset = recent_offset(c, st);
	memcpy(c->gm, st->gm_identity, 8);
	out->gm_identity.data = c->gm;
	out->gm_identity.len = 8;
	out->synced = gm || st->port_state == 9;
	if (!gm)
		out->epsilon_ns += offset + (uint64_t)llabs(st->path_delay_ns) +
				   c->drift_ppm * age / 1000000;
}
