/* SPDX-License-Identifier: MIT
 * dirty.h: which pages of the heap were written during a concurrent mark,
 * and since the last one (seed 003's "dirty vector"), from the kernel:
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
 * Between two incremental scans the userfaultfd is kept (dirty_suspend /
 * dirty_resume), so that the next scan learns which pages were written
 * since the last pause; soft-dirty bits cannot be read and cleared in one
 * step, so that path tracks one scan at a time. A program may close the
 * kept descriptor (a daemon closing every fd it did not open): dirty_resume
 * checks that the number still names our userfaultfd and otherwise
 * forgets it without touching it; the kernel then drops the registrations
 * and the next scan starts afresh. Registrations do not survive fork: the
 * child drops its copy (dirty_drop_inherited).
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

/* Keeps tracking between scans (userfaultfd only): closes the per-scan
 * descriptor and buffers; the registrations and write-protection stay. */
void dirty_suspend(struct dirty *d);

/* Picks up a suspended tracker for the next scan: every trackable piece of
 * `maps` is registered (new ones read as written where populated).
 * returns: 0; EBADF when the descriptor is no longer ours (forgotten, not
 * closed); or errno. On error call dirty_end and start afresh. */
int dirty_resume(struct dirty *d, const struct mapping *maps, size_t n_maps,
                 const struct root_range *excl, size_t n_excl);

/* dirty_collect with restart, for userfaultfd only, of the pages whose
 * contents may differ from what a reader saw when tracking last restarted:
 * the written ones, and those not present (discarded with MADV_DONTNEED or
 * MADV_FREE, which zero a page without writing it; or swapped out) or
 * mapping the zero page (discarded, then read). STW-safe.
 * returns: 0, ENOTSUP, or errno. */
int dirty_collect_changed(struct dirty *d, void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi),
                          void *ctx);

/* Stops tracking (unregisters, closes, when the descriptor is still ours)
 * and frees. */
void dirty_end(struct dirty *d);

/* In a fork child: closes the inherited copy and frees, unregistering
 * nothing (the child's mappings are not registered; the parent's are). */
void dirty_drop_inherited(struct dirty *d);

/* Which tracking this kernel offers (probed once). */
enum dirty_how dirty_probe(void);

#endif
