/* SPDX-License-Identifier: MIT
 * unwind.c: stack capture with a verified per-thread cache (see unwind.h).
 *
 * Why verification is exact: frame k's return address lives at CFA(k-1)-8,
 * and CFA(k-1) is determined by the PC and stack pointer of frame k-1 for
 * frames whose CFA is SP-relative. With (ra0, cfa0) equal, the chain of
 * slots is the same, so reading each slot gives the true PC of each frame;
 * a mismatch anywhere is a miss. (Frames that locate their CFA through a
 * variable-size alloca can in theory repeat a stale slot; we accept that.)
 * locks: none on a hit. allocates: arena (one cache per thread). */
#define UNW_LOCAL_ONLY
#include "unwind.h"

#include <libunwind.h>
#include <string.h>

#include "arena.h"
#include "init.h"
#include "options.h"
#include "tstate.h"

/* 128 sets of 4 ways: a direct-mapped cache thrashed whenever two hot
 * call sites hashed alike, which ASLR made a matter of luck (bench/). */
#define CACHE_SETS 128
#define CACHE_ASSOC 4
#define CACHE_WAYS (CACHE_SETS * CACHE_ASSOC)
/* A cached stack spans at most this much stack above cfa0: slots beyond it
 * could lie in a since-unmapped stack (coroutines) and are not cached. */
#define CACHE_SPAN (1u << 20)

struct cache_head {
    uintptr_t entry, ra0, cfa0;
    stack_id id;
    uint32_t n; /* user frames (1..depth-1), frame 1 = ra0 */
};

struct cache_frame {
    uintptr_t slot, pc;
};

struct unwind_cache {
    unsigned depth; /* max user frames per entry */
    size_t bytes;
    uint8_t victim[CACHE_SETS]; /* next way to replace, round robin */
    struct cache_head heads[CACHE_WAYS];
    struct cache_frame frames[]; /* CACHE_WAYS * depth */
};

int unwind_init(void)
{
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
    return 0;
}

static struct unwind_cache *cache_get(void)
{
    struct unwind_cache *c = tls.cache;
    if (GS_LIKELY(c))
        return c;
    unsigned depth = (unsigned)opt.stack_depth - 1; /* >= 1: depth 1 never gets here */
    size_t bytes = sizeof *c + (size_t)CACHE_WAYS * depth * sizeof(struct cache_frame);
    c = arena_alloc(bytes);
    if (c) {
        c->depth = depth;
        c->bytes = bytes;
        tls.cache = c;
    }
    return c;
}

void unwind_thread_exit(void)
{
    struct unwind_cache *c = tls.cache;
    tls.cache = NULL;
    if (c)
        arena_free(c, c->bytes);
}

static inline unsigned set_of(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    uint64_t h = (ra0 ^ (cfa0 << 7) ^ (entry << 17)) * 0x9E3779B97F4A7C15ull;
    return (unsigned)(h >> 57); /* 7 bits: CACHE_SETS */
}

/* Unwinds from here to the caller of the entry point and beyond.
 * Fills frames[0..n) (frame 0 = ra0) and returns n; *cacheable is false
 * when a frame's slot did not hold its PC (signal frames and the like). */
static GS_NOINLINE unsigned slow_unwind(uintptr_t ra0, uintptr_t cfa0, struct cache_frame *frames,
                                        unsigned max, bool *cacheable)
{
    unw_context_t uc;
    unw_cursor_t cur;
    *cacheable = false;
    if (unw_getcontext(&uc) != 0 || unw_init_local(&cur, &uc) != 0)
        goto fallback;
    /* Walk out of the shim: the shim's own frames are a handful. */
    for (int i = 0;; i++) {
        unw_word_t ip, sp;
        if (i > 16 || unw_step(&cur) <= 0)
            goto fallback;
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        unw_get_reg(&cur, UNW_REG_SP, &sp);
        if (ip == ra0 && sp == cfa0)
            break;
    }
    frames[0].slot = cfa0 - 8;
    frames[0].pc = ra0;
    unsigned n = 1;
    bool ok = true;
    while (n < max && unw_step(&cur) > 0) {
        unw_word_t ip, sp;
        unw_get_reg(&cur, UNW_REG_IP, &ip);
        unw_get_reg(&cur, UNW_REG_SP, &sp);
        if (ip == 0)
            break;
        frames[n].slot = sp - 8;
        frames[n].pc = ip;
        if (sp <= frames[n - 1].slot || sp - cfa0 > CACHE_SPAN || *(uintptr_t *)(sp - 8) != ip)
            ok = false;
        n++;
    }
    *cacheable = ok;
    return n;
fallback:
    frames[0].slot = cfa0 - 8;
    frames[0].pc = ra0;
    return 1;
}

/* The PCs from the entry point's caller up, by libunwind's fast trace
 * (cached per PC, no per-frame syscalls), without slot addresses. */
static GS_NOINLINE unsigned fast_unwind(uintptr_t ra0, uintptr_t *out, unsigned max)
{
    void *buf[DEPOT_MAX_FRAMES + 16];
    init_loader_enter();
    int got = unw_backtrace(buf, (int)GS_MIN(max + 16, GS_ARRAY_LEN(buf)));
    init_loader_exit();
    int first = 0;
    while (first < got && (uintptr_t)buf[first] != ra0)
        first++;
    if (first == got) {
        out[0] = ra0;
        return 1;
    }
    unsigned n = 0;
    for (int i = first; i < got && n < max; i++)
        out[n++] = (uintptr_t)buf[i];
    return n;
}

stack_id unwind_stack(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    if (opt.stack_depth <= 1)
        return depot_put(&entry, 1);
    struct unwind_cache *c = cache_get();
    if (GS_UNLIKELY(!c)) {
        uintptr_t pcs[2] = {entry, ra0};
        return depot_put(pcs, 2);
    }
    unsigned set = set_of(entry, ra0, cfa0);
    for (unsigned way = 0; way < CACHE_ASSOC; way++) {
        unsigned w = set * CACHE_ASSOC + way;
        const struct cache_head *h = &c->heads[w];
        if (h->ra0 != ra0 || h->cfa0 != cfa0 || h->entry != entry || !h->id)
            continue;
        const struct cache_frame *fr = &c->frames[(size_t)w * c->depth];
        unsigned k = 1;
        while (k < h->n && *(const uintptr_t *)fr[k].slot == fr[k].pc)
            k++;
        if (k == h->n)
            return h->id;
    }
    unsigned w = set * CACHE_ASSOC + c->victim[set];
    struct cache_head *h = &c->heads[w];
    struct cache_frame *fr = &c->frames[(size_t)w * c->depth];
    /* A key seen once before (n == 0) is hot: pay for the exact slots now. */
    bool hot = false;
    for (unsigned way = 0; way < CACHE_ASSOC && !hot; way++) {
        struct cache_head *o = &c->heads[set * CACHE_ASSOC + way];
        if (o->ra0 == ra0 && o->cfa0 == cfa0 && o->entry == entry && o->n == 0) {
            hot = true;
            h = o;
            w = set * CACHE_ASSOC + way;
            fr = &c->frames[(size_t)w * c->depth];
        }
    }
    if (!hot)
        c->victim[set] = (uint8_t)((c->victim[set] + 1) % CACHE_ASSOC);
    uintptr_t pcs[DEPOT_MAX_FRAMES];
    pcs[0] = entry;
    unsigned n;
    bool cacheable = false;
    if (hot) {
        init_loader_enter();
        n = slow_unwind(ra0, cfa0, fr, c->depth, &cacheable);
        init_loader_exit();
        for (unsigned i = 0; i < n; i++)
            pcs[i + 1] = fr[i].pc;
    } else {
        n = fast_unwind(ra0, pcs + 1, c->depth);
    }
    stack_id id = depot_put(pcs, n + 1);
    h->entry = entry;
    h->ra0 = ra0;
    h->cfa0 = cfa0;
    /* n == 0 marks "seen once, slots unknown": never a hit, hot next time. */
    h->n = cacheable ? n : 0;
    h->id = cacheable ? id : 0;
    return id;
}
