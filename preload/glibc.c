/* SPDX-License-Identifier: MIT
 * glibc.c: glibc 2.x malloc layout facts (x86_64), relied on read-only:
 * - a chunk header is two words before the user pointer: prev_size, then
 *   size with flag bits PREV_INUSE=1, IS_MMAPPED=2, NON_MAIN_ARENA=4;
 * - an mmapped chunk spans [chunk - prev_size, chunk + size);
 * - an mmapped chunk made by malloc starts its mapping with prev_size 0 and
 *   size = the mapping's length (a page multiple) | IS_MMAPPED, no other
 *   flag; memalign moves the block up but leaves that first header as is;
 * - a non-main arena's heaps are HEAP_MAX_SIZE (64 MiB) aligned and start
 *   with `heap_info { ar_ptr, prev, size, mprotect_size, ... }`; the first
 *   heap of an arena holds the arena (`malloc_state`) right after it
 *   (ar_ptr = heap + sizeof heap_info, 32 or 48 bytes by version), later
 *   ones point back (`prev`) to the previous heap; [heap, heap +
 *   mprotect_size) is read-write (a page multiple), the rest PROT_NONE.
 * locks: none. STW: yes. allocates: no. */
#include "glibc.h"

#define CHUNK_IS_MMAPPED 2u
#define CHUNK_NON_MAIN_ARENA 4u
#define CHUNK_FLAGS 7u
#define HEAP_MAX_SIZE (64ul << 20)
#define PAGE 4096u

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

uintptr_t glibc_owned_end(uintptr_t at, uintptr_t hi, const size_t head[4])
{
    if (at % PAGE)
        return 0;
    /* An mmapped chunk made by malloc (memalign leaves this header too). */
    size_t size = head[1] & ~(size_t)CHUNK_FLAGS;
    if (head[0] == 0 && (head[1] & CHUNK_FLAGS) == CHUNK_IS_MMAPPED && size >= PAGE &&
        size % PAGE == 0 && size <= hi - at)
        return at + size;
    /* A non-main arena's heap: its heap_info, then the arena (first heap)
     * or a link to the previous heap. */
    const struct heap_info *h = (const struct heap_info *)head;
    size_t rw = h->mprotect_size;
    if (at % HEAP_MAX_SIZE || rw < PAGE || rw % PAGE || rw > HEAP_MAX_SIZE || rw > hi - at ||
        h->size == 0 || h->size > rw)
        return 0;
    uintptr_t ar = (uintptr_t)h->ar_ptr, prev = (uintptr_t)h->prev;
    bool first = !prev && ar > at && ar - at <= 64 && ar % 16 == 0;
    bool later = prev && prev % HEAP_MAX_SIZE == 0 && prev != at && ar && ar % 16 == 0;
    return first || later ? at + rw : 0;
}
