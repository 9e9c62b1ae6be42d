/* SPDX-License-Identifier: MIT
 * owners.h: ownership domains (seed 004: a heap object owning its blobs).
 * A thread names its current owner; blocks it allocates carry that owner,
 * reports group leaks by it and counters are kept per owner. Owner 0 is
 * "none" and costs nothing on the malloc path. */
#ifndef GS_OWNERS_H
#define GS_OWNERS_H

#include "common.h"

#define OWNERS_MAX 4095u

/* returns: a new owner id (1..OWNERS_MAX), or 0 when the table is full. */
uint32_t owners_new(const char *name);
bool owners_valid(uint32_t id);
const char *owners_name(uint32_t id);

/* Hot path, only for owner != 0. Relaxed atomics on the owner's line. */
void owners_on_alloc(uint32_t id, size_t size);
void owners_on_free(uint32_t id, size_t size);

struct owner_counts {
    size_t live_blocks, live_bytes, total_allocs, total_frees;
};
void owners_counts(uint32_t id, struct owner_counts *out);

/* The blocks and bytes of owner `id` that scan number `scan_no` (the last
 * one, scan_count()) found unreachable and that were still allocated when
 * the first caller after that scan counted them: one pass over the handle
 * table (a few ms per million live blocks) per scan, then a load.
 * pre: tls.in_shim > 0 (the pass holds shard locks). 0, 0 before any scan. */
void owners_leaks(uint32_t id, size_t scan_no, size_t *blocks, size_t *bytes);

void owners_atfork_prepare(void);
void owners_atfork_parent(void);
void owners_atfork_child(void);

#endif
