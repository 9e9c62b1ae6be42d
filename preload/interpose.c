/* SPDX-License-Identifier: MIT
 * interpose.c: the exported malloc family. Thin wrappers: forward to
 * glibc's __libc_* entry points (never dlsym on this path), then record a
 * handle. Each wrapper captures its own return address and its caller's
 * CFA for the stack cache (unwind.h), so it must keep a frame pointer
 * (the Makefile builds the shim with -fno-omit-frame-pointer).
 * Recursion: `tls.in_shim` > 0 means the shim itself (or libunwind, libdw)
 * is allocating: such blocks pass through untracked. A free of a pointer
 * the shim does not know is forwarded to glibc unchanged.
 * errno: preserved except where libc itself reports ENOMEM/EINVAL.
 * locks: one handle shard per call. STW: no. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "guardian.h"
#include "handle.h"
#include "init.h"
#include "interpose.h"
#include "misuse.h"
#include "owners.h"
#include "sys.h"
#include "tstate.h"
#include "unwind.h"

__thread struct tstate tls __attribute__((tls_model("initial-exec")));

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* Frame 0 of a stack names the entry point through a hidden alias: taking
 * `&malloc` would give a non-PIE executable's PLT slot instead. */
#define ENTRY(fn) ((uintptr_t)&entry_##fn)
#define DECLARE_ENTRY(fn) extern __typeof__(fn) entry_##fn __attribute__((alias(#fn)))

extern __typeof__(free) entry_free __attribute__((visibility("hidden")));
extern __typeof__(malloc) entry_malloc __attribute__((visibility("hidden")));
extern __typeof__(calloc) entry_calloc __attribute__((visibility("hidden")));
extern __typeof__(realloc) entry_realloc __attribute__((visibility("hidden")));
extern __typeof__(reallocarray) entry_reallocarray __attribute__((visibility("hidden")));
extern __typeof__(posix_memalign) entry_posix_memalign __attribute__((visibility("hidden")));
extern __typeof__(aligned_alloc) entry_aligned_alloc __attribute__((visibility("hidden")));
extern __typeof__(memalign) entry_memalign __attribute__((visibility("hidden")));
extern __typeof__(valloc) entry_valloc __attribute__((visibility("hidden")));
extern __typeof__(pvalloc) entry_pvalloc __attribute__((visibility("hidden")));

#define CALLER_RA ((uintptr_t)__builtin_return_address(0))
#define CALLER_CFA ((uintptr_t)__builtin_frame_address(0) + 16)

static size_t (*libc_usable_size)(void *);

void interpose_init(void)
{
    libc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
}

/* A call that must go straight to glibc, untracked: the shim is not ready,
 * or this thread is already inside it (the shim's own libraries, or a
 * signal handler that interrupted the shim or glibc: the interrupted frame
 * may hold a shim or glibc lock). */
/* While a fork runs its handlers, wait for it (bounded): an untracked
 * block could hide the blocks it points to. The bound matters for a
 * signal handler on a thread interrupted inside glibc's malloc, which
 * holds an arena lock the fork itself waits for: it passes through. */
#define FORK_WAIT_MS 2000.0

static bool fork_in_progress(void)
{
    if (GS_LIKELY(!atomic_load_explicit(&shim_forking, memory_order_relaxed)))
        return false;
    double until = sys_now_ms() + FORK_WAIT_MS;
    while (atomic_load_explicit(&shim_forking, memory_order_acquire)) {
        if (sys_now_ms() > until)
            return true;
        sched_yield();
    }
    return false;
}

static inline bool pass_through(void)
{
    return GS_UNLIKELY(tls.in_shim) || !init_ready() || GS_UNLIKELY(fork_in_progress());
}

/* Frees made while a fork holds the shim's locks, applied after it. A
 * free that does not fit leaves a stale handle, which the next allocation
 * at that address replaces. */
#define DEFERRED_FREES 4096
static struct {
    atomic_uint n;
    uintptr_t p[DEFERRED_FREES];
} deferred;

void interpose_apply_deferred_frees(void)
{
    unsigned n = GS_MIN(atomic_exchange(&deferred.n, 0), DEFERRED_FREES);
    for (unsigned i = 0; i < n; i++) {
        struct handle h;
        if (handle_remove(deferred.p[i], &h, 0) && (h.flags & (HF_FINALIZER | HF_GUARDED)))
            guardian_forget(deferred.p[i]);
    }
}

/* An untracked block at an address the shim saw freed: a later free of it
 * is no double free. Best effort (never waits for a lock). */
static void *untracked(void *p)
{
    if (p && atomic_load_explicit(&shim_state, memory_order_relaxed) == ST_READY)
        handle_forget_freed_try((uintptr_t)p);
    return p;
}

/* Records a fresh block. pre: tls.in_shim > 0 (taken before glibc was
 * called, so a signal handler running meanwhile passes through). */
static void record(void *p, size_t size, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    if (GS_UNLIKELY(!p))
        return;
    handle_prefetch((uintptr_t)p); /* its miss overlaps the unwinding */
    int saved = errno;
    stack_id st = unwind_stack(entry, ra0, cfa0);
    uint32_t flags = tls.disabled ? HF_IGNORED : 0;
    if (GS_UNLIKELY(init_pc_in_ldso(ra0)))
        flags |= HF_ROOT;
    if (GS_UNLIKELY(((uintptr_t)p & 15) != 0) ||
        GS_UNLIKELY(!handle_insert((uintptr_t)p, size, st, flags, tls.owner)))
        init_degrade("the handle table cannot grow");
    else if (GS_UNLIKELY(tls.owner))
        owners_on_alloc(tls.owner, size);
    /* After the insert: a scan whose snapshot missed p opened the gate
     * before copying p's shard (gate.h). */
    if (gate_open_now())
        gate_note_young((uintptr_t)p);
    errno = saved;
}

/* The body of every allocating entry point. `call` runs glibc. */
#define TRACKED(call, size, entry, ra0, cfa0)                                                  \
    ({                                                                                         \
        void *p_;                                                                              \
        if (pass_through()) {                                                                  \
            p_ = untracked(call);                                                              \
        } else {                                                                               \
            tls.in_shim++;                                                                     \
            p_ = (call);                                                                       \
            record(p_, (size), (entry), (ra0), (cfa0));                                        \
            tls.in_shim--;                                                                     \
        }                                                                                      \
        p_;                                                                                    \
    })

void *interpose_alloc(void *(*libc)(size_t, size_t), size_t a, size_t b, size_t size,
                      uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    return TRACKED(libc(a, b), size, entry, ra0, cfa0);
}

enum untrack { UNTRACK_DONE, UNTRACK_UNKNOWN };

/* Forgets a block about to be freed. pre: tls.in_shim > 0, shim ready. */
static enum untrack untrack(void *p, uintptr_t free_pc)
{
    struct handle h;
    if (!handle_remove((uintptr_t)p, &h, free_pc))
        return UNTRACK_UNKNOWN;
    if (GS_UNLIKELY(h.owner))
        owners_on_free(h.owner, h.size);
    if (GS_UNLIKELY(h.flags & (HF_FINALIZER | HF_GUARDED)))
        guardian_forget((uintptr_t)p);
    return UNTRACK_DONE;
}

void interpose_free(void *p, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    /* The handle's line and glibc's chunk header: two misses, overlapped. */
    handle_prefetch((uintptr_t)p);
    __builtin_prefetch((const char *)p - 16);
    if (pass_through()) {
        if (GS_UNLIKELY(atomic_load_explicit(&shim_forking, memory_order_relaxed)) &&
            !tls.in_shim) { /* waited long enough: apply after the fork */
            unsigned i = atomic_fetch_add(&deferred.n, 1);
            if (i < DEFERRED_FREES)
                deferred.p[i] = (uintptr_t)p;
        }
        if (!(gate_open_now() && gate_defer_free(p)))
            __libc_free(p);
        return;
    }
    tls.in_shim++;
    bool misuse =
        untrack(p, ra0) == UNTRACK_UNKNOWN && misuse_check(p, false, entry, ra0, cfa0);
    /* a reported misuse must not reach glibc; a concurrent mark may be
     * reading p (the untrack came after its snapshot): defer it */
    if (!misuse && !(gate_open_now() && gate_defer_free(p)))
        __libc_free(p);
    tls.in_shim--;
}

size_t interpose_free_tracked(void *p, int poison)
{
    struct handle h;
    if (!handle_remove((uintptr_t)p, &h, 0))
        return 0;
    if (h.owner)
        owners_on_free(h.owner, h.size);
    if (h.flags & (HF_FINALIZER | HF_GUARDED))
        guardian_forget((uintptr_t)p);
    memset(p, poison, h.size);
    if (!(gate_open_now() && gate_defer_free(p)))
        __libc_free(p);
    return h.size;
}

GS_EXPORT void *malloc(size_t n)
{
    return TRACKED(__libc_malloc(n), n, ENTRY(malloc), CALLER_RA, CALLER_CFA);
}

GS_EXPORT void free(void *p)
{
    if (p)
        interpose_free(p, ENTRY(free), CALLER_RA, CALLER_CFA);
}

GS_EXPORT void *calloc(size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total))
        return __libc_calloc(n, m); /* glibc sets ENOMEM and returns NULL */
    return TRACKED(__libc_calloc(n, m), total, ENTRY(calloc), CALLER_RA, CALLER_CFA);
}

/* realloc while the gate is open (gate.h): never in place, the old block
 * stays mapped until the gate closes. The caller frees (or defers) `p`. */
static void *realloc_by_copy(void *p, size_t n, size_t old_size)
{
    void *q = __libc_malloc(n);
    if (q)
        memcpy(q, p, GS_MIN(old_size, n));
    return q;
}

static void *realloc_untracked(void *p, size_t n)
{
    if (!gate_open_now())
        return untracked(__libc_realloc(p, n));
    void *q = n ? realloc_by_copy(p, n, libc_usable_size ? libc_usable_size(p) : 0) : NULL;
    if ((q || !n) && !gate_defer_free(p))
        __libc_free(p);
    return untracked(q);
}

static void *realloc_impl(void *p, size_t n, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    if (!p)
        return TRACKED(__libc_malloc(n), n, entry, ra0, cfa0);
    if (pass_through())
        return realloc_untracked(p, n);
    int saved = errno;
    tls.in_shim++;
    if (n == 0) {
        untrack(p, ra0); /* glibc frees p and returns NULL */
        void *r = NULL;
        if (!(gate_open_now() && gate_defer_free(p)))
            r = __libc_realloc(p, 0);
        tls.in_shim--;
        return r;
    }
    struct handle old;
    bool had = handle_lookup((uintptr_t)p, &old);
    if (!had && misuse_check(p, true, entry, ra0, cfa0)) {
        tls.in_shim--;
        errno = EINVAL;
        return NULL; /* reported; glibc must not see it */
    }
    stack_id st = unwind_stack(entry, ra0, cfa0);
    tls.inflight_old = (uintptr_t)p;
    /* Announced, then the gate checked: gate_open waits for this realloc
     * if it missed the gate, until p's handle is gone (gate.h). */
    unsigned gate_shard = gate_realloc_enter();
    bool copied = atomic_load(&gate_is_open);
    void *q = copied ? realloc_by_copy(p, n, had ? old.size : libc_usable_size(p))
                     : __libc_realloc(p, n);
    if (!q) {
        gate_realloc_leave(gate_shard);
        tls.inflight_old = 0;
        tls.in_shim--;
        return NULL; /* p is untouched; glibc set errno */
    }
    tls.inflight_size = n;
    tls.inflight_new = (uintptr_t)q;
    struct handle gone;
    if (had && handle_remove((uintptr_t)p, &gone, ra0) && gone.owner)
        owners_on_free(gone.owner, gone.size);
    gate_realloc_leave(gate_shard);
    uint32_t flags = had ? old.flags & (HF_IGNORED | HF_ROOT) : (tls.disabled ? HF_IGNORED : 0);
    if (had && (old.flags & (HF_FINALIZER | HF_GUARDED)))
        guardian_forget((uintptr_t)p);
    uint32_t owner = had ? old.owner : tls.owner;
    if (copied && !gate_defer_free(p))
        __libc_free(p);
    if (((uintptr_t)q & 15) || !handle_insert((uintptr_t)q, n, st, flags, owner))
        init_degrade("the handle table cannot grow");
    else if (owner)
        owners_on_alloc(owner, n);
    if (gate_open_now()) /* after the insert, before inflight_new clears: see record() */
        gate_note_young((uintptr_t)q);
    tls.inflight_new = 0;
    tls.inflight_old = 0;
    tls.in_shim--;
    errno = saved;
    return q;
}

GS_EXPORT void *realloc(void *p, size_t n)
{
    return realloc_impl(p, n, ENTRY(realloc), CALLER_RA, CALLER_CFA);
}

GS_EXPORT void *reallocarray(void *p, size_t n, size_t m)
{
    size_t total;
    if (__builtin_mul_overflow(n, m, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc_impl(p, total, ENTRY(reallocarray), CALLER_RA, CALLER_CFA);
}

GS_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0)
        return EINVAL;
    int saved = errno;
    void *p = TRACKED(__libc_memalign(align, n), n, ENTRY(posix_memalign), CALLER_RA, CALLER_CFA);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

GS_EXPORT void *aligned_alloc(size_t align, size_t n)
{
    return TRACKED(__libc_memalign(align, n), n, ENTRY(aligned_alloc), CALLER_RA, CALLER_CFA);
}

GS_EXPORT void *memalign(size_t align, size_t n)
{
    return TRACKED(__libc_memalign(align, n), n, ENTRY(memalign), CALLER_RA, CALLER_CFA);
}

GS_EXPORT void *valloc(size_t n)
{
    return TRACKED(__libc_valloc(n), n, ENTRY(valloc), CALLER_RA, CALLER_CFA);
}

GS_EXPORT void *pvalloc(size_t n)
{
    /* pvalloc's block is the size rounded up to whole pages (at least one). */
    size_t rounded = n ? (n + 4095) & ~(size_t)4095 : 4096;
    if (rounded < n)
        rounded = n;
    return TRACKED(__libc_pvalloc(n), rounded, ENTRY(pvalloc), CALLER_RA, CALLER_CFA);
}

GS_EXPORT size_t malloc_usable_size(void *p)
{
    if (!p)
        return 0;
    if (!libc_usable_size)
        init_ready();
    return libc_usable_size ? libc_usable_size(p) : 0;
}

/* The aliases need not repeat glibc's attributes (leaf, malloc...): they
 * are only ever used as addresses. */
#pragma GCC diagnostic ignored "-Wmissing-attributes"
DECLARE_ENTRY(malloc);
DECLARE_ENTRY(free);
DECLARE_ENTRY(calloc);
DECLARE_ENTRY(realloc);
DECLARE_ENTRY(reallocarray);
DECLARE_ENTRY(posix_memalign);
DECLARE_ENTRY(aligned_alloc);
DECLARE_ENTRY(memalign);
DECLARE_ENTRY(valloc);
DECLARE_ENTRY(pvalloc);
