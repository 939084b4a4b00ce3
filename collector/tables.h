/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tables.h - the collector's whole configuration table (see tables.c).
 */
#ifndef NETRV_COLLECTOR_TABLES_H
#define NETRV_COLLECTOR_TABLES_H

#include "config.h"

/* Choices of wal.sync and collector.log_level, in enum order. */
extern const char *const collector_sync_names[];
extern const char *const collector_level_names[];

/**
 * collector_config_create - a configuration holding every default of the
 * collector's sections and of its parts' ([lock], [lock_user NAME],
 * [lock_pair NAME], [archive], [http], [model NAME])
 *
 * Return: the configuration (config_destroy()), or NULL.  The merged
 * tables are built once and live as long as the process.
 */
struct config *collector_config_create(void);

#endif
