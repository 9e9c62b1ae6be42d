/* SPDX-License-Identifier: MIT
 * guardshim.h: the opt-in API of the guardshim leak detector.
 *
 * Every function is declared weak: a program built against this header runs
 * unchanged without the shim, where the functions are NULL. Test first:
 *
 *     if (gs_active && gs_active()) gs_collect();
 *
 * With the shim loaded but degraded (gs_active() == 0) every call has a
 * defined result: -1 with errno=ENOSYS, or 0 / NULL.
 * Thread-safety: every function may be called from any thread at any
 * time; the paragraphs say which ones wait for a scan running on another
 * thread. Only gs_active, gs_disable, gs_enable and gs_owner_set are
 * async-signal-safe. None of them runs a finalizer except gs_drain().
 * Costs are measured on the 2-vCPU machine the project runs on. */
#ifndef GUARDSHIM_H
#define GUARDSHIM_H

#include <stddef.h>

#define GS_VERSION_MAJOR 0
#define GS_VERSION_MINOR 1
#define GS_VERSION_PATCH 0
#define GS_VERSION (GS_VERSION_MAJOR * 10000 + GS_VERSION_MINOR * 100 + GS_VERSION_PATCH)

#ifdef GS_BUILDING_SHIM
#define GS_API __attribute__((visibility("default")))
#else
#define GS_API __attribute__((weak))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the shim is loaded and tracking; 0 when it degraded to a
 * pass-through allocator. Cost: one load. */
GS_API int gs_active(void);

/* Runs a full scan now, as the exit check does: marks from the roots (the
 * calling thread's stack only from the caller's frame upward, so dead
 * frames below it keep nothing alive) and queues unreachable guarded or
 * finalizable blocks; with reclaim=1 it frees the blocks this scan and
 * the previous one found unreachable. Other threads are stopped for the
 * scan only (scan_mode=snapshot: only while the process is cloned) and
 * run on afterwards. One scan runs at a time: a call made during another
 * thread's scan waits for it. returns: the number of blocks found
 * unreachable that the previous scan had not found unreachable (queued
 * ones included). Cost: the exit check's, O(live blocks + root bytes):
 * about 200 ms for 1M live blocks in a random pointer graph on 2 cores
 * (bench/results.md), less when blocks point near each other. */
GS_API size_t gs_collect(void);

/* Scans like gs_collect() and writes a recoverable report (trigger "api")
 * of the leak groups not reported before or grown since. returns: the
 * number of records written. Cost: gs_collect's plus symbolising and
 * writing the new records; reports from other threads wait for it. */
GS_API size_t gs_check_leaks(void);

/* ---- Guardians (DESIGN §6: Chez Scheme's) ----
 * A gs_guardian * is an opaque handle, not memory: never dereference it.
 * A freed guardian's handle stays invalid even after a new guardian
 * takes its place, so a stale one fails with EINVAL instead of acting on
 * another guardian. At most 4096 guardians exist at once. */
typedef struct gs_guardian gs_guardian;

/* A new, empty guardian. returns: NULL with errno=ENOMEM when 4096 exist.
 * Cost: O(guardians). */
GS_API gs_guardian *gs_guardian_new(void);

/* Registers a live block (its start address) with `g`. When a scan finds
 * it unreachable it is kept alive, with everything it points to, and
 * queued on `g` once per registration: a block registered with two
 * guardians is queued on both (as in Chez Scheme), one registered twice
 * with `g` is queued twice. The queueing uses the registration up:
 * register the block again after polling it to be told again.
 * returns: 0, or -1 with errno=EINVAL when `g` is not a guardian (NULL,
 * freed, forged) or `block` is not the start of a live block, ENOMEM.
 * Cost: two hash lookups and an insertion (amortised O(1)). Points of
 * note: realloc of the block and free drop its registrations. */
GS_API int gs_guardian_register(gs_guardian *g, void *block);

/* The next block `g` found unreachable (first queued, first returned),
 * still allocated, with what it points to intact; NULL when none is
 * queued or `g` is not a guardian. The program owns it again: it frees
 * it, keeps it, or registers it again. A queued block the program frees
 * leaves every queue. Never scans. Cost: O(1). */
GS_API void *gs_guardian_poll(gs_guardian *g);

/* Frees the guardian. Blocks registered with it lose that registration;
 * blocks queued on it become ordinary blocks again (leaks if nothing
 * reaches them; reclaim=1 may free them two scans later). A handle that
 * is not a guardian is ignored. Cost: one pass over every block that has
 * a guardian or a finalizer, holding the lock every guardian and
 * finalizer call and every scan takes. */
GS_API void gs_guardian_free(gs_guardian *g);

/* ---- Finalizers (DESIGN §6: Boehm's) ---- */
typedef void (*gs_finalizer)(void *block, void *arg);

/* Sets (fn != NULL) or clears (fn == NULL) the finalizer of a live block,
 * replacing the one it had. A finalizable block found unreachable is
 * queued, kept alive with what it points to, and gs_drain() runs `fn` on
 * it once, then frees it. Never for a reachable block. Topological order:
 * if unreachable finalizable A points to finalizable B, A runs first and
 * B only after a later scan finds it unreachable again. A cycle of
 * finalizable blocks is never finalized: it is reported as a leak.
 * returns: 0, or -1 with errno=EINVAL when `block` is not the start of a
 * live block, ENOMEM. Cost: a hash lookup and an insertion (amortised
 * O(1)). Points of note: realloc of the block and free drop it. */
GS_API int gs_set_finalizer(void *block, gs_finalizer fn, void *arg);

/* Runs the pending finalizers on the calling thread, then frees their
 * blocks. Finalizers may allocate, free, set finalizers and call
 * gs_drain. A finalizer may free its own block (gs_drain then does not),
 * or resurrect it by calling gs_set_finalizer or gs_guardian_register on
 * it: gs_drain then leaves it allocated and a later scan treats it as any
 * finalizable or guarded block. Several threads may drain at once; each
 * pending finalizer runs on one of them. With reclaim=1, gs_drain first
 * runs a scan (gs_collect's cost) when a scan since the last drain left
 * leaks, more of them than the drain's own last scan left: the second of
 * the two scans reclaim needs, so the blocks it frees are not kept until
 * the next tick; finalizers that scan queues run in this drain.
 * returns: the number of finalizers run. Cost without that scan: O(1)
 * per finalizer, plus the finalizers themselves. */
GS_API size_t gs_drain(void);

/* ---- Report control ---- */

/* Never report the live block containing `block`: its start or any byte
 * of it, as LeakSanitizer's __lsan_ignore_object. It also becomes a root:
 * what it points to is never reported either. returns: 0, or -1 with
 * errno=EINVAL when no tracked block contains it. Cost: a start pointer
 * is one table lookup; a pointer within 1 KiB of its block's start up to
 * 64; any other one (deeper into a large block, or into no block) one
 * pass over the handle table, about 3-6 ms per million live blocks,
 * during which allocations in the table part being read wait. */
GS_API int gs_ignore(void *block);

/* On the calling thread, blocks allocated until the matching gs_enable()
 * are never reported. Calls nest; an unmatched gs_enable() is ignored.
 * Other threads are not affected. Cost: a thread-local increment. */
GS_API void gs_disable(void);
GS_API void gs_enable(void);

/* Adds [p, p+n) to the roots every later scan reads; gs_unregister_root
 * removes it and needs the same p and n. Memory the scan cannot read
 * (unmapped, PROT_NONE) is skipped, so registration does not probe it and
 * succeeds, as in LeakSanitizer. returns: 0, or -1 with errno (EINVAL for
 * p NULL, n == 0, a range that wraps around, or, unregistering, a range
 * not registered; ENOMEM when 4096 ranges are registered). Cost: O(1) to
 * register, O(registered ranges) to unregister; each scan reads the n
 * bytes. */
GS_API int gs_register_root(const void *p, size_t n);
GS_API int gs_unregister_root(const void *p, size_t n);

/* Frozen layout: fields are never added or reordered. */
struct gs_stats {
    size_t live_blocks, live_bytes, total_allocs, total_frees, scans, leaked_blocks,
        leaked_bytes, pending_finalizers;
};

/* Fills *out: live blocks and bytes, allocations and frees so far, scans
 * completed, leaks (blocks, bytes) of the last scan, finalizers waiting
 * for gs_drain. Counters are read without stopping other threads, so
 * they are consistent only when the program is quiet. Never waits for a
 * scan. returns: 0, or -1 with errno=EINVAL when out is NULL. Cost: a sum
 * over the handle table's 64 shards. */
GS_API int gs_get_stats(struct gs_stats *out);

/* ---- Ownership domains (extension; GS_VERSION >= 100) ----
 * A thread names the owner of what it allocates next; reports group leaks
 * by owner ("owner" and "owner_name" in JSON, [owner N "name"] in text)
 * and counters are kept per owner. */
typedef unsigned int gs_owner;

/* A new owner named `name` (copied, up to 255 bytes). Ids are never
 * reused. returns: its id (>= 1), or 0 with errno=EINVAL (name NULL) or
 * ENOMEM (4095 owners exist). Cost: O(1). */
GS_API gs_owner gs_owner_new(const char *name);

/* Sets the calling thread's current owner (0 = none); returns the previous
 * one. Blocks keep the owner they were allocated under, through realloc.
 * Use ids gs_owner_new returned: another id (up to 4095; larger ones mean
 * 0) groups report records but has no name and no counters. Cost: a
 * thread-local store; allocations under an owner add two atomic counter
 * updates. */
GS_API gs_owner gs_owner_set(gs_owner owner);

/* Grows only at its end: `size` says how much of it the caller has room
 * for, so a program built against an older, shorter layout keeps working. */
struct gs_owner_stats {
    size_t size;       /* set by the caller to sizeof(struct gs_owner_stats) */
    const char *name;  /* the name given to gs_owner_new, valid for ever */
    size_t live_blocks, live_bytes, total_allocs, total_frees;
    /* This owner's blocks the last scan found unreachable (leaks,
     * "possible" ones included) and still allocated when counted; 0 before
     * any scan. */
    size_t leaked_blocks, leaked_bytes;
};

/* Fills *out up to out->size bytes and sets out->size to the size filled.
 * returns: 0, or -1 with errno=EINVAL for an unknown owner or a bad `out`
 * (NULL, size smaller than the size field). Cost: a few loads; when
 * out->size includes leaked_blocks and leaked_bytes, the first call after
 * a scan counts them for every owner in one pass over the handle table
 * (about 3-6 ms per million live blocks), later ones are loads. */
GS_API int gs_owner_stats(gs_owner owner, struct gs_owner_stats *out);

#ifdef __cplusplus
}
#endif

#endif
