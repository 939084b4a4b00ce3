// SPDX-License-Identifier: GPL-2.0-or-later
/* archive_config.c - [archive] options to archive_options (see the .h). */
#include <string.h>

#include "archive_config.h"

int archive_options_from_config(const struct config *cfg,
				struct archive_options *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = config_string(cfg, "archive", "dir");
	o->chunk_bytes = (uint64_t)config_int(cfg, "archive", "chunk_size");
	o->chunk_ns = (uint64_t)config_int(cfg, "archive", "chunk_duration");
	o->max_chunks = (unsigned int)config_int(cfg, "archive", "max_chunks");
	o->max_bytes = (uint64_t)config_int(cfg, "archive", "max_size");
	o->packet_bytes = (uint32_t)config_int(cfg, "archive", "packet_size");
	o->flush_ns = (uint64_t)config_int(cfg, "archive", "flush_interval");
	return 0;
}
