/* SPDX-License-Identifier: MIT
 * lock.h: the shim's locks. Never allocate, never call libc.
 *
 * Lock order (outer first); a thread holding one may only take those below
 * (atfork_prepare in init.c takes them all in this order):
 *   1. check lock (check.c: one report at a time)
 *   2. scanner lock (scan.c: one scan at a time)
 *   3. the loader lock (the scan runs inside dl_iterate_phdr)
 *   4. handle shard locks, in index order (handle.c)
 *   5. guardian lock (guardian.c)
 *   6. depot lock (depot.c), modules lock (modules.c), registry lock
 *      (threads.c), owners lock (owners.c), arena lock (arena.c), maps lock
 *      (sys.c), shm writer lock (shmstats.c): leaves, never held while
 *      taking another shim lock.
 * modules.c takes its lock inside the loader lock, never the reverse, and
 * depot_put resolves modules before taking the depot lock, because a
 * thread inside dlopen holds the loader lock and may call malloc.
 * No lock is held while calling out of the shim. */
#ifndef GS_LOCK_H
#define GS_LOCK_H

#include <stdatomic.h>

#include "common.h"

/* Test-and-test-and-set lock for very short critical sections. */
struct spinlock {
    atomic_int v;
};

void lock_wait_futex(atomic_int *v);
void lock_wake_futex(atomic_int *v);

static inline bool spin_trylock(struct spinlock *l)
{
    return atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
           atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0;
}

static inline void spin_lock(struct spinlock *l)
{
    /* 0 free, 1 locked, 2 locked and someone may sleep on the futex
     * (Drepper's "Futexes are tricky", mutex 2, after a short spin). */
    for (int spins = 0; spins < 100; spins++) {
        int expect = 0;
        if (atomic_compare_exchange_weak_explicit(&l->v, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        __builtin_ia32_pause();
    }
    /* From here on take it only as "2": a thread that slept must not mark the
     * lock uncontended, or the unlock would skip waking the other sleepers. */
    while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
        lock_wait_futex(&l->v);
}

static inline void spin_unlock(struct spinlock *l)
{
    if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2)
        lock_wake_futex(&l->v);
}

/* The handle shards' lock, taken twice per malloc/free pair: its unlock is
 * a plain release store, not an atomic exchange (an uncontended exchange
 * costs as much as the rest of the critical section). So the unlock wakes
 * nobody: a waiter spins, then sleeps in bounded naps and retries. Shards
 * are held for a few dozen instructions, except by a scan or a fork,
 * whose holders are stopped or gone soon after. */
struct hotlock {
    atomic_int v; /* 0 free, 1 held */
};

#define HOTLOCK_NAP_NS 200000 /* 0.2 ms */

void hotlock_wait(struct hotlock *l);

static inline bool hot_trylock(struct hotlock *l)
{
    int expect = 0;
    return atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
           atomic_compare_exchange_strong_explicit(&l->v, &expect, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void hot_lock(struct hotlock *l)
{
    int expect = 0;
    if (GS_LIKELY(atomic_compare_exchange_weak_explicit(&l->v, &expect, 1, memory_order_acquire,
                                                        memory_order_relaxed)))
        return;
    hotlock_wait(l);
}

static inline void hot_unlock(struct hotlock *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_release);
}

static inline void hot_reset(struct hotlock *l) { atomic_store(&l->v, 0); }

/* After fork the child owns no lock any more: reset instead of unlock. */
static inline void spin_reset(struct spinlock *l) { atomic_store(&l->v, 0); }

#endif
