/* SPDX-License-Identifier: MIT
 * glibc.h: the only place that knows glibc malloc's internal layout.
 * Used by the root scan to skip the memory glibc owns inside anonymous
 * mappings (arena heaps, mmapped chunks) without skipping whatever else
 * the kernel merged into the same mapping (a program's own arenas). */
#ifndef GS_GLIBC_H
#define GS_GLIBC_H

#include "common.h"

/* The range of memory glibc manages around the tracked block at `p`: the
 * mmapped chunk for large blocks, or the whole heap of a non-main arena.
 * returns: false for main-arena blocks (they live in [heap]). STW-safe. */
bool glibc_block_extent(uintptr_t p, uintptr_t *lo, uintptr_t *hi);

/* Address of the chunk that follows the block at `p` in its arena (what
 * glibc's own pointers name), or 0 for an mmapped chunk. STW-safe. */
uintptr_t glibc_next_chunk(uintptr_t p);

#endif
