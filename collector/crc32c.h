/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of WAL records.
 */
#ifndef NETRV_COLLECTOR_CRC32C_H
#define NETRV_COLLECTOR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/** crc32c - continue @crc (0 to start) over @len bytes at @buf */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
