// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * adapt_flock.c - flock(2) locks from filelock:flock_lock_inode.
 *
 * The event fires for every request with its outcome: type F_RDLCK (0,
 * shared), F_WRLCK (1, exclusive) or F_UNLCK (2), ret 0 when done.  The
 * resource is the inode (s_dev, i_ino); the holder is the open file
 * (the "owner" field, which for flock is the struct file), else the pid.
 * A flock conversion is not atomic in Linux (the old lock goes first), so
 * it is a release and a new grant.
 */
#include <stdio.h>

#include "lock_private.h"

#define FL_ACCESS 8

enum { F_TYPE, F_RET, F_DEV, F_INO, F_OWNER, F_PID, F_FLAGS };

static const char flock_domain[] = "flock";

int lock_flock_init(struct lock_engine *e)
{
	return 0;
}

void lock_flock_destroy(struct lock_engine *e)
{
}

void lock_flock_event(struct lock_engine *e, struct lctx *c,
		      const struct cevent *ev, const struct lock_tinfo *ti,
		      unsigned int r)
{
	const int16_t *f = ti->r[r].f;
	uint64_t dev, holder;
	struct lock_res *res;
	struct lock_hold *h;
	char key[64];
	int type, len;

	if (f[F_TYPE] < 0 || f[F_RET] < 0 || f[F_DEV] < 0 || f[F_INO] < 0)
		return;
	if (ev->vals[f[F_RET]].s != 0)
		return;
	if (f[F_FLAGS] >= 0 && (ev->vals[f[F_FLAGS]].u & FL_ACCESS))
		return;
	type = (int)ev->vals[f[F_TYPE]].u;
	if (type < 0 || type > 2)
		return;
	dev = ev->vals[f[F_DEV]].u;
	/* as /proc/locks shows it: major:minor:inode */
	len = snprintf(key, sizeof(key), "%02x:%02x:%llu",
		       (unsigned int)(dev >> 20), (unsigned int)(dev & 0xfffff),
		       (unsigned long long)ev->vals[f[F_INO]].u);
	holder = f[F_OWNER] >= 0 ? ev->vals[f[F_OWNER]].u :
		 f[F_PID] >= 0	 ? ev->vals[f[F_PID]].u :
				   0;
	res = lockt_res_get(e, flock_domain, &lock_matrix_shex, 0, key,
			    (size_t)len);
	if (!res)
		return;
	h = lockt_find(res, c->n, holder);
	if (type == 2) {
		if (h)
			lockt_release(e, h, c);
		else
			lockt_unknown_release(e, res, c, holder);
	} else if (!h || h->mode != type) {
		enum lock_ev_kind kind = LOCK_EV_GRANT;

		if (h) {
			if (type == 0)
				kind = LOCK_EV_DOWNGRADE;
			lockt_release(e, h, c);
		}
		lockt_grant(e, res, c, holder, type, kind);
	}
	lockt_res_put(e, res);
}
