/* SPDX-License-Identifier: MIT
 * cmark.c: the mostly-concurrent mark (cmark.h).
 * Why the heap may be read with the world running: every block of the
 * snapshot stays mapped until cmark_end, because frees (and realloc's
 * moves) are deferred while the gate is open (gate.h), and gate_open
 * waits out the reallocs that started before it opened.
 * Roots (segments, mappings) are read through the kernel (they may be
 * unmapped meanwhile); stacks and TLS are left to the pause.
 * locks: scanner (caller) -> loader/shards in the pause (scan.c);
 * one shard at a time otherwise. allocates: sys_map. */
#define _GNU_SOURCE
#include "cmark.h"

#include <errno.h>
#include <string.h>

#include "gate.h"
#include "handle.h"
#include "sys.h"

/* Every snapshot block must lie in a tracked range, or a write to it
 * would go unseen. Both lists are sorted: one merge pass. */
static bool all_tracked(const struct cmark *c)
{
    size_t k = 0;
    for (size_t i = 0; i < c->h.n; i++) {
        const struct sblock *b = &c->h.blocks[i];
        uintptr_t end = b->start + GS_MAX(b->size, (size_t)1);
        while (k < c->d.n && c->d.ranges[k].hi <= b->start)
            k++;
        if (k < c->d.n && c->d.ranges[k].lo <= b->start && end <= c->d.ranges[k].hi)
            continue;
        if (!dirty_tracked(&c->d, b->start, end))
            return false;
    }
    return true;
}

static void dirty_cb(void *ctx, uintptr_t lo, uintptr_t hi)
{
    struct cmark *c = ctx;
    c->dirty_pages += (hi - lo) / 4096;
    mark_rescan_range(&c->h, lo, hi);
}

/* What the last incremental scan left to the next, under the scanner lock:
 * its tracker, still write-protecting what it saw at its pause, and what
 * it read of each block. Valid from a scan's cmark_end(keep) until the
 * next cmark_begin takes it. */
static struct carry {
    bool valid;
    struct dirty d;          /* suspended: writes since that scan's pause */
    uint64_t *span;          /* that snapshot's bounds, by address, n entries */
    size_t n, span_cap;
    struct rec_slot *slot;   /* by block: its record (.off: 1 + offset in vals) */
    size_t slot_cap;
    uint64_t *vals;
    size_t vals_cap;
    uintptr_t lo, hi;        /* the records hold every word in [lo, hi] */
} carry;

static void carry_free_records(struct carry *k)
{
    sys_unmap(k->span, k->span_cap * sizeof *k->span);
    sys_unmap(k->slot, k->slot_cap * sizeof *k->slot);
    sys_unmap(k->vals, k->vals_cap * sizeof *k->vals);
    k->span = NULL;
    k->slot = NULL;
    k->vals = NULL;
    k->n = k->span_cap = k->slot_cap = k->vals_cap = 0;
}

/* How far past the heap's bounds a record keeps words: the next scan may
 * use the records only if its blocks all lie within (a word that pointed
 * nowhere may point into a block allocated since). 1 GiB plus a quarter
 * of the heap's span on either side covers a heap that grows steadily. */
#define REC_MARGIN(span) ((span) / 4 + (1ul << 30))

static void stale_cb(void *ctx, uintptr_t lo, uintptr_t hi)
{
    struct cmark *c = ctx;
    c->stale_pages += (hi - lo) / 4096;
    mark_rescan_range(&c->h, lo, hi); /* nothing is marked yet: drops records only */
}

/* Maps this scan's records and, when the last scan's apply, matches them
 * to this snapshot. Without room for records the scan reads every block. */
static void records_setup(struct cmark *c, bool resumed)
{
    struct heap *h = &c->h;
    struct mark_records *r = &c->rec;
    struct handle_totals t;
    handle_totals(&t);
    /* Room for every word once, and a header per block: a block is read
     * whole once (a second, stronger scan replays its new record). */
    c->vals_cap = GS_MIN(t.live_bytes / 8 + 2 * h->cap + 65536, (size_t)UINT32_MAX - 1);
    r->vals = sys_map(c->vals_cap * sizeof *r->vals, true);
    r->slot = sys_map_filled(h->cap * sizeof *r->slot); /* read before written */
    bool inherit = resumed && carry.slot && carry.n && carry.lo <= h->lo && h->hi <= carry.hi;
    if (inherit) /* written in order (matched entries only), then read */
        r->remap = sys_map(carry.n * sizeof *r->remap, true);
    if (!r->vals || !r->slot || (inherit && !r->remap)) {
        sys_unmap(r->vals, c->vals_cap * sizeof *r->vals);
        sys_unmap(r->slot, h->cap * sizeof *r->slot);
        sys_unmap(r->remap, carry.n * sizeof *r->remap);
        *r = (struct mark_records){0};
        return;
    }
    r->cap_vals = c->vals_cap;
    h->rec = r;
    if (inherit) {
        r->lo = carry.lo; /* carried records hold these words, no more */
        r->hi = carry.hi;
        r->src_vals = carry.vals;
        r->old_span = carry.span;
        mark_records_inherit(h, carry.span, carry.slot, carry.n);
    } else {
        uintptr_t m = REC_MARGIN(h->hi - h->lo);
        r->lo = h->lo > m ? h->lo - m : 0;
        r->hi = h->hi < UINTPTR_MAX - m ? h->hi + m : UINTPTR_MAX;
    }
}

/* Starts tracking, or picks up the tracking the last scan left running.
 * `*resumed`: the pages written since the last pause are known. */
static int track(struct cmark *c, bool *resumed)
{
    *resumed = false;
    if (carry.valid) {
        c->d = carry.d;
        carry.valid = false;
        carry.d = (struct dirty){.how = DIRTY_NONE, .uffd = -1, .pagemap = -1};
        if (dirty_resume(&c->d, c->roots.maps, c->roots.n_maps, c->roots.excl,
                         c->roots.n_excl) == 0) {
            *resumed = true;
            return 0;
        }
        dirty_end(&c->d);
    }
    return dirty_begin(&c->d, c->roots.maps, c->roots.n_maps, c->roots.excl, c->roots.n_excl);
}

int cmark_begin(struct cmark *c)
{
    memset(c, 0, sizeof *c);
    c->d.uffd = c->d.pagemap = -1;
    if (dirty_probe() == DIRTY_NONE)
        return ENOTSUP;
    int err = gate_open();
    if (err)
        return err;
    double t0 = sys_now_ms();
    err = heap_build_live(&c->h);
    c->build_ms = sys_now_ms() - t0;
    if (!err)
        err = roots_prepare(&c->roots);
    if (!err)
        err = roots_read_maps(&c->roots);
    bool resumed = false;
    if (!err)
        err = track(c, &resumed);
    if (!err && !all_tracked(c))
        err = ENOTSUP;
    if (!err && c->d.how == DIRTY_UFFD)
        records_setup(c, resumed);
    /* The pages written since the last pause, or discarded: their blocks
     * are read, not replayed. Protected again in the same step, so a write
     * from here on shows up in the catch-up or the pause. */
    if (!err && resumed)
        err = dirty_collect_changed(&c->d, stale_cb, c);
    if (err) {
        cmark_end(c, false);
        return err;
    }
    double t1 = sys_now_ms();
    roots_mark_live(&c->roots, &c->h);
    mark_drain(&c->h);
    /* Catch up once with the world running: rescan what was written
     * during the mark (re-protected in the same step), so that the pause
     * sees only the pages written from here on. */
    if (dirty_collect(&c->d, true, dirty_cb, c) == 0)
        mark_drain(&c->h);
    else /* pages it protected again before failing went unreported */
        c->lost_writes = true;
    c->mark_ms = sys_now_ms() - t1;
    c->caught_up_pages = c->dirty_pages;
    c->dirty_pages = 0;
    return 0;
}

static void young_cb(uintptr_t p, void *ctx)
{
    struct cmark *c = ctx;
    struct handle hd;
    c->young++;
    if (handle_lookup_locked(p, &hd))
        mark_range(&c->h, p, p + hd.size);
}

int cmark_pause(struct cmark *c, struct roots *roots, const struct world *w, uintptr_t self_sp)
{
    double t0 = sys_now_ms();
    /* Not protected again: a page written during the scan stays "written"
     * and is read again by the next scan (its records are dropped here),
     * which costs less than write-protecting it while the world waits. */
    if (c->lost_writes)
        return EIO;
    int err = dirty_collect(&c->d, false, dirty_cb, c);
    if (err)
        return err;
    double t1 = sys_now_ms();
    gate_young_each(young_cb, c);
    double t2 = sys_now_ms();
    roots_mark_world(roots, &c->h, w, self_sp);
    double t3 = sys_now_ms();
    mark_drain(&c->h);
    c->drain_ms = sys_now_ms() - t3;
    c->roots_ms = t3 - t2;
    c->young_ms = t2 - t1;
    c->dirty_ms = t1 - t0;
    return 0;
}

static bool contains(const uintptr_t *a, size_t n, uintptr_t v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == v;
}

int cmark_settle(struct cmark *c)
{
    size_t n_young;
    bool overflow;
    const uintptr_t *young = gate_young(&n_young, &overflow);
    if (overflow)
        return EOVERFLOW;
    struct heap *h = &c->h;
    for (size_t i = 0; i < h->n; i++) {
        struct sblock *b = &h->blocks[i];
        if (h->state[i] != BS_UNREACHED && h->state[i] != BS_POSSIBLE)
            continue;
        struct handle hd;
        if (contains(young, n_young, b->start) || !handle_lookup(b->start, &hd) ||
            hd.size != b->size) {
            heap_erase(h, i);
            continue;
        }
        uint8_t was = b->flags;
        b->flags = (uint8_t)hd.flags;
        b->owner = (uint16_t)hd.owner;
        if ((b->flags & (HF_IGNORED | HF_ROOT)) && !(was & (HF_IGNORED | HF_ROOT)))
            mark_block_root(h, i);
    }
    mark_drain(h); /* reads only unreached blocks, which nothing can write */
    return 0;
}

void cmark_end(struct cmark *c, bool keep)
{
    gate_close();
    struct mark_records *r = &c->rec;
    sys_unmap(r->remap, carry.n * sizeof *r->remap);
    carry_free_records(&carry); /* read by this scan, replaced by its own */
    if (keep && c->d.how == DIRTY_UFFD) {
        dirty_suspend(&c->d);
        carry.d = c->d;
        carry.valid = true;
        if (r->slot) {
            carry.span = heap_take_span(&c->h, &carry.span_cap);
            carry.n = c->h.n;
            carry.slot = r->slot;
            carry.slot_cap = c->h.cap;
            carry.vals = r->vals;
            carry.vals_cap = c->vals_cap;
            carry.lo = r->lo;
            carry.hi = r->hi;
        }
    } else {
        dirty_end(&c->d);
        sys_unmap(r->slot, c->h.cap * sizeof *r->slot);
        sys_unmap(r->vals, c->vals_cap * sizeof *r->vals);
    }
    c->replayed = r->replayed;
    c->read = r->read;
    *r = (struct mark_records){0};
    heap_free(&c->h);
    roots_free(&c->roots);
}

void cmark_atfork_child(void)
{
    if (carry.valid)
        dirty_drop_inherited(&carry.d);
    carry_free_records(&carry);
    carry.valid = false;
}
