// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * adapt_user.c - a program's own view of its locks.
 *
 * Lock services no kernel tracepoint sees (Redis, etcd, PostgreSQL advisory
 * locks, your own) are checked from what the program says: a uprobe on its
 * "now I hold L in mode M" and "I release L" functions, or a
 * trace_marker_raw record (ftrace:raw_data, told apart by its id).  Each
 * configured rule maps one event to an acquire or a release and names the
 * fields that carry the lock name, the mode and the holder.
 */
#include <stdio.h>
#include <string.h>

#include "lock_private.h"

enum { F_NAME, F_MODE, F_HOLDER, F_MATCH };

const char lock_user_domain[] = "user";

static int mode_of(const struct lock_matrix *m, const struct cevent *ev, int f)
{
	const struct evpack_value *v;

	if (f < 0)
		return m->strongest;
	v = &ev->vals[f];
	if (v->bytes) {
		size_t len = v->len;

		while (len && !v->bytes[len - 1])
			len--;
		for (unsigned int i = 0; i < m->n_modes; i++)
			if (strlen(m->mode_names[i]) == len &&
			    !memcmp(m->mode_names[i], v->bytes, len))
				return (int)i;
		return m->strongest;
	}
	return v->u < m->n_modes ? (int)v->u : m->strongest;
}

void lock_user_event(struct lock_engine *e, struct lctx *c,
		     const struct cevent *ev, const struct lock_tinfo *ti,
		     unsigned int r)
{
	const struct lock_user_rule *u = &e->conf.user_rules[ti->r[r].rule];
	const int16_t *f = ti->r[r].f;
	const struct evpack_value *v;
	uint8_t key[LOCK_KEY_MAX];
	size_t len = 0, pl;
	uint64_t holder = 0;
	struct lock_res *res;
	struct lock_hold *h;

	if (f[F_NAME] < 0)
		return;
	if (u->match_field &&
	    (f[F_MATCH] < 0 || ev->vals[f[F_MATCH]].s != u->match_value))
		return;
	if (u->prefix) {
		pl = strlen(u->prefix);
		if (pl > sizeof(key))
			pl = sizeof(key);
		memcpy(key, u->prefix, pl);
		len = pl;
	}
	v = &ev->vals[f[F_NAME]];
	if (v->bytes) {
		size_t n = v->len;

		while (n && !v->bytes[n - 1])
			n--; /* a C string's NUL is not part of the name */
		if (n > sizeof(key) - len)
			n = sizeof(key) - len;
		memcpy(key + len, v->bytes, n);
		len += n;
	} else {
		len += (size_t)snprintf((char *)key + len, sizeof(key) - len,
					"%lld", (long long)v->s);
		if (len > sizeof(key))
			len = sizeof(key);
	}
	if (f[F_HOLDER] >= 0) {
		v = &ev->vals[f[F_HOLDER]];
		holder = v->bytes ? lock_hash_bytes(LOCK_HASH_SEED, v->bytes,
						    v->len) :
				    v->u;
	}
	res = lockt_res_get(e, lock_user_domain, &e->user_matrix, 0, key, len);
	if (!res)
		return;
	h = lockt_find(res, c->n, holder);
	if (u->action == LOCK_USER_RELEASE) {
		if (h)
			lockt_release(e, h, c);
		else
			lockt_unknown_release(e, res, c, holder);
	} else {
		int mode = mode_of(&e->user_matrix, ev, f[F_MODE]);

		if (!h || h->mode != mode) {
			enum lock_ev_kind kind = LOCK_EV_GRANT;

			if (h) {
				if (lock_weaker_or_equal(&e->user_matrix, mode,
							 h->mode))
					kind = LOCK_EV_DOWNGRADE;
				lockt_release(e, h, c);
			}
			lockt_grant(e, res, c, holder, mode, kind);
		}
	}
	lockt_res_put(e, res);
}
