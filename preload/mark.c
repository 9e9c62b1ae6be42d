/* SPDX-License-Identifier: MIT
 * mark.c: heap snapshot, granule index and conservative mark (mark.h).
 * locks: none itself; heap_build needs the handle locks held by the caller.
 * The mark is latency-bound: every edge is a random access to the index
 * and to the block it names. It runs as a software pipeline: grey blocks
 * come off a FIFO with their bounds prefetched two stages and their lines
 * one stage before they are scanned; the words that pass the range filter
 * are queued with their granule slot prefetched, then resolved with the
 * compact bounds and states prefetched a few candidates ahead (FACTS:
 * batched prefetch is 2-3x faster than one lookup at a time). The index
 * (2% of the heap), the bounds (8 bytes a block) and the states (1 byte)
 * stay cache-resident far longer than the 24-byte snapshot entries, which
 * the mark never reads. A big mark gets a second marker thread on the
 * other CPU (mark_drain_all). An incremental scan marks a block on clean
 * pages from the last scan's record of it instead of its memory, and
 * records what it reads (mark.h, struct mark_records).
 * STW: yes (after heap_build). allocates: sys_map only. */
#include "mark.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "glibc.h"
#include "handle.h"
#include "sys.h"

#define REGION_SHIFT 30
#define GRANULE_SHIFT 8
#define GRANULES_PER_REGION (1ul << (REGION_SHIFT - GRANULE_SHIFT))
#define BATCH 256
#define WAVE_LINES 4       /* lines of a grey block prefetched ahead */
#define SPAN_BIG 0xffffu   /* span size field: look the size up in `blocks` */
#define SPAN_START(s) ((uintptr_t)((s) & 0xffffffffffffull))

/* One 1 GiB region: map[g] = 1 + index of the first block overlapping
 * granule g, or 0 when none does. */
struct region {
    uintptr_t id; /* (address >> REGION_SHIFT) + 1; 0 = empty slot */
    uint32_t *map;
};

static size_t region_slot(const struct heap *h, uintptr_t id)
{
    return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 40) & (h->n_regions_cap - 1);
}

static struct region *region_get(const struct heap *h, uintptr_t addr)
{
    uintptr_t id = (addr >> REGION_SHIFT) + 1;
    for (size_t i = region_slot(h, id);; i = (i + 1) & (h->n_regions_cap - 1)) {
        struct region *r = &h->regions[i];
        if (r->id == id)
            return r;
        if (r->id == 0)
            return NULL;
    }
}

static struct region *region_add(struct heap *h, uintptr_t addr)
{
    uintptr_t id = (addr >> REGION_SHIFT) + 1;
    for (size_t i = region_slot(h, id);; i = (i + 1) & (h->n_regions_cap - 1)) {
        struct region *r = &h->regions[i];
        if (r->id == id)
            return r;
        if (r->id == 0) {
            r->map = sys_map(GRANULES_PER_REGION * sizeof(uint32_t), true);
            if (!r->map)
                return NULL;
            r->id = id;
            h->mapped_bytes += GRANULES_PER_REGION * sizeof(uint32_t);
            return r;
        }
    }
}

struct fill_ctx {
    struct sblock *out;
    size_t n, cap;
    bool overflow;
};

static void fill_cb(const struct handle *hd, void *ctx)
{
    struct fill_ctx *f = ctx;
    if (f->n < f->cap)
        f->out[f->n++] = (struct sblock){hd->ptr, hd->size, hd->stack, (uint16_t)hd->owner,
                                         (uint8_t)hd->flags};
    else
        f->overflow = true;
}

/* Last address inside the block (a 0-byte block still owns its start).
 * One-past-end pointers do not count: for glibc they are often the next
 * chunk's header, which the arena's own pointers (top, bins) name. */
static inline uintptr_t block_last(const struct sblock *b)
{
    return b->size ? b->start + b->size - 1 : b->start;
}

static inline size_t span_size(const struct heap *h, size_t i, uint64_t sp)
{
    size_t sz = (size_t)(sp >> 48);
    return sz == SPAN_BIG ? h->blocks[i].size : sz;
}

static size_t ring_cap(size_t n)
{
    size_t c = 64;
    while (c < n + 1)
        c *= 2;
    return c;
}

static int marker_init(struct marker *m, size_t n)
{
    memset(m, 0, sizeof *m);
    m->grey_cap = ring_cap(n);
    m->grey = sys_map(m->grey_cap * sizeof(uint32_t), true);
    m->pstack = sys_map((n + 1) * sizeof(uint32_t), true);
    m->cands = sys_map(BATCH * sizeof(struct candidate), false);
    return m->grey && m->pstack && m->cands ? 0 : ENOMEM;
}

static void marker_free(struct marker *m, size_t n)
{
    sys_unmap(m->grey, m->grey_cap * sizeof(uint32_t));
    sys_unmap(m->pstack, (n + 1) * sizeof(uint32_t));
    sys_unmap(m->cands, BATCH * sizeof(struct candidate));
    memset(m, 0, sizeof *m);
}

/* Maps the snapshot array for `cap` blocks and the mark's buffers. */
static int heap_alloc(struct heap *h, size_t cap)
{
    memset(h, 0, sizeof *h);
    h->cap = cap ? cap : 1;
    h->blocks = sys_map_filled(h->cap * sizeof(struct sblock));
    h->state = sys_map_filled(h->cap);
    h->span = sys_map_filled(h->cap * sizeof(uint64_t));
    h->n_regions_cap = 1024;
    h->regions = sys_map(h->n_regions_cap * sizeof(struct region), false);
    int err = marker_init(&h->m, h->cap);
    if (err || !h->blocks || !h->state || !h->span || !h->regions) {
        heap_free(h);
        return ENOMEM;
    }
    return 0;
}

/* Builds the compact bounds and the granule index of the sorted snapshot. */
static int heap_index(struct heap *h)
{
    h->mapped_bytes += h->cap * (sizeof(struct sblock) + sizeof(uint64_t) + 1);
    if (h->n == 0)
        return 0;
    h->lo = h->blocks[0].start;
    h->hi = block_last(&h->blocks[h->n - 1]);
    struct region *r = NULL;
    /* Blocks come in address order, so each granule's first block is the
     * first to reach it: the index is only written, never read here (a
     * write to a zero page read before costs a TLB shootdown of every CPU
     * the program runs on; measured at 4% of a live scan). */
    uintptr_t next_g = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct sblock *b = &h->blocks[i];
        h->span[i] = b->start | (uint64_t)GS_MIN(b->size, (size_t)SPAN_BIG) << 48;
        uintptr_t g = GS_MAX(b->start >> GRANULE_SHIFT, next_g),
                  last = block_last(b) >> GRANULE_SHIFT;
        h->hi = GS_MAX(h->hi, block_last(b));
        for (; g <= last; g++) {
            uintptr_t addr = g << GRANULE_SHIFT;
            if (!r || (addr >> REGION_SHIFT) + 1 != r->id) {
                r = region_add(h, addr);
                if (!r) {
                    heap_free(h);
                    return ENOMEM;
                }
            }
            r->map[g & (GRANULES_PER_REGION - 1)] = (uint32_t)(i + 1);
        }
        next_g = GS_MAX(next_g, last + 1);
    }
    return 0;
}

/* ---- The builds: a counting sort by page. The table keeps a page's
 * blocks side by side and nearly in order (handle.c), so scattering them
 * into page runs leaves an array whose disorder is within runs of a few
 * dozen: an insertion sort finishes it in about one pass. The stopped
 * world scatters straight from the table; the live build from a copy of
 * it (the table moves under it, so counts and places must come from the
 * same list). ---- */

#define PAGE_SHIFT_ 12
#define PAGES_PER_REGION (1ul << (REGION_SHIFT - PAGE_SHIFT_))

struct page_counts {
    uintptr_t id; /* (address >> REGION_SHIFT) + 1; 0 = empty slot */
    uint32_t *count; /* blocks per page, then the first index of each page */
    bool summed;
};

struct scatter {
    struct heap *h;
    struct page_counts *pc;
    size_t pc_cap;
    bool oom;
};

static struct page_counts *pc_get(struct scatter *sc, uintptr_t addr, bool add)
{
    uintptr_t id = (addr >> REGION_SHIFT) + 1;
    for (size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 40) & (sc->pc_cap - 1);;
         i = (i + 1) & (sc->pc_cap - 1)) {
        struct page_counts *p = &sc->pc[i];
        if (p->id == id)
            return p;
        if (p->id != 0 || !add)
            continue;
        p->count = sys_map(PAGES_PER_REGION * sizeof(uint32_t), true);
        if (!p->count) {
            sc->oom = true;
            return NULL;
        }
        p->id = id;
        return p;
    }
}

static inline void scatter_count(struct scatter *sc, uintptr_t ptr)
{
    struct page_counts *p = pc_get(sc, ptr, true);
    if (p)
        p->count[(ptr >> PAGE_SHIFT_) & (PAGES_PER_REGION - 1)]++;
}

static inline void scatter_place(struct scatter *sc, const struct sblock *b)
{
    struct page_counts *p = pc_get(sc, b->start, false);
    uint32_t pos = p->count[(b->start >> PAGE_SHIFT_) & (PAGES_PER_REGION - 1)]++;
    sc->h->blocks[pos] = *b;
}

static void count_cb(const struct handle *hd, void *ctx) { scatter_count(ctx, hd->ptr); }

static void place_cb(const struct handle *hd, void *ctx)
{
    struct sblock b = {hd->ptr, hd->size, hd->stack, (uint16_t)hd->owner, (uint8_t)hd->flags};
    scatter_place(ctx, &b);
}

/* Counts become the first index of each page, regions in address order.
 * returns: the number of blocks counted. */
static size_t scatter_prefix(struct scatter *sc)
{
    size_t sum = 0;
    for (;;) {
        struct page_counts *next = NULL;
        for (size_t i = 0; i < sc->pc_cap; i++)
            if (sc->pc[i].id && !sc->pc[i].summed && (!next || sc->pc[i].id < next->id))
                next = &sc->pc[i];
        if (!next)
            return sum;
        for (size_t pg = 0; pg < PAGES_PER_REGION; pg++) {
            uint32_t c = next->count[pg];
            next->count[pg] = (uint32_t)sum;
            sum += c;
        }
        next->summed = true;
    }
}

/* Finishes the page runs: their blocks arrive nearly in order. */
static void sort_within_pages(struct heap *h)
{
    for (size_t i = 1; i < h->n; i++) {
        struct sblock v = h->blocks[i];
        size_t j = i;
        for (; j > 0 && h->blocks[j - 1].start > v.start; j--)
            h->blocks[j] = h->blocks[j - 1];
        h->blocks[j] = v;
    }
}

static void scatter_free(struct scatter *sc)
{
    for (size_t i = 0; i < sc->pc_cap; i++)
        if (sc->pc[i].id)
            sys_unmap(sc->pc[i].count, PAGES_PER_REGION * sizeof(uint32_t));
    sys_unmap(sc->pc, sc->pc_cap * sizeof *sc->pc);
}

static int scatter_init(struct scatter *sc, struct heap *h)
{
    *sc = (struct scatter){h, NULL, 1024, false};
    sc->pc = sys_map(sc->pc_cap * sizeof *sc->pc, false);
    return sc->pc ? 0 : ENOMEM;
}

/* The stopped world: straight from the table, which cannot change. */
static int heap_scatter(struct heap *h)
{
    struct scatter sc;
    if (scatter_init(&sc, h))
        return ENOMEM;
    handle_for_each_locked(count_cb, &sc);
    size_t n = scatter_prefix(&sc);
    int err = sc.oom ? ENOMEM : 0;
    if (!err) {
        handle_for_each_locked(place_cb, &sc);
        h->n = n;
        sort_within_pages(h);
    }
    scatter_free(&sc);
    return err;
}

/* The live build: from a copy `a` of the table (which moves under the
 * scan), into h->blocks. */
static int heap_scatter_copy(struct heap *h, const struct sblock *a, size_t n)
{
    struct scatter sc;
    if (scatter_init(&sc, h))
        return ENOMEM;
    for (size_t i = 0; i < n; i++)
        scatter_count(&sc, a[i].start);
    scatter_prefix(&sc);
    int err = sc.oom ? ENOMEM : 0;
    if (!err) {
        for (size_t i = 0; i < n; i++)
            scatter_place(&sc, &a[i]);
        h->n = n;
        sort_within_pages(h);
    }
    scatter_free(&sc);
    return err;
}

int heap_build(struct heap *h)
{
    int err = heap_alloc(h, handle_count_locked());
    if (!err)
        err = heap_scatter(h);
    if (err) {
        heap_free(h);
        return err;
    }
    return heap_index(h);
}

/* Room for blocks allocated while the shards are copied one by one. */
#define LIVE_SLACK(n) ((n) / 8 + 65536)

int heap_build_live(struct heap *h)
{
    struct handle_totals t;
    handle_totals(&t);
    int err = heap_alloc(h, t.live_blocks + LIVE_SLACK(t.live_blocks));
    if (err)
        return err;
    size_t bytes = h->cap * sizeof(struct sblock);
    struct sblock *copy = sys_map_filled(bytes);
    if (!copy) {
        heap_free(h);
        return ENOMEM;
    }
    struct fill_ctx f = {copy, 0, h->cap, false};
    handle_for_each_shard_seen(fill_cb, &f);
    err = f.overflow ? ENOSPC : heap_scatter_copy(h, copy, f.n);
    sys_unmap(copy, bytes);
    h->mapped_bytes += bytes;
    if (err) {
        heap_free(h);
        return err;
    }
    return heap_index(h);
}

void heap_free(struct heap *h)
{
    if (h->regions) {
        for (size_t i = 0; i < h->n_regions_cap; i++)
            if (h->regions[i].id)
                sys_unmap(h->regions[i].map, GRANULES_PER_REGION * sizeof(uint32_t));
        sys_unmap(h->regions, h->n_regions_cap * sizeof(struct region));
    }
    sys_unmap(h->blocks, h->cap * sizeof(struct sblock));
    sys_unmap(h->state, h->cap);
    sys_unmap(h->span, h->cap * sizeof(uint64_t));
    marker_free(&h->m, h->cap);
    memset(h, 0, sizeof *h);
}

/* The block of index `i` or later that contains `v`, or -1. */
static inline long find_from(const struct heap *h, size_t i, uintptr_t v)
{
    for (; i < h->n; i++) {
        uint64_t sp = h->span[i];
        uintptr_t start = SPAN_START(sp);
        if (start > v)
            return -1;
        size_t size = span_size(h, i, sp);
        if (v <= (size ? start + size - 1 : start))
            return (long)i;
    }
    return -1;
}

long heap_find(const struct heap *h, uintptr_t v)
{
    if (v < h->lo || v > h->hi)
        return -1;
    const struct region *r = region_get(h, v);
    if (!r)
        return -1;
    uint32_t m = r->map[(v >> GRANULE_SHIFT) & (GRANULES_PER_REGION - 1)];
    return m ? find_from(h, m - 1, v) : -1;
}

/* Start pointers: the start itself with its low bits used as tags (glibc's
 * tsearch keeps a node's colour in bit 0 of the pointer to it), and one
 * word in, which is how a one-word header is skipped (C++ new[] cookies,
 * length prefixes), as in Valgrind's "newarray"/"length64" heuristics. Any
 * other interior pointer only "possibly" reaches a block. */
static inline bool is_start_pointer(uintptr_t start, size_t size, uintptr_t v)
{
    uintptr_t off = v - start;
    return off < 8 || (off == 8 && off < size);
}

static bool in_vtables(const struct heap *h, uintptr_t a)
{
    size_t lo = 0, hi = h->n_vtables;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a < h->vtables[mid].lo)
            hi = mid;
        else if (a >= h->vtables[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* C++ multiple inheritance (Valgrind's "multipleinheritance" heuristic): a
 * pointer to a base-class subobject inside the block, recognised by the
 * vtable pointers at that offset and at the block's start, both pointing
 * into read-only memory of a loaded object. Interior pointers only. */
static bool is_base_pointer(const struct heap *h, uintptr_t start, size_t size, uintptr_t v)
{
    uintptr_t off = v - start;
    if ((off & 7) || off + 8 > size || !h->n_vtables)
        return false;
    return in_vtables(h, *(const uintptr_t *)v) && in_vtables(h, *(const uintptr_t *)start);
}

/* ---- Markers ---- */

/* Parallel marking (mark_drain_all): markers share their surplus through
 * a pool. A marker with nothing left waits in the pool until work shows up
 * or every marker waits, which ends the mark. `lock` guards all but
 * `hungry`, a hint that makes busy markers give work away. */
#define MAX_MARKERS 2
#define SHARE_MIN 64     /* a marker keeps at least this many greys for itself */
#define PARALLEL_GREY 4096 /* greys queued before a second marker is worth starting */

struct mark_pool {
    atomic_int lock;
    uint32_t *items;
    size_t n, cap;
    int idle, markers;
    atomic_bool hungry;
};

static void pool_lock(struct mark_pool *p)
{
    int expect = 0;
    while (!atomic_compare_exchange_weak_explicit(&p->lock, &expect, 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
        expect = 0;
        __builtin_ia32_pause();
    }
}

static void pool_unlock(struct mark_pool *p) { atomic_store_explicit(&p->lock, 0, memory_order_release); }

static inline uint8_t state_of(const struct heap *h, size_t i)
{
    return __atomic_load_n(&h->state[i], __ATOMIC_RELAXED);
}

static inline void grey_push(struct marker *m, uint32_t i)
{
    /* The ring holds one entry per block and a block is greyed once. */
    m->grey[(m->grey_head + m->grey_n++) & (m->grey_cap - 1)] = i;
}

static inline uint32_t grey_pop(struct marker *m)
{
    uint32_t i = m->grey[m->grey_head];
    m->grey_head = (m->grey_head + 1) & (m->grey_cap - 1);
    m->grey_n--;
    return i;
}

/* Block i is reached through a start pointer. With other markers about,
 * the state changes by compare-and-swap, so that one of them greys it. */
static void reach(struct heap *h, struct marker *m, size_t i)
{
    if (!m->pool) {
        h->state[i] = BS_REACHED;
        grey_push(m, (uint32_t)i);
        return;
    }
    uint8_t old = state_of(h, i);
    while (old != BS_REACHED)
        if (__atomic_compare_exchange_n(&h->state[i], &old, BS_REACHED, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            grey_push(m, (uint32_t)i);
            return;
        }
}

static void reach_possibly(struct heap *h, struct marker *m, size_t i)
{
    uint8_t old = BS_UNREACHED;
    if (m->pool ? __atomic_compare_exchange_n(&h->state[i], &old, BS_POSSIBLE, false,
                                              __ATOMIC_RELAXED, __ATOMIC_RELAXED)
                : (h->state[i] == BS_UNREACHED && (h->state[i] = BS_POSSIBLE)))
        m->pstack[m->pstack_n++] = (uint32_t)i;
}

/* Prefetch distance, in candidates, between reading a granule slot and
 * using the bounds it names. */
#define RESOLVE_AHEAD 16

/* A record word resolved to a start pointer (mark.h): the block's index in
 * the snapshot of the scan that wrote it, and the pointer's offset. */
#define REC_TAG (1ull << 63)
#define REC_TAGGED(i, off) (REC_TAG | (uint64_t)(i) << 4 | (off))
#define REC_INDEX(e) ((size_t)((e) >> 4) & 0xffffffffu)
#define REC_OFF(e) ((uintptr_t)((e) & 15))

/* Marks what a start pointer to block i reaches: the outcome resolve()
 * gives any value is_start_pointer accepts (strongly: reached; weakly:
 * possibly). */
static inline void reach_start(struct heap *h, struct marker *m, size_t i, bool strong)
{
    if (strong) {
        if (state_of(h, i) != BS_REACHED)
            reach(h, m, i);
    } else if (state_of(h, i) == BS_UNREACHED) {
        reach_possibly(h, m, i);
    }
}

static void resolve(struct heap *h, struct marker *m, const struct candidate *c, uint32_t first)
{
    uintptr_t v = c->v;
    long found = find_from(h, first - 1, v);
    if (found < 0)
        return;
    size_t i = (size_t)found;
    uintptr_t start = SPAN_START(h->span[i]);
    size_t size = span_size(h, i, h->span[i]);
    /* glibc's own state (arena top, bins) names the next chunk's header,
     * which may overlap this block's last word (and only that one: reading
     * the chunk header costs a cache miss). */
    if (v + 8 >= start + size && v == glibc_next_chunk(start))
        return;
    if (is_start_pointer(start, size, v)) {
        /* the outcome depends on the block's bounds only: a record keeps it */
        if (c->patch)
            *c->patch = REC_TAGGED(i, v - start);
        reach_start(h, m, i, c->strong);
    } else if (c->strong && is_base_pointer(h, start, size, v)) {
        if (state_of(h, i) != BS_REACHED)
            reach(h, m, i);
    } else if (state_of(h, i) == BS_UNREACHED) {
        reach_possibly(h, m, i);
    }
}

/* resolve() for one value, now (no batch). */
static void resolve_value(struct heap *h, struct marker *m, uintptr_t v, bool strong,
                          uint64_t *patch)
{
    if (v < h->lo || v > h->hi)
        return;
    const struct region *r = region_get(h, v);
    uint32_t first = r ? r->map[(v >> GRANULE_SHIFT) & (GRANULES_PER_REGION - 1)] : 0;
    if (first)
        resolve(h, m, &(struct candidate){v, NULL, patch, strong, false}, first);
}

/* A start pointer the last scan recorded: `first` is 1 + this snapshot's
 * index of the same allocation, or 0 when it is gone; the pointer's value
 * then goes through resolve() like any word. */
static void resolve_tagged(struct heap *h, struct marker *m, const struct candidate *c,
                           uint32_t first)
{
    if (first) {
        if (c->patch)
            *c->patch = REC_TAGGED(first - 1, REC_OFF(c->v));
        reach_start(h, m, first - 1, c->strong);
        return;
    }
    uintptr_t v = SPAN_START(h->rec->old_span[REC_INDEX(c->v)]) + REC_OFF(c->v);
    if (c->patch)
        *c->patch = v;
    resolve_value(h, m, v, c->strong, c->patch);
}

/* Resolves the queued candidates: granule slot -> bounds and state
 * (prefetched RESOLVE_AHEAD candidates ahead) -> mark. A tagged
 * candidate's slot is its block's entry in the old-to-new index map. */
static void flush(struct heap *h, struct marker *m)
{
    size_t n = m->n_cands;
    uint32_t first[BATCH];
    for (size_t k = 0; k < n + RESOLVE_AHEAD; k++) {
        if (k < n) {
            first[k] = *m->cands[k].slot;
            if (first[k]) {
                if (!m->cands[k].tagged)
                    __builtin_prefetch(&h->span[first[k] - 1]);
                __builtin_prefetch(&h->state[first[k] - 1]);
            }
        }
        if (k >= RESOLVE_AHEAD) {
            const struct candidate *c = &m->cands[k - RESOLVE_AHEAD];
            uint32_t f = first[k - RESOLVE_AHEAD];
            if (c->tagged)
                resolve_tagged(h, m, c, f);
            else if (f)
                resolve(h, m, c, f);
        }
    }
    m->n_cands = 0;
}

static inline void queue(struct heap *h, struct marker *m, struct candidate c)
{
    __builtin_prefetch(c.slot);
    m->cands[m->n_cands++] = c;
    if (m->n_cands == BATCH)
        flush(h, m);
}

/* A word of scanned memory: if it may point into a block, queue it for
 * the index lookup. `patch`: its copy in a record, to be replaced by the
 * resolved form (NULL: none). */
static inline void consider(struct heap *h, struct marker *m, uintptr_t v, bool strong,
                            uint64_t *patch)
{
    if (v < h->lo || v > h->hi)
        return;
    const struct region *r = m->last_region;
    if (!r || (v >> REGION_SHIFT) + 1 != r->id) {
        r = region_get(h, v);
        if (!r)
            return;
        m->last_region = r;
    }
    queue(h, m,
          (struct candidate){v, &r->map[(v >> GRANULE_SHIFT) & (GRANULES_PER_REGION - 1)], patch,
                             strong, false});
}

static void scan_words(struct heap *h, struct marker *m, uintptr_t lo, uintptr_t hi, bool strong)
{
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8)
        consider(h, m, *(const uintptr_t *)p, strong, NULL);
}

/* ---- Records (mark_records in mark.h) ---- */

/* Block i's record of this scan (`*own`) or of the last, if one holds for
 * its `size` bytes; else NULL. `*empty`: it holds no word (then NULL). */
static inline const uint64_t *record_of(const struct heap *h, size_t i, size_t size, bool *own,
                                        bool *empty)
{
    const struct mark_records *r = h->rec;
    const uint64_t *rec = NULL;
    struct rec_slot sl = r->slot[i];
    *own = sl.off != 0;
    *empty = sl.off ? sl.off == REC_EMPTY : sl.src == REC_EMPTY;
    if (*empty)
        return NULL;
    if (sl.off)
        rec = r->vals + sl.off - 1; /* read whole already (possibly, then strongly) */
    else if (sl.src)
        rec = r->src_vals + sl.src - 1;
    return rec && rec[0] >> 24 == size ? rec : NULL;
}

/* Marks from this scan's own record of a block: its tagged words name
 * this snapshot's blocks (a weak scan's words are resolved before the
 * block can be scanned again: drain flushes after each). */
static void replay_own(struct heap *h, struct marker *m, const uint64_t *rec, bool strong)
{
    size_t n = rec[0] & REC_MAX_WORDS;
    for (size_t k = 1; k <= n; k++) {
        if (rec[k] & REC_TAG)
            reach_start(h, m, REC_INDEX(rec[k]), strong);
        else
            consider(h, m, rec[k], strong, NULL);
    }
}

/* Marks from the last scan's record of block i, copying it into this
 * scan's records, each word to be replaced by its resolved form. */
static void replay(struct heap *h, struct marker *m, size_t i, const uint64_t *rec, bool strong)
{
    struct mark_records *r = h->rec;
    size_t n = rec[0] & REC_MAX_WORDS;
    uint64_t *out = NULL;
    if (r->n_vals + 1 + n <= r->cap_vals) {
        out = r->vals + r->n_vals;
        r->slot[i].off = (uint32_t)(r->n_vals + 1);
        r->n_vals += 1 + n;
        out[0] = rec[0];
    }
    for (size_t k = 1; k <= n; k++) {
        uint64_t e = rec[k];
        uint64_t *patch = out ? &out[k] : NULL;
        if (patch)
            *patch = e; /* a raw word stays as it is unless it resolves */
        if (e & REC_TAG)
            queue(h, m, (struct candidate){e, &r->remap[REC_INDEX(e)], patch, strong, true});
        else
            consider(h, m, e, strong, patch);
    }
}

/* Scans block i whole from memory, recording its words in [r->lo, r->hi]
 * when there is room. */
static void read_recording(struct heap *h, struct marker *m, size_t i, uintptr_t start,
                           uintptr_t end, bool strong)
{
    struct mark_records *r = h->rec;
    uintptr_t lo = (start + 7) & ~(uintptr_t)7;
    size_t words = end > lo ? (end - lo) / 8 : 0;
    r->read++;
    if (words > REC_MAX_WORDS || r->n_vals + 1 + words > r->cap_vals) {
        scan_words(h, m, start, end, strong);
        return;
    }
    uint64_t *out = r->vals + r->n_vals;
    size_t n = 0;
    for (size_t k = 0; k < words; k++) {
        uintptr_t v = ((const uintptr_t *)lo)[k];
        if (v - r->lo <= r->hi - r->lo) { /* [h->lo, h->hi] lies within */
            out[1 + n] = v;
            consider(h, m, v, strong, &out[1 + n]);
            n++;
        }
    }
    if (n == 0) { /* nothing to keep but the fact */
        r->slot[i].off = REC_EMPTY;
        return;
    }
    out[0] = (uint64_t)(end - start) << 24 | n;
    r->slot[i].off = (uint32_t)(r->n_vals + 1);
    r->n_vals += 1 + n;
}

/* Scans block i, [start, end), whole: from its record when one holds. */
static void scan_block(struct heap *h, struct marker *m, size_t i, uintptr_t start, uintptr_t end,
                       bool strong)
{
    if (!h->rec || m->pool) { /* records are kept by the single marker of a concurrent mark */
        scan_words(h, m, start, end, strong);
        return;
    }
    bool own, empty;
    const uint64_t *rec = record_of(h, i, end - start, &own, &empty);
    if (!empty && !rec) {
        read_recording(h, m, i, start, end, strong);
        return;
    }
    h->rec->replayed++;
    if (empty) /* no pointer in it: carried forward, nothing to mark */
        h->rec->slot[i].off = REC_EMPTY;
    else if (own)
        replay_own(h, m, rec, strong);
    else
        replay(h, m, i, rec, strong);
}

uint64_t *heap_take_span(struct heap *h, size_t *cap)
{
    uint64_t *s = h->span;
    *cap = h->cap;
    h->span = NULL;
    return s;
}

void mark_records_inherit(struct heap *h, const uint64_t *old_span,
                          const struct rec_slot *old_slot, size_t n_old)
{
    struct rec_slot *slot = h->rec->slot;
    size_t j = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct sblock *b = &h->blocks[i];
        if (!(b->flags & HF_SEEN))
            continue;
        while (j < n_old && SPAN_START(old_span[j]) < b->start)
            j++;
        if (j < n_old && SPAN_START(old_span[j]) == b->start) {
            slot[i].src = old_slot[j].off;
            h->rec->remap[j] = (uint32_t)(i + 1);
        }
    }
}

/* Marks from `n` words already copied out of the process's memory. */
static void scan_words_values(struct heap *h, const uintptr_t *w, size_t n)
{
    scan_words(h, &h->m, (uintptr_t)w, (uintptr_t)(w + n), true);
}

void mark_range(struct heap *h, uintptr_t lo, uintptr_t hi) { scan_words(h, &h->m, lo, hi, true); }

/* Memory a thread the stop could not reach may unmap or protect meanwhile
 * (glibc trims arena heaps with PROT_NONE, an exiting thread frees cached
 * stacks): read it through the kernel, which reports a hole instead of
 * faulting, and skip the hole. */
#define SAFE_CHUNK 65536

void mark_range_safe(struct heap *h, uintptr_t lo, uintptr_t hi)
{
    static uintptr_t buf[SAFE_CHUNK / sizeof(uintptr_t)]; /* scans are serialised */
    lo = (lo + 7) & ~(uintptr_t)7;
    while (lo + 8 <= hi) {
        size_t want = GS_MIN(hi - lo, (uintptr_t)SAFE_CHUNK) & ~(size_t)7;
        long got = sys_read_self(buf, lo, want);
        if (got < 0) { /* the kernel would not help: read directly */
            mark_range(h, lo, hi);
            return;
        }
        scan_words_values(h, buf, (size_t)got / 8);
        lo += (size_t)got;
        if ((size_t)got < want) /* a hole: skip its page */
            lo = (lo | 4095) + 1;
    }
}

void mark_block_root(struct heap *h, size_t i)
{
    if (h->state[i] != BS_REACHED)
        reach(h, &h->m, i);
}

/* Index of the first block starting at or after `a`. */
size_t heap_first_from(const struct heap *h, uintptr_t a)
{
    size_t lo = 0, hi = h->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->blocks[mid].start < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Block i was scanned whole already: only its words in [lo, hi) changed. */
static void rescan_part(struct heap *h, size_t i, uintptr_t lo, uintptr_t hi)
{
    const struct sblock *b = &h->blocks[i];
    if (h->state[i] != BS_REACHED && h->state[i] != BS_POSSIBLE)
        return;
    uintptr_t from = GS_MAX(lo, b->start), to = GS_MIN(hi, b->start + b->size);
    if (from < to)
        scan_words(h, &h->m, from, to, h->state[i] == BS_REACHED);
}

void mark_rescan_range(struct heap *h, uintptr_t lo, uintptr_t hi)
{
    /* The granule index names the first block that may overlap [lo, hi):
     * no binary search (a page rescan must cost the page, not log n
     * cache misses). */
    size_t first = h->n;
    uintptr_t a = GS_MAX(lo, h->lo) & ~(((uintptr_t)1 << GRANULE_SHIFT) - 1);
    while (a < hi && a <= h->hi) {
        const struct region *r = region_get(h, a);
        if (!r) { /* no block in this GiB */
            a = ((a >> REGION_SHIFT) + 1) << REGION_SHIFT;
            continue;
        }
        uint32_t m = r->map[(a >> GRANULE_SHIFT) & (GRANULES_PER_REGION - 1)];
        if (m) {
            first = m - 1;
            break;
        }
        a += (uintptr_t)1 << GRANULE_SHIFT;
    }
    for (size_t i = first; i < h->n && h->blocks[i].start < hi; i++) {
        const struct sblock *b = &h->blocks[i];
        if (h->rec && b->start + GS_MAX(b->size, (size_t)1) > lo)
            h->rec->slot[i] = (struct rec_slot){0, 0};
        rescan_part(h, i, lo, hi);
    }
}

void heap_erase(struct heap *h, size_t i)
{
    h->state[i] = BS_REACHED;
    h->blocks[i].size = 0;
    h->blocks[i].stack = STACK_ID_ERASED;
    h->span[i] = h->blocks[i].start; /* size 0: owns its start only */
    h->n_erased++;
}

/* ---- The drain ---- */

/* A grey block on its way to being scanned: bounds read, lines prefetched. */
struct in_flight {
    uintptr_t start, end;
    size_t i;
};

static inline void prefetch_lines(uintptr_t start, uintptr_t end)
{
    end = GS_MIN(end, start + WAVE_LINES * 64);
    for (uintptr_t a = start & ~(uintptr_t)63; a < end; a += 64)
        __builtin_prefetch((const void *)a);
}

/* Gives half of a marker's greys to the pool when another marker asked. */
static void share(struct marker *m)
{
    struct mark_pool *p = m->pool;
    if (!atomic_load_explicit(&p->hungry, memory_order_relaxed) || m->grey_n < 2 * SHARE_MIN)
        return;
    pool_lock(p);
    size_t give = GS_MIN(m->grey_n / 2, p->cap - p->n);
    for (size_t k = 0; k < give; k++)
        p->items[p->n++] = grey_pop(m);
    atomic_store_explicit(&p->hungry, false, memory_order_relaxed);
    pool_unlock(p);
}

/* Scans every grey block of marker `m`, each GREY_AHEAD blocks after its
 * lines were prefetched, and its bounds 2 * GREY_AHEAD blocks before: far
 * enough ahead to hide a DRAM miss, near enough that the misses in flight
 * fit the core's fill buffers. With `split`, returns early once enough is
 * queued for a second marker (mark_drain_all). */
#define GREY_AHEAD 8

static void drain_grey(struct heap *h, struct marker *m, bool split)
{
    struct in_flight pipe[GREY_AHEAD];
    size_t in = 0, out = 0;
    unsigned since_share = 0;
    for (;;) {
        bool more = m->grey_n && !(split && m->grey_n >= PARALLEL_GREY);
        if (more && in - out < GREY_AHEAD) {
            if (m->grey_n > GREY_AHEAD) {
                uint32_t ahead = m->grey[(m->grey_head + GREY_AHEAD) & (m->grey_cap - 1)];
                __builtin_prefetch(&h->span[ahead]);
                if (h->rec)
                    __builtin_prefetch(&h->rec->slot[ahead]);
            }
            size_t i = grey_pop(m);
            uint64_t sp = h->span[i];
            struct in_flight *f = &pipe[in++ % GREY_AHEAD];
            f->start = SPAN_START(sp);
            f->end = f->start + span_size(h, i, sp);
            f->i = i;
            uint32_t src = h->rec ? h->rec->slot[i].src : 0;
            if (!src)
                prefetch_lines(f->start, f->end);
            else if (src != REC_EMPTY) /* an empty record has nothing to read */
                __builtin_prefetch(h->rec->src_vals + src - 1);
            continue;
        }
        if (in == out) { /* nothing in flight: resolve what is queued, or stop */
            if (!m->n_cands)
                return;
            flush(h, m);
            continue;
        }
        const struct in_flight *f = &pipe[out++ % GREY_AHEAD];
        scan_block(h, m, f->i, f->start, f->end, true);
        if (m->pool && ++since_share == 256) {
            since_share = 0;
            share(m);
        }
    }
}

/* Takes work from the pool, waiting while other markers may still make
 * some. returns: false when every marker ran dry (the mark is over). */
static bool refill(struct marker *m)
{
    struct mark_pool *p = m->pool;
    pool_lock(p);
    p->idle++;
    for (;;) {
        if (p->n) {
            size_t take = GS_MAX(p->n / p->markers, (size_t)1);
            for (size_t k = 0; k < take; k++)
                grey_push(m, p->items[--p->n]);
            p->idle--;
            pool_unlock(p);
            return true;
        }
        if (p->idle == p->markers) {
            pool_unlock(p);
            return false;
        }
        atomic_store_explicit(&p->hungry, true, memory_order_relaxed);
        pool_unlock(p);
        for (int k = 0; k < 64; k++)
            __builtin_ia32_pause();
        pool_lock(p);
    }
}

static void marker_run(struct heap *h, struct marker *m)
{
    do
        drain_grey(h, m, false);
    while (refill(m));
}

struct helper_arg {
    struct heap *h;
    struct marker *m;
};

static int helper_main(void *p)
{
    struct helper_arg *a = p;
    marker_run(a->h, a->m);
    return 0;
}

/* The strong closure with a second marker on another CPU, once the work
 * queued makes it worth a thread. returns: false when it could not start
 * (the caller drains alone). */
static bool drain_parallel(struct heap *h)
{
    struct marker m1;
    struct mark_pool pool = {0};
    pool.cap = h->n + 1;
    pool.items = sys_map(pool.cap * sizeof(uint32_t), true);
    pool.markers = MAX_MARKERS;
    bool ok = pool.items && marker_init(&m1, h->cap) == 0;
    struct sys_thread t = {0};
    struct helper_arg arg = {h, &m1};
    if (ok) {
        h->m.pool = m1.pool = &pool;
        /* The helper starts with half of what is queued. */
        while (m1.grey_n < h->m.grey_n)
            grey_push(&m1, grey_pop(&h->m));
        ok = sys_thread_start(&t, helper_main, &arg) == 0;
        if (!ok) /* take the half back: nobody else will scan it */
            while (m1.grey_n)
                grey_push(&h->m, grey_pop(&m1));
    }
    if (ok) {
        marker_run(h, &h->m);
        sys_thread_join(&t);
        for (size_t k = 0; k < m1.pstack_n; k++)
            h->m.pstack[h->m.pstack_n++] = m1.pstack[k];
    }
    h->m.pool = NULL;
    if (m1.grey || m1.pstack || m1.cands)
        marker_free(&m1, h->cap);
    sys_unmap(pool.items, pool.cap * sizeof(uint32_t));
    return ok;
}

static void drain(struct heap *h, bool parallel)
{
    struct marker *m = &h->m;
    flush(h, m);
    for (;;) {
        /* Strong closure first, so "possible" means no start-pointer path at all. */
        drain_grey(h, m, parallel);
        if (parallel && m->grey_n) {
            parallel = false; /* once: the helper has ended when it returns */
            drain_parallel(h);
            continue;
        }
        if (!m->pstack_n)
            return;
        size_t i = m->pstack[--m->pstack_n];
        if (h->state[i] != BS_POSSIBLE)
            continue; /* reached strongly meanwhile: scanned as such */
        const struct sblock *b = &h->blocks[i];
        scan_block(h, m, i, b->start, b->start + b->size, false);
        flush(h, m);
    }
}

void mark_drain(struct heap *h) { drain(h, false); }

void mark_drain_all(struct heap *h) { drain(h, sys_cpus() >= 2); }

void mark_for_each_edge(const struct heap *h, size_t i, void (*fn)(void *ctx, size_t j),
                        void *ctx)
{
    const struct sblock *b = &h->blocks[i];
    uintptr_t lo = (b->start + 7) & ~(uintptr_t)7, hi = b->start + b->size;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
        uintptr_t v = *(const uintptr_t *)p;
        if (v < h->lo || v > h->hi)
            continue;
        long j = heap_find(h, v);
        if (j >= 0)
            fn(ctx, (size_t)j);
    }
}
