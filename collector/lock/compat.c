// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * compat.c - compatibility matrices: which modes of one resource may be
 * held at the same time by different holders.
 *
 * compat[i] has bit j set when modes i and j are compatible.  The DLM's
 * matrix is the classic VMS one (fs/dlm/lock.c __dlm_compat_matrix).
 */
#include <errno.h>
#include <string.h>

#include "lock_private.h"

#define B(x) (1u << (x))

static const char *const dlm_names[] = { "NL", "CR", "CW", "PR", "PW", "EX" };

/* NL 0, CR 1, CW 2, PR 3, PW 4, EX 5 */
const struct lock_matrix lock_matrix_dlm = {
	.name = "dlm",
	.n_modes = 6,
	.mode_names = dlm_names,
	.compat = {
		[0] = B(0) | B(1) | B(2) | B(3) | B(4) | B(5),
		[1] = B(0) | B(1) | B(2) | B(3) | B(4),
		[2] = B(0) | B(1) | B(2),
		[3] = B(0) | B(1) | B(3),
		[4] = B(0) | B(1),
		[5] = B(0),
	},
	.universal = B(0),
	.strongest = 5,
};

static const char *const shex_names[] = { "shared", "exclusive" };

const struct lock_matrix lock_matrix_shex = {
	.name = "shared-exclusive",
	.n_modes = 2,
	.mode_names = shex_names,
	.compat = { [0] = B(0), [1] = 0 },
	.universal = 0,
	.strongest = 1,
};

bool lock_weaker_or_equal(const struct lock_matrix *m, int lo, int hi)
{
	return (m->compat[lo] & m->compat[hi]) == m->compat[hi];
}

const char *lock_mode_name(const struct lock_matrix *m, int mode)
{
	if (mode < 0 || (unsigned int)mode >= m->n_modes)
		return "?";
	return m->mode_names[mode];
}

int lock_matrix_build(struct lock_matrix *m, const char *name, unsigned int n,
		      const char *const *names, const uint16_t *compat)
{
	unsigned int best = 0, best_bits = 17;

	if (n == 0 || n > LOCK_MAX_MODES) {
		errno = EINVAL;
		return -1;
	}
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->n_modes = n;
	m->mode_names = names;
	for (unsigned int i = 0; i < n; i++) {
		m->compat[i] = compat[i] & (uint16_t)((1u << n) - 1);
		/* the matrix must be symmetric */
		for (unsigned int j = 0; j < n; j++)
			if (((compat[i] >> j) & 1) != ((compat[j] >> i) & 1)) {
				errno = EINVAL;
				return -1;
			}
	}
	for (unsigned int i = 0; i < n; i++) {
		unsigned int bits =
			(unsigned int)__builtin_popcount(m->compat[i]);

		if (m->compat[i] == (uint16_t)((1u << n) - 1))
			m->universal |= (uint16_t)B(i);
		if (bits < best_bits) {
			best_bits = bits;
			best = i;
		}
	}
	m->strongest = (int)best;
	return 0;
}
