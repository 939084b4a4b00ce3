// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fuzz_subbuf.c - libFuzzer target for the agent's sub-buffer parser
 * (agent/subbuf.c): arbitrary bytes as a sub-buffer.  Whatever the input,
 * every record handed out must lie inside the commit, in order, and the
 * walk must end.
 */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *page = malloc(size ? size : 1);
	struct subbuf_iter it;
	struct subbuf_rec r;
	uint32_t last = 0, n = 0;

	if (!page)
		return 0;
	memcpy(page, data,
	       size); /* an exact-size heap copy: ASan sees overruns */
	if (subbuf_load(&it, page, size) == 0) {
		const uint8_t *d = page + 16;
		uint32_t commit = it.size;

		while (subbuf_next(&it, &r)) {
			if (r.data < d + r.off + 4 ||
			    r.data + r.len > d + commit ||
			    (n && r.off <= last) || r.off >= commit)
				abort();
			last = r.off;
			n++;
		}
		if (it.next > commit || n > commit / 4)
			abort();
	}
	free(page);
	return 0;
}
