/* SPDX-License-Identifier: MIT
 * mark.c: heap snapshot, granule index and conservative mark (mark.h).
 * locks: none itself; heap_build needs the handle locks held by the caller.
 * The mark is latency-bound (every edge is a random access to the index,
 * the block table and the block), so lookups are batched: words that pass
 * the range filter are queued with their index slot prefetched, then the
 * batch is resolved with the block entries prefetched, and newly reached
 * blocks are prefetched before they are scanned (FACTS: batched prefetch
 * is 2-3x faster than one lookup at a time).
 * STW: yes (after heap_build). allocates: sys_map only. */
#include "mark.h"

#include <errno.h>
#include <string.h>

#include "glibc.h"
#include "handle.h"
#include "sys.h"

#define REGION_SHIFT 30
#define GRANULE_SHIFT 8
#define GRANULES_PER_REGION (1ul << (REGION_SHIFT - GRANULE_SHIFT))
#define BATCH 256
#define DRAIN_BLOCKS 32

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
                                         (uint8_t)hd->flags, BS_UNREACHED};
    else
        f->overflow = true;
}

/* LSD radix sort on bits 4..51 of the start address (16-byte aligned
 * blocks, 48-bit user space): four 12-bit passes. */
static void sort_blocks(struct sblock *a, struct sblock *tmp, size_t n)
{
    static size_t count[1 << 12];
    for (int pass = 0; pass < 4; pass++) {
        int shift = 4 + pass * 12;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++)
            count[(a[i].start >> shift) & 0xfff]++;
        size_t sum = 0;
        for (size_t k = 0; k < (1 << 12); k++) {
            size_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[(a[i].start >> shift) & 0xfff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
}

/* Last address inside the block (a 0-byte block still owns its start).
 * One-past-end pointers do not count: for glibc they are often the next
 * chunk's header, which the arena's own pointers (top, bins) name. */
static inline uintptr_t block_last(const struct sblock *b)
{
    return b->size ? b->start + b->size - 1 : b->start;
}

/* Maps the snapshot array for `cap` blocks and the mark's buffers. */
static int heap_alloc(struct heap *h, size_t cap)
{
    memset(h, 0, sizeof *h);
    h->cap = cap ? cap : 1;
    h->blocks = sys_map(h->cap * sizeof(struct sblock), false);
    h->cands = sys_map(BATCH * sizeof(struct candidate), false);
    h->n_regions_cap = 1024;
    h->regions = sys_map(h->n_regions_cap * sizeof(struct region), false);
    h->stack_cap = h->pstack_cap = 1 << 16;
    h->stack = sys_map(h->stack_cap * sizeof(size_t), false);
    h->pstack = sys_map(h->pstack_cap * sizeof(size_t), false);
    if (!h->blocks || !h->cands || !h->regions || !h->stack || !h->pstack) {
        heap_free(h);
        return ENOMEM;
    }
    return 0;
}

/* Sorts the filled snapshot and builds the granule index. */
static int heap_index(struct heap *h)
{
    size_t bytes = h->cap * sizeof(struct sblock);
    struct sblock *tmp = sys_map(bytes, false);
    if (!tmp) {
        heap_free(h);
        return ENOMEM;
    }
    sort_blocks(h->blocks, tmp, h->n);
    sys_unmap(tmp, bytes);
    h->mapped_bytes += 2 * bytes;
    if (h->n == 0)
        return 0;
    h->lo = h->blocks[0].start;
    h->hi = block_last(&h->blocks[h->n - 1]);
    for (size_t i = 0; i < h->n; i++) {
        const struct sblock *b = &h->blocks[i];
        uintptr_t g = b->start >> GRANULE_SHIFT, last = block_last(b) >> GRANULE_SHIFT;
        h->hi = GS_MAX(h->hi, block_last(b));
        struct region *r = NULL;
        for (; g <= last; g++) {
            uintptr_t addr = g << GRANULE_SHIFT;
            if (!r || (addr >> REGION_SHIFT) + 1 != r->id) {
                r = region_add(h, addr);
                if (!r) {
                    heap_free(h);
                    return ENOMEM;
                }
            }
            uint32_t *m = &r->map[g & (GRANULES_PER_REGION - 1)];
            if (*m == 0)
                *m = (uint32_t)(i + 1);
        }
    }
    return 0;
}

int heap_build(struct heap *h)
{
    int err = heap_alloc(h, handle_count_locked());
    if (err)
        return err;
    struct fill_ctx f = {h->blocks, 0, h->cap, false};
    handle_for_each_locked(fill_cb, &f);
    h->n = f.n;
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
    struct fill_ctx f = {h->blocks, 0, h->cap, false};
    handle_for_each_shard(fill_cb, &f);
    h->n = f.n;
    if (f.overflow) {
        heap_free(h);
        return ENOSPC;
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
    sys_unmap(h->cands, BATCH * sizeof(struct candidate));
    sys_unmap(h->stack, h->stack_cap * sizeof(size_t));
    sys_unmap(h->pstack, h->pstack_cap * sizeof(size_t));
    memset(h, 0, sizeof *h);
}

long heap_find(const struct heap *h, uintptr_t v)
{
    if (v < h->lo || v > h->hi)
        return -1;
    const struct region *r = region_get(h, v);
    if (!r)
        return -1;
    uint32_t m = r->map[(v >> GRANULE_SHIFT) & (GRANULES_PER_REGION - 1)];
    if (m == 0)
        return -1;
    for (size_t i = m - 1; i < h->n && h->blocks[i].start <= v; i++)
        if (v <= block_last(&h->blocks[i]))
            return (long)i;
    return -1;
}

/* Grows a mark stack; on failure the push is dropped (the block stays
 * unscanned, which can only over-report, never free or hide). */
static bool stack_push(size_t **st, size_t *n, size_t *cap, size_t v)
{
    if (*n == *cap) {
        size_t ncap = *cap * 2;
        size_t *ns = sys_map(ncap * sizeof(size_t), false);
        if (!ns)
            return false;
        memcpy(ns, *st, *n * sizeof(size_t));
        sys_unmap(*st, *cap * sizeof(size_t));
        *st = ns;
        *cap = ncap;
    }
    (*st)[(*n)++] = v;
    return true;
}

/* Start pointers: the start itself with its low bits used as tags (glibc's
 * tsearch keeps a node's colour in bit 0 of the pointer to it), and one
 * word in, which is how a one-word header is skipped (C++ new[] cookies,
 * length prefixes), as in Valgrind's "newarray"/"length64" heuristics. Any
 * other interior pointer only "possibly" reaches a block. */
static inline bool is_start_pointer(const struct sblock *b, uintptr_t v)
{
    uintptr_t off = v - b->start;
    return off < 8 || (off == 8 && off < b->size);
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
static bool is_base_pointer(const struct heap *h, const struct sblock *b, uintptr_t v)
{
    uintptr_t off = v - b->start;
    if ((off & 7) || off + 8 > b->size || !h->n_vtables)
        return false;
    return in_vtables(h, *(const uintptr_t *)v) && in_vtables(h, *(const uintptr_t *)b->start);
}

static void push_reached(struct heap *h, size_t i)
{
    __builtin_prefetch((const void *)h->blocks[i].start);
    stack_push(&h->stack, &h->stack_n, &h->stack_cap, i);
}

/* Resolves the queued candidates: index slot -> block entry -> state. */
static void flush(struct heap *h)
{
    size_t n = h->n_cands;
    uint32_t first[BATCH];
    for (size_t k = 0; k < n; k++) {
        first[k] = *h->cands[k].slot;
        if (first[k])
            __builtin_prefetch(&h->blocks[first[k] - 1]);
    }
    for (size_t k = 0; k < n; k++) {
        if (!first[k])
            continue;
        uintptr_t v = h->cands[k].v;
        for (size_t i = first[k] - 1; i < h->n && h->blocks[i].start <= v; i++) {
            struct sblock *b = &h->blocks[i];
            if (v > block_last(b))
                continue;
            /* glibc's own state (arena top, bins) names the next chunk's
             * header, which may overlap this block's last word (and only
             * that one: reading the chunk header costs a cache miss). */
            if (v + 8 >= b->start + b->size && v == glibc_next_chunk(b->start))
                break;
            if (h->cands[k].strong && (is_start_pointer(b, v) || is_base_pointer(h, b, v))) {
                if (b->state != BS_REACHED) {
                    b->state = BS_REACHED;
                    push_reached(h, i);
                }
            } else if (b->state == BS_UNREACHED) {
                b->state = BS_POSSIBLE;
                stack_push(&h->pstack, &h->pstack_n, &h->pstack_cap, i);
            }
            break;
        }
    }
    h->n_cands = 0;
}

static void scan_words(struct heap *h, uintptr_t lo, uintptr_t hi, bool strong)
{
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
        uintptr_t v = *(const uintptr_t *)p;
        if (v < h->lo || v > h->hi)
            continue;
        const struct region *r = h->last_region;
        if (!r || (v >> REGION_SHIFT) + 1 != r->id) {
            r = region_get(h, v);
            if (!r)
                continue;
            h->last_region = r;
        }
        const uint32_t *slot = &r->map[(v >> GRANULE_SHIFT) & (GRANULES_PER_REGION - 1)];
        __builtin_prefetch(slot);
        h->cands[h->n_cands++] = (struct candidate){v, slot, strong};
        if (h->n_cands == BATCH)
            flush(h);
    }
}

/* Marks from `n` words already copied out of the process's memory. */
static void scan_words_values(struct heap *h, const uintptr_t *w, size_t n)
{
    scan_words(h, (uintptr_t)w, (uintptr_t)(w + n), true);
}

void mark_range(struct heap *h, uintptr_t lo, uintptr_t hi) { scan_words(h, lo, hi, true); }

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
            scan_words(h, lo, hi, true);
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
    if (h->blocks[i].state != BS_REACHED) {
        h->blocks[i].state = BS_REACHED;
        push_reached(h, i);
    }
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
    if (b->state != BS_REACHED && b->state != BS_POSSIBLE)
        return;
    uintptr_t from = GS_MAX(lo, b->start), to = GS_MIN(hi, b->start + b->size);
    if (from < to)
        scan_words(h, from, to, b->state == BS_REACHED);
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
    for (size_t i = first; i < h->n && h->blocks[i].start < hi; i++)
        rescan_part(h, i, lo, hi);
}

void heap_erase(struct heap *h, size_t i)
{
    h->blocks[i].state = BS_REACHED;
    h->blocks[i].size = 0;
    h->blocks[i].stack = STACK_ID_ERASED;
    h->n_erased++;
}

void mark_drain(struct heap *h)
{
    flush(h);
    for (;;) {
        /* Strong closure first, so "possible" means no start-pointer path at all. */
        while (h->stack_n) {
            for (int k = 0; k < DRAIN_BLOCKS && h->stack_n; k++) {
                const struct sblock *b = &h->blocks[h->stack[--h->stack_n]];
                scan_words(h, b->start, b->start + b->size, true);
            }
            flush(h);
        }
        if (!h->pstack_n)
            return;
        size_t i = h->pstack[--h->pstack_n];
        if (h->blocks[i].state != BS_POSSIBLE)
            continue; /* reached strongly meanwhile: scanned as such */
        const struct sblock *b = &h->blocks[i];
        scan_words(h, b->start, b->start + b->size, false);
        flush(h);
    }
}

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
