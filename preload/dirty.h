/* SPDX-License-Identifier: MIT
 * dirty.h: which pages of the heap were written during a concurrent mark
 * (seed 003's "dirty vector"), from the kernel:
 *  - userfaultfd asynchronous write-protection read back with the
 *    PAGEMAP_SCAN ioctl (Linux >= 6.7): the tracked mappings are
 *    registered and write-protected at dirty_begin; a write unprotects
 *    its page in the kernel's fault path (no signal, no EFAULT for the
 *    kernel's own writes) and PAGEMAP_SCAN lists the written pages;
 *  - soft-dirty bits (CONFIG_MEM_SOFT_DIRTY, e.g. Debian's 6.1): cleared
 *    for the whole process through /proc/self/clear_refs, read back 8
 *    bytes per page from /proc/self/pagemap.
 * Which one works is probed on first use; with neither, dirty_begin
 * fails and the scan falls back to a stop-the-world one.
 * Nothing is kept between scans: the userfaultfd and /proc descriptors
 * live from dirty_begin to dirty_end only (programs close fds they do not
 * know, and registrations do not survive fork).
 * allocates: sys_map. STW: dirty_collect only. */
#ifndef GS_DIRTY_H
#define GS_DIRTY_H

#include "roots.h"

enum dirty_how { DIRTY_NONE, DIRTY_UFFD, DIRTY_SOFT };

struct dirty {
    enum dirty_how how;
    int uffd, pagemap;
    struct root_range *ranges; /* tracked since dirty_begin, sorted */
    size_t n, cap;
    void *buf;                 /* PAGEMAP_SCAN vector or pagemap entries */
    size_t buf_bytes;
};

/* Starts tracking writes to every private anonymous writable mapping in
 * `maps` (the brk heap included) except the ranges in `excl` (sorted).
 * returns: 0, ENOTSUP when the kernel offers no tracking, or errno. */
int dirty_begin(struct dirty *d, const struct mapping *maps, size_t n_maps,
                const struct root_range *excl, size_t n_excl);

/* Whether [lo, hi) lies in the tracked ranges. */
bool dirty_tracked(const struct dirty *d, uintptr_t lo, uintptr_t hi);

/* Calls fn for each run of pages written since dirty_begin (or the last
 * restart). `restart`: tracking starts over for the pages reported, in
 * the same step (userfaultfd only; soft-dirty bits can only be cleared
 * for the whole process, not atomically with reading them). STW-safe.
 * returns: 0, ENOTSUP, or errno (the written set is unknown). */
int dirty_collect(struct dirty *d, bool restart,
                  void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx);

/* Stops tracking (unregisters, closes) and frees. */
void dirty_end(struct dirty *d);

/* Which tracking this kernel offers (probed once). */
enum dirty_how dirty_probe(void);

#endif
