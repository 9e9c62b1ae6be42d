/* SPDX-License-Identifier: MIT
 * gate.c: the program side of a concurrent mark (gate.h).
 * Protocol (Dekker-style, all seq_cst): a hook announces itself in
 * `busy`, then re-reads the flag; gate_close clears the flag, then waits
 * for `busy` to drain. So every hook either saw the gate closed (and acts
 * normally) or finishes its append before gate_close reads the logs. The
 * shared counters are touched only while the gate is open.
 * Log entries are reserved with fetch_add and published by a non-zero
 * store; a reader skips (pause) or waits for (after it) unpublished ones.
 * allocates: sys_map (logs mapped per open, NORESERVE, unmapped at close). */
#define _GNU_SOURCE
#include "gate.h"

#include <errno.h>
#include <sched.h>
#include <string.h>

#include "sys.h"

extern void __libc_free(void *);

#define FREE_LOG_CAP (8u << 20)  /* 64 MiB of address space, touched as used */
#define YOUNG_LOG_CAP (4u << 20)

atomic_bool gate_is_open;
struct gate_counter gate_reallocs[GATE_REALLOC_SHARDS];

#define REALLOC_WAIT_MS 1000.0

static struct {
    atomic_uint busy;
    _Atomic(uintptr_t) *frees, *young;
    atomic_size_t n_frees, n_young;
    atomic_bool young_overflow;
    pid_t scanner;       /* never waits for its own gate */
    size_t young_sorted; /* scanner-private */
} g;

static inline bool enter(void)
{
    atomic_fetch_add(&g.busy, 1);
    if (atomic_load(&gate_is_open))
        return true;
    atomic_fetch_sub(&g.busy, 1);
    return false;
}

static inline void leave(void) { atomic_fetch_sub(&g.busy, 1); }

bool gate_defer_free(void *p)
{
    for (;;) {
        if (!gate_open_now() || !enter())
            return false;
        size_t i = atomic_fetch_add(&g.n_frees, 1);
        if (i < FREE_LOG_CAP) {
            atomic_store_explicit(&g.frees[i], (uintptr_t)p, memory_order_release);
            leave();
            return true;
        }
        /* Full: wait (holding nothing) until the scan closes the gate. */
        leave();
        if (sys_gettid() == g.scanner)
            return false;
        while (gate_open_now())
            sched_yield();
    }
}

void gate_note_young(uintptr_t p)
{
    if (!gate_open_now() || !enter())
        return;
    size_t i = atomic_fetch_add(&g.n_young, 1);
    if (i < YOUNG_LOG_CAP)
        atomic_store_explicit(&g.young[i], p, memory_order_release);
    else
        atomic_store(&g.young_overflow, true);
    leave();
}

int gate_open(void)
{
    g.frees = sys_map(FREE_LOG_CAP * sizeof(uintptr_t), true);
    g.young = sys_map(YOUNG_LOG_CAP * sizeof(uintptr_t), true);
    if (!g.frees || !g.young) {
        sys_unmap((void *)g.frees, FREE_LOG_CAP * sizeof(uintptr_t));
        sys_unmap((void *)g.young, YOUNG_LOG_CAP * sizeof(uintptr_t));
        g.frees = g.young = NULL;
        return ENOMEM;
    }
    atomic_store(&g.n_frees, 0);
    atomic_store(&g.n_young, 0);
    atomic_store(&g.young_overflow, false);
    g.young_sorted = 0;
    g.scanner = sys_gettid();
    atomic_store(&gate_is_open, true);
    /* Each counter seen at zero once after the open is enough: a realloc
     * entering later sees the gate open. */
    double until = sys_now_ms() + REALLOC_WAIT_MS;
    for (unsigned k = 0; k < GATE_REALLOC_SHARDS; k++) {
        while (atomic_load(&gate_reallocs[k].n)) {
            if (sys_now_ms() > until) {
                gate_close();
                return EAGAIN;
            }
            sched_yield();
        }
    }
    return 0;
}

static void sift_down(uintptr_t *a, size_t i, size_t n)
{
    uintptr_t v = a[i];
    for (size_t c; (c = 2 * i + 1) < n; i = c) {
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[c] <= v)
            break;
        a[i] = a[c];
    }
    a[i] = v;
}

/* Heap sort: in place, allocation-free and O(n log n) for any log size (a
 * Shell sort with fixed small gaps took 25 s on 3M entries, gate open). */
static void sort_addrs(uintptr_t *a, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (size_t end = n; end-- > 1;) {
        uintptr_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

void gate_young_each(void (*fn)(uintptr_t p, void *ctx), void *ctx)
{
    size_t total = GS_MIN(atomic_load(&g.n_young), (size_t)YOUNG_LOG_CAP);
    for (size_t i = 0; i < total; i++) {
        uintptr_t p = atomic_load_explicit(&g.young[i], memory_order_acquire);
        if (p)
            fn(p, ctx);
    }
}

const uintptr_t *gate_young(size_t *n, bool *overflow)
{
    size_t total = GS_MIN(atomic_load(&g.n_young), (size_t)YOUNG_LOG_CAP);
    uintptr_t *a = (uintptr_t *)g.young;
    /* Wait for entries reserved but not yet published: their threads are
     * two instructions from the store. */
    for (size_t i = g.young_sorted; i < total; i++)
        while (!atomic_load_explicit(&g.young[i], memory_order_acquire))
            sched_yield();
    if (total > g.young_sorted) {
        sort_addrs(a, total);
        g.young_sorted = total;
    }
    *n = total;
    *overflow = atomic_load(&g.young_overflow);
    return a;
}

void gate_close(void)
{
    atomic_store(&gate_is_open, false);
    while (atomic_load(&g.busy))
        sched_yield();
    size_t n = GS_MIN(atomic_load(&g.n_frees), (size_t)FREE_LOG_CAP);
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = atomic_load_explicit(&g.frees[i], memory_order_acquire);
        if (p)
            __libc_free((void *)p);
    }
    sys_unmap((void *)g.frees, FREE_LOG_CAP * sizeof(uintptr_t));
    sys_unmap((void *)g.young, YOUNG_LOG_CAP * sizeof(uintptr_t));
    g.frees = g.young = NULL;
}
