/* SPDX-License-Identifier: MIT
 * gate.h: what program threads do differently while a concurrent mark
 * (cmark.c, scan_mode=incremental) reads the heap with the world running.
 * While the gate is open:
 *  - frees are deferred, so no block the mark may read is unmapped or
 *    trimmed away under it (glibc munmaps large chunks and trims arenas);
 *  - every block allocated is logged as "young": the pause scans it as a
 *    root and the verdict skips it (the snapshot the mark started from
 *    may not have it);
 *  - realloc never resizes in place: it allocates, copies and defers the
 *    free of the old block (an in-place shrink could unmap its tail).
 * A realloc announces itself (gate_realloc_enter) before it checks the
 * gate and leaves once the old block's handle is gone; gate_open waits
 * for the reallocs that were under way, so none that missed the open gate
 * can free a block of the scan's snapshot. The announcement is one atomic
 * add on a counter shared by threads whose TLS hashes alike.
 * Closed, each hook costs one relaxed load of a read-mostly flag.
 * locks: none (atomics); a deferral that finds the log full waits until
 * the gate closes, holding no lock. */
#ifndef GS_GATE_H
#define GS_GATE_H

#include <stdatomic.h>

#include "common.h"
#include "tstate.h"

extern atomic_bool gate_is_open;

static inline bool gate_open_now(void)
{
    return GS_UNLIKELY(atomic_load_explicit(&gate_is_open, memory_order_relaxed));
}

/* Program side. gate_defer_free: true when `p` was taken over (the caller
 * must not free it); false when the gate is closed (free it now).
 * gate_note_young: logs `p` while the gate is open. */
bool gate_defer_free(void *p);
void gate_note_young(uintptr_t p);

#define GATE_REALLOC_SHARDS 64
struct gate_counter {
    atomic_uint n;
} GS_ALIGNED(GS_CACHE_LINE);
extern struct gate_counter gate_reallocs[GATE_REALLOC_SHARDS];

static inline unsigned gate_realloc_enter(void)
{
    unsigned s = (unsigned)(((uintptr_t)&tls >> 12) % GATE_REALLOC_SHARDS);
    atomic_fetch_add(&gate_reallocs[s].n, 1);
    return s;
}

static inline void gate_realloc_leave(unsigned s)
{
    atomic_fetch_sub_explicit(&gate_reallocs[s].n, 1, memory_order_release);
}

/* Scanner side (one scan at a time, under the scanner lock).
 * gate_open: maps the logs, opens, and waits (bounded) for the reallocs
 * under way. returns: 0, ENOMEM, or EAGAIN (closed again). */
int gate_open(void);
/* Calls fn for each published young entry. STW-safe. The program side
 * logs a block right after inserting its handle: a block of a thread
 * stopped before that (or before publishing) is one the program has not
 * written to yet (a realloc's copy is in its inflight root meanwhile), and
 * a block the snapshot missed is logged, because the gate opened before
 * its shard was copied and the shard lock orders the two. A snapshot
 * block's address cannot be reused while the gate is open: its free is
 * deferred. */
void gate_young_each(void (*fn)(uintptr_t p, void *ctx), void *ctx);
/* The young log, sorted, valid until gate_close. *overflow: the log was
 * full at some point, so young blocks were missed (the verdict is void). */
const uintptr_t *gate_young(size_t *n, bool *overflow);
/* Closes, waits for threads inside a hook, frees what was deferred. */
void gate_close(void);

#endif
