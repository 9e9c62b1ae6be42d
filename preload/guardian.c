/* SPDX-License-Identifier: MIT
 * guardian.c: guardians, finalizers, drain (guardian.h).
 * locks: `guard.lock`; guardian_prepare updates handle flags with the
 * handle locks its caller holds. STW: guardian_scan (reads the side table,
 * writes only the pre-mapped action buffer and mark state). allocates:
 * arena (side table, queues), never while the world is stopped. */
#include "guardian.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "handle.h"
#include "lock.h"
#include "sys.h"

#define uthash_malloc(sz) arena_alloc(sz)
#define uthash_free(p, sz) arena_free((p), (sz))
#define uthash_nonfatal_oom(e) guard.oom = true
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

/* A guardian handle given to the program is a token, never an address:
 *   bits 48..63  TOKEN_TAG
 *   bits 12..47  the slot's generation when the guardian was made
 *   bits  0..11  slot index
 * The tag makes it a non-canonical address, so no copy the program keeps
 * can look like a pointer to one of its blocks, and no dereference of a
 * forged one can succeed. A freed slot's generation moves on, so a stale
 * token stays invalid when the slot is reused (until 2^36 reuses). */
#define MAX_GUARDIANS 4096
#define TOKEN_TAG 0x6775ull
#define TOKEN_SLOT_MASK 0xfffull
#define TOKEN_GEN_MASK 0xfffffffffull

_Static_assert(sizeof(uintptr_t) == 8, "guardian tokens need 64-bit pointers");

struct guardian {
    bool used;
    uint64_t gen;     /* generation of the current or last guardian here */
    uintptr_t *queue; /* hidden block addresses, FIFO ring */
    size_t head, n, cap;
};

/* A block's side-table entry. All user pointers are stored hidden.
 * Its roles: HF_GUARDED while registered or queued (`ngids`, `held`),
 * HF_FINALIZER while it has a finalizer or one is queued or running
 * (`fn`, `pending`, `running`). `flagged` are the handle flags the API set for it.
 * Invariant (free relies on it to call guardian_forget): an entry exists
 * only while its block's handle carries the bits in `flagged`, which is
 * never 0; the API sets a handle's flag right after the entry's role
 * (api.c flag_block), and a role just given is never cleared. A flag whose role ended is cleared by the next scan's
 * guardian_prepare, the only place holding the handle locks and
 * `guard.lock` at once; until then the entry stays, role-less if need be,
 * and the stale flag only keeps reclaim away from the block. */
struct gentry {
    uintptr_t key;      /* GS_HIDE(block) */
    guardian_fn fn;     /* finalizer, or NULL */
    uintptr_t arg;      /* GS_HIDE(arg) */
    uint32_t *gids;     /* guardians it is registered with (may repeat) */
    uint32_t ngids, gcap;
    uint32_t held;      /* guardian queue slots holding it */
    bool pending;       /* queued for finalization */
    bool running;       /* its finalizer runs in a gs_drain now */
    uint8_t flagged;    /* HF_GUARDED | HF_FINALIZER set on its handle */
    UT_hash_handle hh;
};

struct pending {
    uintptr_t block, arg; /* hidden */
    guardian_fn fn;
};

static struct {
    struct spinlock lock;
    bool oom;
    struct gentry *table;
    size_t n_entries;
    struct guardian slots[MAX_GUARDIANS];
    uint32_t n_ids; /* slots in use are below this */
    struct pending *pend;
    size_t pend_n, pend_cap;
} guard;

static struct gentry *entry_find(uintptr_t block)
{
    uintptr_t key = GS_HIDE(block);
    struct gentry *e;
    HASH_FIND(hh, guard.table, &key, sizeof key, e);
    return e;
}

static struct gentry *entry_get(uintptr_t block)
{
    struct gentry *e = entry_find(block);
    if (e)
        return e;
    e = arena_alloc(sizeof *e);
    if (!e)
        return NULL;
    e->key = GS_HIDE(block);
    guard.oom = false;
    HASH_ADD(hh, guard.table, key, sizeof e->key, e);
    if (guard.oom) {
        arena_free(e, sizeof *e);
        return NULL;
    }
    guard.n_entries++;
    return e;
}

static void entry_drop(struct gentry *e)
{
    HASH_DEL(guard.table, e);
    arena_free(e->gids, e->gcap * sizeof *e->gids);
    arena_free(e, sizeof *e);
    guard.n_entries--;
}

static uint8_t entry_roles(const struct gentry *e)
{
    return (uint8_t)((e->ngids || e->held ? HF_GUARDED : 0) |
                     (e->fn || e->pending || e->running ? HF_FINALIZER : 0));
}

/* An entry with no role and no flag left on its handle goes away. */
static void entry_maybe_drop(struct gentry *e)
{
    if (!entry_roles(e) && !e->flagged)
        entry_drop(e);
}

/* The guardian a token names, or NULL (forged, stale, or freed). */
static struct guardian *guardian_of_locked(uintptr_t token)
{
    if (token >> 48 != TOKEN_TAG)
        return NULL;
    struct guardian *g = &guard.slots[token & TOKEN_SLOT_MASK];
    return g->used && g->gen == ((token >> 12) & TOKEN_GEN_MASK) ? g : NULL;
}

static uint32_t slot_of(const struct guardian *g) { return (uint32_t)(g - guard.slots); }

uintptr_t guardian_new(void)
{
    spin_lock(&guard.lock);
    uint32_t id = 0;
    while (id < guard.n_ids && guard.slots[id].used)
        id++;
    uintptr_t token = 0;
    if (id < MAX_GUARDIANS) {
        if (id == guard.n_ids)
            guard.n_ids++;
        struct guardian *g = &guard.slots[id];
        g->used = true;
        token = TOKEN_TAG << 48 | g->gen << 12 | id;
    }
    spin_unlock(&guard.lock);
    return token;
}

bool guardian_valid(uintptr_t token)
{
    spin_lock(&guard.lock);
    bool ok = guardian_of_locked(token) != NULL;
    spin_unlock(&guard.lock);
    return ok;
}

static bool grow(void **arr, uint32_t *cap32, size_t *capz, size_t elem)
{
    size_t cap = cap32 ? *cap32 : *capz;
    size_t ncap = cap ? cap * 2 : 4;
    void *na = arena_alloc(ncap * elem);
    if (!na)
        return false;
    if (*arr) {
        memcpy(na, *arr, cap * elem);
        arena_free(*arr, cap * elem);
    }
    *arr = na;
    if (cap32)
        *cap32 = (uint32_t)ncap;
    else
        *capz = ncap;
    return true;
}

int guardian_register(uintptr_t token, uintptr_t block)
{
    spin_lock(&guard.lock);
    int err = 0;
    struct gentry *e;
    struct guardian *g = guardian_of_locked(token);
    if (!g)
        err = EINVAL;
    else if (!(e = entry_get(block)))
        err = ENOMEM;
    else if (e->ngids == e->gcap && !grow((void **)&e->gids, &e->gcap, NULL, sizeof *e->gids))
        err = ENOMEM;
    else
        e->gids[e->ngids++] = slot_of(g);
    if (!err)
        e->flagged |= HF_GUARDED;
    spin_unlock(&guard.lock);
    return err;
}

uintptr_t guardian_poll(uintptr_t token)
{
    uintptr_t block = 0;
    spin_lock(&guard.lock);
    struct guardian *g = guardian_of_locked(token);
    if (g && g->n) {
        block = (uintptr_t)GS_REVEAL(g->queue[g->head]);
        g->head = (g->head + 1) % g->cap;
        g->n--;
        struct gentry *e = entry_find(block);
        if (e) {
            e->held--;
            entry_maybe_drop(e);
        }
    }
    spin_unlock(&guard.lock);
    return block;
}

static void remove_gid(struct gentry *e, uint32_t id)
{
    for (uint32_t i = 0; i < e->ngids;)
        if (e->gids[i] == id)
            e->gids[i] = e->gids[--e->ngids];
        else
            i++;
}

void guardian_free(uintptr_t token)
{
    spin_lock(&guard.lock);
    struct guardian *g = guardian_of_locked(token);
    if (!g) {
        spin_unlock(&guard.lock);
        return;
    }
    /* Queued blocks go back to being ordinary blocks: leaks if unreachable. */
    for (size_t k = 0; k < g->n; k++) {
        struct gentry *e = entry_find((uintptr_t)GS_REVEAL(g->queue[(g->head + k) % g->cap]));
        if (e)
            e->held--;
    }
    struct gentry *e, *tmp;
    HASH_ITER(hh, guard.table, e, tmp) {
        remove_gid(e, slot_of(g));
        entry_maybe_drop(e);
    }
    uintptr_t *queue = g->queue;
    size_t cap = g->cap;
    *g = (struct guardian){.gen = (g->gen + 1) & TOKEN_GEN_MASK};
    while (guard.n_ids && !guard.slots[guard.n_ids - 1].used)
        guard.n_ids--;
    spin_unlock(&guard.lock);
    arena_free(queue, cap * sizeof *queue);
}

int guardian_set_finalizer(uintptr_t block, guardian_fn fn, void *arg)
{
    spin_lock(&guard.lock);
    int err = 0;
    struct gentry *e = fn ? entry_get(block) : entry_find(block);
    if (e) {
        e->fn = fn;
        e->arg = GS_HIDE(arg);
        if (fn)
            e->flagged |= HF_FINALIZER;
        entry_maybe_drop(e);
    } else if (fn) {
        err = ENOMEM;
    }
    spin_unlock(&guard.lock);
    return err;
}

/* After a block's finalizer returned: whether drain frees the block now.
 * Not when the finalizer freed it (its entry went with it; one found now
 * belongs to a new block at that address) nor when it resurrected it by
 * giving it a finalizer again or registering it with a guardian (Boehm
 * allows both): the block then waits for a later scan as before. */
static bool finalized_block_is_done(uintptr_t block)
{
    spin_lock(&guard.lock);
    struct gentry *e = entry_find(block);
    bool done = e && e->running && !e->fn && !e->ngids;
    if (e && e->running && !done)
        e->running = false;
    /* A done entry stays `running` (a root) until the free drops it. */
    spin_unlock(&guard.lock);
    return done;
}

size_t guardian_drain(void (*free_block)(void *))
{
    size_t ran = 0;
    for (;;) {
        spin_lock(&guard.lock);
        if (!guard.pend_n) {
            spin_unlock(&guard.lock);
            return ran;
        }
        struct pending p = guard.pend[--guard.pend_n];
        struct gentry *e = entry_find((uintptr_t)GS_REVEAL(p.block));
        if (e) {
            e->pending = false;
            e->running = true;
        }
        spin_unlock(&guard.lock);
        /* Outside the lock: finalizers may allocate, free, set finalizers. */
        void *block = GS_REVEAL(p.block);
        p.fn(block, GS_REVEAL(p.arg));
        if (finalized_block_is_done((uintptr_t)block))
            free_block(block); /* drops the entry through guardian_forget */
        ran++;
    }
}

size_t guardian_pending(void) { return __atomic_load_n(&guard.pend_n, __ATOMIC_RELAXED); }

/* Removes every slot naming `key` from g's queue, keeping the others in
 * order. returns: the number removed. */
static uint32_t queue_remove(struct guardian *g, uintptr_t key)
{
    size_t kept = 0;
    for (size_t k = 0; k < g->n; k++) {
        uintptr_t v = g->queue[(g->head + k) % g->cap];
        if (v != key)
            g->queue[(g->head + kept++) % g->cap] = v;
    }
    uint32_t removed = (uint32_t)(g->n - kept);
    g->n = kept;
    return removed;
}

void guardian_forget(uintptr_t block)
{
    spin_lock(&guard.lock);
    struct gentry *e = entry_find(block);
    if (e) {
        /* Freed while queued (the program kept a pointer the scan missed):
         * its slots go, so every queue slot names a live block and a poll
         * returns NULL only when the queue is empty. */
        for (uint32_t id = 0; e->held && id < guard.n_ids; id++)
            if (guard.slots[id].used)
                e->held -= queue_remove(&guard.slots[id], e->key);
        if (e->pending)
            for (size_t k = 0; k < guard.pend_n; k++)
                if (guard.pend[k].block == e->key)
                    guard.pend[k] = guard.pend[--guard.pend_n];
        entry_drop(e);
    }
    spin_unlock(&guard.lock);
}

/* Clears the flags whose role ended and drops the entries left with none.
 * pre: every handle lock and `guard.lock` held. */
static void sync_flags_locked(void)
{
    struct gentry *e, *tmp;
    HASH_ITER(hh, guard.table, e, tmp) {
        uint8_t lost = e->flagged & (uint8_t)~entry_roles(e);
        if (lost) {
            handle_update_locked((uintptr_t)GS_REVEAL(e->key), 0, lost);
            e->flagged &= (uint8_t)~lost;
            entry_maybe_drop(e);
        }
    }
}

int guardian_prepare(struct guard_actions *out, bool shared)
{
    spin_lock(&guard.lock);
    sync_flags_locked();
    out->n = 0;
    out->cap = guard.n_entries ? guard.n_entries : 1;
    out->a = shared ? sys_map_shared(out->cap * sizeof *out->a)
                    : sys_map(out->cap * sizeof *out->a, false);
    if (!out->a) {
        spin_unlock(&guard.lock);
        return ENOMEM;
    }
    return 0;
}

void guardian_release(void) { spin_unlock(&guard.lock); }
void guardian_relock(void) { spin_lock(&guard.lock); }

static long block_index(const struct heap *h, uintptr_t block)
{
    long i = heap_find(h, block);
    return i >= 0 && h->blocks[i].start == block ? i : -1;
}

/* Marks BS_FINREACHED everything unreached that block i's words reach,
 * not counting i itself (a self-pointer does not block finalization). */
struct fin_ctx {
    struct heap *h;
    size_t *stack, n;
    size_t self;
};

static void fin_cb(void *p, size_t j)
{
    struct fin_ctx *c = p;
    if (j != c->self && c->h->state[j] == BS_UNREACHED) {
        c->h->state[j] = BS_FINREACHED;
        c->stack[c->n++] = j;
    }
}

static void keep_alive(struct heap *h, const struct guard_actions *out, size_t from)
{
    for (size_t k = from; k < out->n; k++)
        mark_block_root(h, (size_t)block_index(h, out->a[k].block));
    mark_drain(h);
}

void guardian_scan(struct heap *h, struct guard_actions *out)
{
    struct gentry *e, *tmp;
    /* Queued blocks are the program's again soon, and a block whose
     * finalizer runs is the finalizer's: roots. */
    HASH_ITER(hh, guard.table, e, tmp) {
        long i = block_index(h, (uintptr_t)GS_REVEAL(e->key));
        if (i >= 0 && (e->held || e->pending || e->running))
            mark_block_root(h, (size_t)i);
    }
    mark_drain(h);
    /* Guarded blocks first: they go back to the program with everything
     * they reach, so no finalizer may run for anything below them. */
    HASH_ITER(hh, guard.table, e, tmp) {
        long i = block_index(h, (uintptr_t)GS_REVEAL(e->key));
        if (i >= 0 && e->ngids && h->state[i] == BS_UNREACHED && out->n < out->cap)
            out->a[out->n++] = (struct guard_action){h->blocks[i].start, GA_QUEUE};
    }
    keep_alive(h, out, 0);
    size_t first_final = out->n;
    size_t *stack = h->n ? sys_map(h->n * sizeof(size_t), false) : NULL;
    if (!stack)
        return; /* no finalization this scan: nothing is lost */
    /* Boehm: mark from each unreachable finalizable block's contents. */
    struct fin_ctx c = {h, stack, 0, 0};
    HASH_ITER(hh, guard.table, e, tmp) {
        long i = block_index(h, (uintptr_t)GS_REVEAL(e->key));
        if (i < 0 || !e->fn || h->state[i] == BS_REACHED ||
            h->state[i] == BS_POSSIBLE)
            continue;
        c.self = (size_t)i;
        mark_for_each_edge(h, (size_t)i, fin_cb, &c);
        while (c.n) {
            size_t x = c.stack[--c.n];
            c.self = x;
            mark_for_each_edge(h, x, fin_cb, &c);
        }
    }
    /* Ready: unreachable, and reached from no other finalizable block. */
    HASH_ITER(hh, guard.table, e, tmp) {
        long i = block_index(h, (uintptr_t)GS_REVEAL(e->key));
        if (i >= 0 && e->fn && h->state[i] == BS_UNREACHED && out->n < out->cap)
            out->a[out->n++] = (struct guard_action){h->blocks[i].start, GA_FINALIZE};
    }
    for (size_t i = 0; i < h->n; i++)
        if (h->state[i] == BS_FINREACHED)
            h->state[i] = BS_UNREACHED;
    sys_unmap(stack, h->n * sizeof(size_t));
    keep_alive(h, out, first_final);
}

static bool queue_push(struct guardian *g, uintptr_t hidden)
{
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 16;
        uintptr_t *nq = arena_alloc(ncap * sizeof *nq);
        if (!nq)
            return false;
        for (size_t k = 0; k < g->n; k++)
            nq[k] = g->queue[(g->head + k) % g->cap];
        arena_free(g->queue, g->cap * sizeof *g->queue);
        g->queue = nq;
        g->cap = ncap;
        g->head = 0;
    }
    g->queue[(g->head + g->n++) % g->cap] = hidden;
    return true;
}

void guardian_apply(struct guard_actions *acts)
{
    for (size_t k = 0; acts->a && k < acts->n; k++) {
        struct gentry *e = entry_find(acts->a[k].block);
        if (!e)
            continue;
        if (acts->a[k].kind == GA_QUEUE) {
            /* A registration is used up by the queueing, as in Scheme. */
            for (uint32_t i = 0; i < e->ngids; i++) {
                struct guardian *g = &guard.slots[e->gids[i]];
                if (g->used && queue_push(g, e->key))
                    e->held++;
            }
            e->ngids = 0;
        } else if (guard.pend_n < guard.pend_cap ||
                   grow((void **)&guard.pend, NULL, &guard.pend_cap, sizeof *guard.pend)) {
            guard.pend[guard.pend_n++] = (struct pending){e->key, e->arg, e->fn};
            e->fn = NULL; /* exactly once */
            e->pending = true;
        }
        entry_maybe_drop(e);
    }
    sys_unmap(acts->a, acts->cap * sizeof *acts->a);
    acts->a = NULL;
    spin_unlock(&guard.lock);
}

void guardian_atfork_prepare(void) { spin_lock(&guard.lock); }
void guardian_atfork_parent(void) { spin_unlock(&guard.lock); }
void guardian_atfork_child(void) { spin_reset(&guard.lock); }
