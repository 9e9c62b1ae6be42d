/* SPDX-License-Identifier: MIT
 * unwind.c: stack capture with a verified stack cache (see unwind.h).
 *
 * Hit: (entry, ra0, cfa0) names a cached stack whose return-address slots
 * are re-read; all holding their cached PCs is a hit. Why that is exact:
 * frame k's return address lives at CFA(k-1)-8, and for a frame whose CFA
 * is SP-relative CFA(k-1) = SP(k-1) + frame_size(PC(k-1)): with (ra0, cfa0)
 * equal and each PC re-read equal, every slot is where it was. Frames whose
 * size varies (alloca, stack realignment, signal frames) are never cached.
 *
 * Miss: libunwind's fast trace (unw_backtrace: per-PC cached CFI, no
 * syscalls) gives the PCs; the slots follow from each PC's frame size,
 * kept in a process-wide table. A PC of unknown size costs one exact
 * unw_step walk, which learns the sizes of every frame on it; unw_step is
 * ~70x slower than the fast trace (it masks signals around each CFI
 * lookup), so it runs about once per distinct PC, not per allocation.
 * Sizes are checked on every miss (the computed slot must hold the traced
 * PC); a PC seen with two sizes is marked variable for good.
 *
 * libunwind blocks every signal while it waits for the loader lock, which
 * a scan holds: every call into it is parked (world_park) with the
 * registers spilled, so a scan does not wait for this thread.
 * locks: none on a hit; the size table's lock on insertion; depot lock.
 * allocates: sys_map (the size table), arena (a small cache per thread). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "arch.h"
#include "arena.h"
#include "init.h"
#include "lock.h"
#include "options.h"
#include "sys.h"
#include "tstate.h"
#include "world.h"

/* The stack cache: buckets of stack ids, keyed by (entry point, its
 * return address, the caller's return address), shared by every thread.
 * The depot keeps each cached stack's slot layout relative to the CFA, so
 * one entry serves a call chain at any stack depth and on any thread. Ids
 * are written with single atomic stores: a reader sees an old id or a new
 * one, each naming an immutable stack. */
#define CACHE_BUCKETS 16384
#define CACHE_WAYS 8
/* Frames the shim itself puts between the program and libunwind. */
#define SHIM_FRAMES 16

static _Atomic stack_id cache[CACHE_BUCKETS][CACHE_WAYS];

/* In front of it, a small per-thread cache keyed by the exact call site
 * and stack depth (entry, ra0, cfa0), which spares a repeating call the
 * walk that computes the shared cache's key. Its entries are only hints:
 * a hit is verified against the depot's stack like any other. */
#define L1_SETS 128
#define L1_WAYS 4

struct l1_entry {
    uintptr_t entry, ra0, cfa0;
    stack_id id;
};

struct l1_cache {
    struct l1_entry e[L1_SETS][L1_WAYS]; /* each set most recently used first */
};

/* ---- Frame sizes: PC -> CFA - (SP after the call at that PC returns) ---- */

#define SIZE_VARIABLE INT32_MIN /* seen with two sizes: never cached */
#define SIZE_UNKNOWN INT32_MAX  /* not in the table */
#define SIZES_MIN_CAP 4096

struct size_entry {
    _Atomic uintptr_t pc; /* written last: a reader that sees it sees `size` */
    _Atomic int32_t size;
};

struct size_table {
    size_t cap;
    struct size_entry e[];
};

/* Readers never lock: a grown table is published with a release store and
 * the old one stays mapped (the sizes double, so all of them together take
 * at most twice the last). */
static struct {
    struct spinlock lock;
    _Atomic(struct size_table *) t;
    size_t n; /* entries of `t`, under `lock` */
} sizes;

static inline size_t size_home(uintptr_t pc, size_t cap)
{
    return (size_t)((pc * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static int32_t size_get(uintptr_t pc)
{
    struct size_table *t = atomic_load_explicit(&sizes.t, memory_order_acquire);
    if (!t)
        return SIZE_UNKNOWN;
    for (size_t i = size_home(pc, t->cap);; i = (i + 1) & (t->cap - 1)) {
        uintptr_t k = atomic_load_explicit(&t->e[i].pc, memory_order_acquire);
        if (k == pc)
            return atomic_load_explicit(&t->e[i].size, memory_order_relaxed);
        if (k == 0)
            return SIZE_UNKNOWN;
    }
}

static struct size_entry *size_slot_locked(struct size_table *t, uintptr_t pc)
{
    for (size_t i = size_home(pc, t->cap);; i = (i + 1) & (t->cap - 1)) {
        uintptr_t k = atomic_load_explicit(&t->e[i].pc, memory_order_relaxed);
        if (k == pc || k == 0)
            return &t->e[i];
    }
}

static bool sizes_grow_locked(void)
{
    struct size_table *old = atomic_load_explicit(&sizes.t, memory_order_relaxed);
    size_t cap = old ? old->cap * 2 : SIZES_MIN_CAP;
    struct size_table *t = sys_map(sizeof *t + cap * sizeof(struct size_entry), false);
    if (!t)
        return false;
    t->cap = cap;
    for (size_t i = 0; old && i < old->cap; i++) {
        uintptr_t pc = atomic_load_explicit(&old->e[i].pc, memory_order_relaxed);
        if (pc) {
            struct size_entry *e = size_slot_locked(t, pc);
            atomic_store_explicit(&e->size, atomic_load(&old->e[i].size), memory_order_relaxed);
            atomic_store_explicit(&e->pc, pc, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&sizes.t, t, memory_order_release);
    return true;
}

/* Records that the frame running at `pc` is `size` bytes; a second,
 * different size makes it variable. */
static void size_learn(uintptr_t pc, int32_t size)
{
    spin_lock(&sizes.lock);
    struct size_table *t = atomic_load_explicit(&sizes.t, memory_order_relaxed);
    if ((!t || (sizes.n + 1) * 2 > t->cap) && !sizes_grow_locked()) {
        spin_unlock(&sizes.lock);
        return; /* unknown stays unknown: those stacks are not cached */
    }
    t = atomic_load_explicit(&sizes.t, memory_order_relaxed);
    struct size_entry *e = size_slot_locked(t, pc);
    if (atomic_load_explicit(&e->pc, memory_order_relaxed) == 0) {
        atomic_store_explicit(&e->size, size, memory_order_relaxed);
        atomic_store_explicit(&e->pc, pc, memory_order_release);
        sizes.n++;
    } else if (atomic_load_explicit(&e->size, memory_order_relaxed) != size) {
        atomic_store_explicit(&e->size, SIZE_VARIABLE, memory_order_relaxed);
    }
    spin_unlock(&sizes.lock);
}

/* ---- Thread stacks ---- */

int unwind_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    /* libunwind creates a pthread key on its first trace. Created later, it
     * may get an index >= 32, and glibc then allocates the thread's second
     * level of keys under the shim (untracked, so never scanned): the
     * program's values for keys 32..63 would look leaked. */
    void *pc;
    unw_backtrace(&pc, 1);
    return 0;
}

/* The calling thread's stack, once: slots are only ever read inside it.
 * Threads the shim starts know it already (threads.c). */
static void learn_stack_bounds(void)
{
    pthread_attr_t a;
    void *addr;
    size_t size;
    /* Unknown until known, nothing cached meanwhile: pthread_getattr_np
     * allocates under a lock of the thread's, and that allocation lands here. */
    tls.stack_lo = tls.stack_hi = 1;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return;
    if (pthread_attr_getstack(&a, &addr, &size) == 0 && size) {
        tls.stack_lo = (uintptr_t)addr;
        tls.stack_hi = (uintptr_t)addr + size;
    }
    pthread_attr_destroy(&a);
}

/* ---- Calls into libunwind (parked) ---- */

struct trace_req {
    uintptr_t ra0, cfa0;
    unsigned max;        /* user frames wanted */
    bool exact;          /* walk with unw_step and learn frame sizes */
    uintptr_t *pcs;      /* out: PCs from ra0 up */
    unsigned n;
};

/* The PCs from the entry point's caller up, by libunwind's fast trace. */
static void fast_trace(struct trace_req *q)
{
    void *buf[DEPOT_MAX_FRAMES + SHIM_FRAMES];
    int got = unw_backtrace(buf, (int)GS_MIN(q->max + SHIM_FRAMES, GS_ARRAY_LEN(buf)));
    int first = 0;
    while (first < got && (uintptr_t)buf[first] != q->ra0)
        first++;
    q->n = 0;
    for (int i = first; i < got && q->n < q->max; i++)
        q->pcs[q->n++] = (uintptr_t)buf[i];
}

/* The same walk by unw_step, which also tells each frame's stack pointer:
 * every frame size on it is learned. */
static void exact_trace(struct trace_req *q)
{
    unw_context_t uc;
    unw_cursor_t cur;
    q->n = 0;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&cur, &uc) != 0)
        return;
    /* Walk out of the shim: the shim's own frames are a handful. */
    for (int i = 0;; i++) {
        unw_word_t ip, sp;
        if (i > SHIM_FRAMES || unw_step(&cur) <= 0)
            return;
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        unw_get_reg(&cur, UNW_REG_SP, &sp);
        if (ip == q->ra0 && sp == q->cfa0)
            break;
    }
    q->pcs[0] = q->ra0;
    q->n = 1;
    uintptr_t prev_sp = q->cfa0;
    while (q->n < q->max && unw_step(&cur) > 0) {
        unw_word_t ip, sp;
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        unw_get_reg(&cur, UNW_REG_SP, &sp);
        if (ip == 0)
            break;
        uintptr_t caller = q->pcs[q->n - 1];
        /* A frame whose return address is not just below the next CFA (a
         * signal frame) or that does not grow the stack is variable. */
        if (sp <= prev_sp || sp - prev_sp > INT32_MAX / 2 || *(uintptr_t *)(sp - 8) != ip)
            size_learn(caller, SIZE_VARIABLE);
        else
            size_learn(caller, (int32_t)(sp - prev_sp));
        q->pcs[q->n++] = ip;
        prev_sp = sp;
    }
}

static uintptr_t parked_trace_cb(uintptr_t sp, void *arg)
{
    struct trace_req *q = arg;
    bool parked = world_park(sp);
    init_loader_enter();
    if (q->exact)
        exact_trace(q);
    else
        fast_trace(q);
    init_loader_exit();
    if (parked)
        world_unpark();
    return 0;
}

static void trace(struct trace_req *q)
{
    arch_call_with_regs_saved(parked_trace_cb, q);
    if (q->n == 0) {
        q->pcs[0] = q->ra0;
        q->n = 1;
    }
}

/* Computes where each traced PC lies: slots[k] (k >= 1) is the offset
 * from cfa0 of the return address pcs[k-1] of the depot stack (pcs here
 * starts at ra0). returns: false when a frame size is unknown (*unknown
 * set), variable, or wrong (then learned as variable), or when a slot
 * would leave this thread's stack. */
static bool place_slots(uintptr_t cfa0, const uintptr_t *pcs, unsigned n, int32_t *slots,
                        bool *unknown)
{
    if (cfa0 < tls.stack_lo || cfa0 >= tls.stack_hi)
        return false; /* another stack (sigaltstack, coroutine): not cached */
    uintptr_t slot = cfa0 - 8;
    slots[0] = 0;
    slots[1] = -8;
    for (unsigned k = 1; k < n; k++) {
        int32_t size = size_get(pcs[k - 1]);
        if (size == SIZE_UNKNOWN)
            *unknown = true;
        if (size == SIZE_UNKNOWN || size == SIZE_VARIABLE)
            return false;
        slot += (uintptr_t)(uint32_t)size;
        if (slot + 8 > tls.stack_hi || slot - cfa0 > INT32_MAX)
            return false;
        if (*(const uintptr_t *)slot != pcs[k]) {
            size_learn(pcs[k - 1], SIZE_VARIABLE);
            return false;
        }
        slots[k + 1] = (int32_t)(slot - cfa0);
    }
    return true;
}

/* Return addresses the cache key covers, read through the frame size
 * table: with fewer, call chains that differ only deep down (a compiler's
 * helpers under many passes) thrash their bucket. The key is only a hash:
 * what it reads is never reported, `matches` compares the stored stack. */
#define KEY_FRAMES 8

/* The bucket of the current call chain; the key ends early at a frame
 * whose size is not known to be fixed (the outermost frame, for one).
 * *keyed is false when cfa0 is not on this thread's stack (sigaltstack,
 * coroutines): such chains are not cached. */
static struct l1_cache *l1_get(void)
{
    if (GS_UNLIKELY(!tls.l1))
        tls.l1 = arena_alloc(sizeof(struct l1_cache));
    return tls.l1;
}

void unwind_thread_exit(void)
{
    struct l1_cache *c = tls.l1;
    tls.l1 = NULL;
    if (c)
        arena_free(c, sizeof *c);
}

static inline unsigned l1_set(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    uint64_t h = (ra0 ^ (cfa0 << 7) ^ (entry << 17)) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 57); /* 7 bits: L1_SETS */
}

/* Inserts at the front; the least recently used entry drops out. */
static inline void l1_put(struct l1_cache *c, unsigned set, uintptr_t entry, uintptr_t ra0,
                          uintptr_t cfa0, stack_id id)
{
    memmove(&c->e[set][1], &c->e[set][0], (L1_WAYS - 1) * sizeof(struct l1_entry));
    c->e[set][0] = (struct l1_entry){entry, ra0, cfa0, id};
}

static inline _Atomic stack_id *bucket_of(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0,
                                          bool *keyed)
{
    uint64_t h = entry * 0x9E3779B97F4A7C15ull;
    uintptr_t ra = ra0, slot = cfa0 - 8;
    *keyed = cfa0 >= tls.stack_lo && cfa0 < tls.stack_hi;
    for (unsigned k = 0; *keyed; k++) {
        h = (h ^ ra) * 0xff51afd7ed558ccdull;
        if (k + 1 == KEY_FRAMES)
            break;
        int32_t size = size_get(ra);
        if (size == SIZE_UNKNOWN || size == SIZE_VARIABLE)
            break;
        slot += (uintptr_t)(uint32_t)size;
        if (slot + 8 > tls.stack_hi)
            break;
        ra = *(const uintptr_t *)slot;
    }
    return cache[(h ^ (h >> 29)) >> 50]; /* 14 bits: CACHE_BUCKETS */
}

/* True when every return-address slot of `st` holds its PC again. */
static inline bool matches(const struct depot_stack *st, uintptr_t entry, uintptr_t ra0,
                           uintptr_t cfa0)
{
    const int32_t *slots = atomic_load_explicit(&st->slots, memory_order_acquire);
    if (!slots || st->pcs[0] != entry || st->pcs[1] != ra0 ||
        cfa0 + (uintptr_t)(intptr_t)st->max_slot + 8 > tls.stack_hi)
        return false;
    const uintptr_t *pcs = st->pcs;
    for (unsigned k = 2, n = st->n; k < n; k++)
        if (*(const uintptr_t *)(cfa0 + (uintptr_t)(intptr_t)slots[k]) != pcs[k])
            return false;
    return true;
}

stack_id unwind_stack(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    if (opt.stack_depth <= 1)
        return depot_put(&entry, 1);
    if (GS_UNLIKELY(!tls.stack_hi))
        learn_stack_bounds();
    struct l1_cache *c = l1_get();
    unsigned set = l1_set(entry, ra0, cfa0);
    for (unsigned way = 0; c && way < L1_WAYS; way++) {
        struct l1_entry *e = &c->e[set][way];
        if (e->ra0 != ra0 || e->cfa0 != cfa0 || e->entry != entry)
            continue;
        const struct depot_stack *st = depot_stack_of(e->id);
        if (st && matches(st, entry, ra0, cfa0)) {
            stack_id id = e->id;
            /* Most recently used first: a site reached by two chains at
             * one depth checks the busier one first. */
            if (way) {
                struct l1_entry t = c->e[set][0];
                c->e[set][0] = *e;
                *e = t;
            }
            return id;
        }
    }
    bool keyed;
    _Atomic stack_id *b = bucket_of(entry, ra0, cfa0, &keyed);
    for (unsigned way = 0; keyed && way < CACHE_WAYS; way++) {
        stack_id id = atomic_load_explicit(&b[way], memory_order_relaxed);
        const struct depot_stack *st = id ? depot_stack_of(id) : NULL;
        if (st && matches(st, entry, ra0, cfa0)) {
            if (c)
                l1_put(c, set, entry, ra0, cfa0, id);
            return id;
        }
    }
    /* Miss: trace, then cache the stack if its slots are known. */
    unsigned depth = (unsigned)opt.stack_depth - 1;
    uintptr_t pcs[DEPOT_MAX_FRAMES];
    int32_t slots[DEPOT_MAX_FRAMES];
    pcs[0] = entry;
    struct trace_req q = {ra0, cfa0, depth, false, pcs + 1, 0};
    trace(&q);
    bool unknown = false;
    bool cacheable = place_slots(cfa0, q.pcs, q.n, slots, &unknown);
    if (!cacheable && unknown) {
        q.exact = true;
        trace(&q);
        unknown = false;
        cacheable = place_slots(cfa0, q.pcs, q.n, slots, &unknown);
    }
    stack_id id = depot_put_slots(pcs, q.n + 1, cacheable ? slots : NULL);
    if (cacheable && id) {
        b = bucket_of(entry, ra0, cfa0, &keyed); /* learning may have made it keyable */
        unsigned way = (unsigned)(id ^ (id >> 3)) % CACHE_WAYS;
        for (unsigned k = 0; k < CACHE_WAYS; k++)
            if (atomic_load_explicit(&b[k], memory_order_relaxed) == 0) {
                way = k;
                break;
            }
        if (keyed)
            atomic_store_explicit(&b[way], id, memory_order_relaxed);
        if (c)
            l1_put(c, set, entry, ra0, cfa0, id);
    }
    return id;
}
