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

int cmark_begin(struct cmark *c)
{
    memset(c, 0, sizeof *c);
    c->d.uffd = c->d.pagemap = -1;
    if (dirty_probe() == DIRTY_NONE)
        return ENOTSUP;
    int err = gate_open();
    if (err)
        return err;
    err = heap_build_live(&c->h);
    if (!err)
        err = roots_prepare(&c->roots);
    if (!err)
        err = roots_read_maps(&c->roots);
    if (!err)
        err = dirty_begin(&c->d, c->roots.maps, c->roots.n_maps, c->roots.excl, c->roots.n_excl);
    if (!err && !all_tracked(c))
        err = ENOTSUP;
    if (err) {
        cmark_end(c);
        return err;
    }
    roots_mark_live(&c->roots, &c->h);
    mark_drain(&c->h);
    /* Catch up once with the world running: rescan what was written
     * during the mark (re-protected in the same step), so that the pause
     * sees only the pages written from here on. */
    if (dirty_collect(&c->d, true, dirty_cb, c) == 0)
        mark_drain(&c->h);
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

void cmark_end(struct cmark *c)
{
    gate_close();
    dirty_end(&c->d);
    heap_free(&c->h);
    roots_free(&c->roots);
}
