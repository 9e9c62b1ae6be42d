/* SPDX-License-Identifier: MIT
 * scan.c: the scan pipeline (scan.h).
 * The whole scan runs inside a dl_iterate_phdr callback so the loader
 * lock is held throughout: no object can be dlclose'd (unmapping a root
 * segment) mid-scan, and no stopped thread can be holding that lock while
 * the scanner needs it.
 * locks: `scanner.lock` (one scan at a time) -> loader -> handle shards ->
 * guardian -> maps (held across the stop). STW: orchestrates it.
 * allocates: sys_map. */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <link.h>
#include <string.h>

#include "classify.h"
#include "guardian.h"
#include "handle.h"
#include "interpose.h"
#include "lock.h"
#include "mark.h"
#include "roots.h"
#include "sites.h"
#include "sys.h"
#include "world.h"

#define RECLAIM_POISON 0xdb

static struct {
    struct spinlock lock;
    size_t count;
    size_t last_blocks, last_bytes;
} scanner;

struct run {
    struct scan_result *res;
    const struct scan_opts *o;
    struct scan_stats *st;
    uintptr_t *reclaim; /* blocks to free after resume */
    size_t n_reclaim, reclaim_cap;
    int err;
    bool ran;
};

/* STW: keeps HF_UNREACHED equal to "unreachable at the last scan", counts
 * what is newly unreachable and picks reclaim candidates. */
static void update_flags(struct run *run, struct heap *h)
{
    struct scan_result *res = run->res;
    for (size_t i = 0; i < h->n; i++) {
        const struct sblock *b = &h->blocks[i];
        if (b->state == BS_REACHED && (b->flags & HF_UNREACHED))
            handle_update_locked(b->start, 0, HF_UNREACHED);
    }
    size_t kept = 0;
    for (size_t k = 0; k < res->n_leaks; k++) {
        struct leak_block *l = &res->leaks[k];
        long i = heap_find(h, l->addr);
        uint32_t flags = i >= 0 ? h->blocks[i].flags : 0;
        if (!(flags & HF_UNREACHED)) {
            run->st->newly_unreachable++;
            handle_update_locked(l->addr, HF_UNREACHED, 0);
        } else if (run->o->reclaim && l->kind != KIND_POSSIBLE &&
                   !(flags & (HF_FINALIZER | HF_GUARDED)) && run->n_reclaim < run->reclaim_cap) {
            run->reclaim[run->n_reclaim++] = l->addr;
            continue; /* freed below, not reported */
        }
        res->leaks[kept++] = *l;
    }
    res->n_leaks = kept;
}

static int scan_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)info;
    (void)size;
    struct run *run = p;
    if (run->ran)
        return 1;
    run->ran = true;
    struct scan_result *res = run->res;
    double t0 = sys_now_ms();
    struct heap h;
    struct roots roots = {0};
    struct world w;
    struct guard_actions acts = {0};
    handle_lock_all();
    run->err = heap_build(&h);
    if (run->err) {
        handle_unlock_all();
        return 1;
    }
    size_t cap = h.n ? h.n : 1;
    res->leaks_cap_bytes = cap * sizeof(struct leak_block);
    res->leaks = sys_map(res->leaks_cap_bytes, true);
    run->reclaim_cap = run->o->reclaim ? cap : 0;
    run->reclaim = run->o->reclaim ? sys_map(cap * sizeof(uintptr_t), true) : NULL;
    run->err = !res->leaks || (run->o->reclaim && !run->reclaim) ? ENOMEM : roots_prepare(&roots);
    if (!run->err) {
        run->err = guardian_prepare(&acts);
        sys_hold_maps();
        world_stop(&w);
        roots_mark(&roots, &h, &w, run->o->self_sp);
        mark_drain(&h);
        if (!run->err) {
            guardian_scan(&h, &acts);
            run->st->newly_unreachable += acts.n; /* queued: unreachable, kept for the program */
        }
        if (!run->err)
            run->err = classify_all(&h, res);
        if (!run->err)
            update_flags(run, &h);
        world_resume(&w);
        sys_release_maps();
        guardian_apply(&acts);
        if (!run->err)
            sites_observe(&h, sys_now_ms());
    }
    handle_unlock_all();
    roots_free(&roots);
    heap_free(&h);
    res->scan_ms = sys_now_ms() - t0;
    return 1;
}

/* Frees the reclaimed blocks, poisoned first so that a wrong reclaim shows
 * up as garbage in the program rather than as silent corruption. */
static void reclaim_blocks(struct run *run)
{
    for (size_t k = 0; k < run->n_reclaim; k++) {
        size_t sz = interpose_free_tracked((void *)run->reclaim[k], RECLAIM_POISON);
        run->st->reclaimed_blocks++;
        run->st->reclaimed_bytes += sz;
    }
    if (run->reclaim)
        sys_unmap(run->reclaim, run->reclaim_cap * sizeof(uintptr_t));
}

int scan_run(struct scan_result *r, const struct scan_opts *o, struct scan_stats *st)
{
    struct scan_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    struct run run = {r, o, st, NULL, 0, 0, 0, false};
    r->leaks = NULL;
    r->n_leaks = 0;
    spin_lock(&scanner.lock);
    dl_iterate_phdr(scan_cb, &run);
    if (!run.err) {
        scanner.count++;
        size_t bytes = 0;
        for (size_t k = 0; k < r->n_leaks; k++)
            bytes += r->leaks[k].size;
        scanner.last_blocks = r->n_leaks;
        scanner.last_bytes = bytes;
    }
    r->n_growing = run.err ? 0 : sites_growing(r->growing, SCAN_MAX_GROWING);
    reclaim_blocks(&run);
    spin_unlock(&scanner.lock);
    if (run.err)
        scan_result_free(r);
    return run.err;
}

void scan_result_free(struct scan_result *r)
{
    if (r->leaks)
        sys_unmap(r->leaks, r->leaks_cap_bytes);
    r->leaks = NULL;
    r->n_leaks = 0;
}

size_t scan_count(void) { return __atomic_load_n(&scanner.count, __ATOMIC_RELAXED); }

void scan_last_leaks(size_t *blocks, size_t *bytes)
{
    spin_lock(&scanner.lock);
    *blocks = scanner.last_blocks;
    *bytes = scanner.last_bytes;
    spin_unlock(&scanner.lock);
}
