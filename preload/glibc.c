/* SPDX-License-Identifier: MIT
 * glibc.c: glibc 2.x malloc layout facts (x86_64), relied on read-only:
 * - a chunk header is two words before the user pointer: prev_size, then
 *   size with flag bits PREV_INUSE=1, IS_MMAPPED=2, NON_MAIN_ARENA=4;
 * - an mmapped chunk spans [chunk - prev_size, chunk + size);
 * - a non-main arena's heaps are HEAP_MAX_SIZE (64 MiB) aligned and start
 *   with `heap_info { ar_ptr, prev, size, mprotect_size, ... }`.
 * locks: none. STW: yes. allocates: no. */
#include "glibc.h"

#define CHUNK_IS_MMAPPED 2u
#define CHUNK_NON_MAIN_ARENA 4u
#define CHUNK_FLAGS 7u
#define HEAP_MAX_SIZE (64ul << 20)

struct heap_info {
    void *ar_ptr;
    struct heap_info *prev;
    size_t size;
    size_t mprotect_size;
};

bool glibc_block_extent(uintptr_t p, uintptr_t *lo, uintptr_t *hi)
{
    const size_t *hdr = (const size_t *)(p - 2 * sizeof(size_t));
    size_t size = hdr[1];
    if (size & CHUNK_IS_MMAPPED) {
        uintptr_t chunk = (uintptr_t)hdr;
        *lo = chunk - hdr[0];
        *hi = chunk + (size & ~(size_t)CHUNK_FLAGS);
        return true;
    }
    if (size & CHUNK_NON_MAIN_ARENA) {
        const struct heap_info *hi_ = (const struct heap_info *)(p & ~(HEAP_MAX_SIZE - 1));
        *lo = (uintptr_t)hi_;
        *hi = (uintptr_t)hi_ + GS_MIN(hi_->size, HEAP_MAX_SIZE);
        return true;
    }
    return false;
}

uintptr_t glibc_next_chunk(uintptr_t p)
{
    const size_t *hdr = (const size_t *)(p - 2 * sizeof(size_t));
    size_t size = hdr[1];
    if (size & CHUNK_IS_MMAPPED)
        return 0;
    return (uintptr_t)hdr + (size & ~(size_t)CHUNK_FLAGS);
}
