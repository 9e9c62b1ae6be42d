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

/* Memory glibc's malloc owns whole, told from its first words `head`
 * (read at `at` by the caller, safely): one mmapped chunk, or the
 * read-write part of a non-main arena's heap. Every byte of it is a chunk
 * glibc manages: tracked (marked on its own), untracked (passed through:
 * the shim's own libraries, allocations before init) or free (stale
 * data), so none of it is a root. A program's raw mmap (pymalloc's
 * arenas) has no such header. The kernel merges neighbouring anonymous
 * mappings, so `at` is any page start inside a mapping ending at `hi`.
 * returns: the end of that memory (<= hi), or 0. STW-safe; reads only
 * `head`. */
uintptr_t glibc_owned_end(uintptr_t at, uintptr_t hi, const size_t head[4]);

#endif
