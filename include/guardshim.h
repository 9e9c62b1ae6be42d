/* SPDX-License-Identifier: MIT
 * guardshim.h: the opt-in API of the guardshim leak detector.
 *
 * Every function is declared weak: a program built against this header runs
 * unchanged without the shim, where the functions are NULL. Test first:
 *
 *     if (gs_active && gs_active()) gs_collect();
 *
 * All functions are thread-safe unless a paragraph says otherwise. None of
 * them runs a finalizer except gs_drain(). */
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
 * pass-through allocator. */
GS_API int gs_active(void);

/* Runs a full scan now: stops the other threads for the scan only, marks
 * from the roots (the calling thread's stack from the caller's frame
 * upward) and queues unreachable guarded or finalizable blocks.
 * returns: the number of blocks found unreachable that were not found
 * unreachable by an earlier scan. Cost: about the exit check's. */
GS_API size_t gs_collect(void);

/* Scans like gs_collect() and writes a recoverable report of the leaks not
 * reported before (trigger "api"). returns: the number of records written. */
GS_API size_t gs_check_leaks(void);

typedef struct gs_guardian gs_guardian;

/* A new, empty guardian; NULL with errno=ENOMEM when out of memory. */
GS_API gs_guardian *gs_guardian_new(void);

/* Registers a live block (its start address) with `g`. When a scan finds it
 * unreachable it is kept alive, with everything it points to, and queued
 * on `g`. A block registered with two guardians is queued on both (as in
 * Chez Scheme). returns: 0, or -1 with errno=EINVAL when `g` is not a
 * guardian or `block` is not the start of a live block. */
GS_API int gs_guardian_register(gs_guardian *g, void *block);

/* The next block `g` found unreachable, still allocated; NULL when none.
 * The program now owns it again: free it or register it again. */
GS_API void *gs_guardian_poll(gs_guardian *g);

/* Frees the guardian; blocks still registered with it lose their guard and
 * are reported as leaks if they become unreachable. */
GS_API void gs_guardian_free(gs_guardian *g);

typedef void (*gs_finalizer)(void *block, void *arg);

/* Sets (fn != NULL) or clears (fn == NULL) the finalizer of a live block.
 * A finalizable block found unreachable is queued; gs_drain() runs `fn` and
 * then frees the block. Finalizers follow topological order: if
 * unreachable finalizable A points to finalizable B, A runs first.
 * returns: 0, or -1 with errno=EINVAL when `block` is not a live block. */
GS_API int gs_set_finalizer(void *block, gs_finalizer fn, void *arg);

/* Runs the pending finalizers on the calling thread, then frees their
 * blocks. Finalizers may allocate, free and set finalizers. A finalizer
 * may free its own block (gs_drain then does not), or resurrect it by
 * calling gs_set_finalizer or gs_guardian_register on it: gs_drain then
 * leaves it allocated and a later scan treats it as any finalizable or
 * guarded block. With reclaim=1, gs_drain first runs a scan (the cost
 * of gs_collect) when a scan since the last drain left leaks, more of
 * them than the drain's own last scan left: the second of the two scans
 * reclaim needs, so the blocks it frees are not kept until the next tick.
 * returns: the number of finalizers run. */
GS_API size_t gs_drain(void);

/* Never report the live block containing `block`: its start or any byte
 * of it, as LeakSanitizer's __lsan_ignore_object. returns: 0, or -1 with
 * errno=EINVAL when no tracked block contains it. Cost: a start pointer
 * is one table lookup; a pointer within 1 KiB of its block's start up to
 * 64; any other one (deeper into a large block, or into no block) one
 * pass over the handle table, a few ms per million live blocks. */
GS_API int gs_ignore(void *block);

/* On the calling thread, blocks allocated until the matching gs_enable()
 * are never reported. Calls nest. */
GS_API void gs_disable(void);
GS_API void gs_enable(void);

/* Adds [p, p+n) to the roots; gs_unregister_root needs the same p and n.
 * returns: 0, or -1 with errno (EINVAL for n == 0 or an unknown range,
 * ENOMEM when the root table is full). */
GS_API int gs_register_root(const void *p, size_t n);
GS_API int gs_unregister_root(const void *p, size_t n);

/* Frozen layout: fields are never added or reordered. */
struct gs_stats {
    size_t live_blocks, live_bytes, total_allocs, total_frees, scans, leaked_blocks,
        leaked_bytes, pending_finalizers;
};

/* Fills *out. returns: 0, or -1 with errno=EINVAL when out is NULL. */
GS_API int gs_get_stats(struct gs_stats *out);

/* ---- Ownership domains (extension; GS_VERSION >= 100) ----
 * A thread names the owner of what it allocates next; reports group leaks
 * by owner ("owner" in JSON) and counters are kept per owner. */
typedef unsigned int gs_owner;

/* A new owner named `name` (copied). returns: its id (>= 1), or 0 with
 * errno=EINVAL (name NULL) or ENOMEM (4095 owners exist). */
GS_API gs_owner gs_owner_new(const char *name);

/* Sets the calling thread's current owner (0 = none); returns the previous
 * one. Blocks keep the owner they were allocated under, through realloc. */
GS_API gs_owner gs_owner_set(gs_owner owner);

/* Grows only at its end; `size` says how much the caller has room for. */
struct gs_owner_stats {
    size_t size;       /* set by the caller to sizeof(struct gs_owner_stats) */
    const char *name;  /* the name given to gs_owner_new, valid for ever */
    size_t live_blocks, live_bytes, total_allocs, total_frees;
    /* Since GS_VERSION 100 as well: this owner's blocks the last scan found
     * unreachable (leaks, "possible" ones included), 0 before any scan. */
    size_t leaked_blocks, leaked_bytes;
};

/* Fills *out (up to out->size bytes). returns: 0, or -1 with errno=EINVAL
 * for an unknown owner or a bad `out`. */
GS_API int gs_owner_stats(gs_owner owner, struct gs_owner_stats *out);

#ifdef __cplusplus
}
#endif

#endif
