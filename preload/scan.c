/* SPDX-License-Identifier: MIT
 * scan.c: the scan pipeline (scan.h), in two modes that reach the same
 * verdict:
 *  - full: the world stays stopped while roots are marked, guardians
 *    decided and blocks classified;
 *  - snapshot: the world is stopped only to capture every thread's
 *    registers (in their signal frames) and clone a copy-on-write child;
 *    the child builds the index, marks and classifies the frozen image and
 *    writes its verdict into shared memory while the program runs on
 *    (seed 002: processes exchanging results through a MAP_SHARED mapping).
 * The whole scan runs inside a dl_iterate_phdr callback so the loader
 * lock is held throughout: no object can be dlclose'd (unmapping a root
 * segment) mid-scan, and no stopped thread can be holding that lock.
 * locks: `scanner.lock` (one scan at a time) -> loader -> handle shards ->
 * guardian -> maps (held across the stop). STW: orchestrates it.
 * allocates: sys_map / sys_map_shared. */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <link.h>
#include <string.h>

#include "classify.h"
#include "depot.h"
#include "guardian.h"
#include "handle.h"
#include "interpose.h"
#include "lock.h"
#include "mark.h"
#include "options.h"
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

/* A change to a handle's HF_UNREACHED flag, decided by the verdict. */
struct flag_op {
    uintptr_t addr;
    bool set;
};

/* What a scan decides. In snapshot mode every buffer is shared with the
 * child that fills it. */
struct verdict {
    int err;
    size_t n_leaks, reachable_bytes, reachable_blocks;
    size_t newly;            /* unreachable now, not at the previous scan */
    size_t n_acts;           /* guardian actions written to the shared buffer */
    struct flag_op *ops;     /* n_ops entries */
    size_t n_ops, ops_cap;
    uintptr_t *reclaim;      /* n_reclaim blocks to free */
    size_t n_reclaim, reclaim_cap;
    struct site_agg *agg;    /* agg_cap entries, indexed by stack id */
    size_t agg_cap;
};

struct run {
    struct scan_result *res;
    const struct scan_opts *o;
    struct scan_stats *st;
    struct verdict *v;
    size_t v_bytes;
    struct guard_actions acts;
    int err;
    bool ran;
};

static void *map_buf(size_t bytes, bool shared)
{
    return shared ? sys_map_shared(bytes) : sys_map(bytes, true);
}

/* Sizes every buffer for `n` blocks and `stacks` stack ids, in one
 * mapping (shared for a snapshot). pre: handle locks held. */
static int verdict_alloc(struct run *run, size_t n, size_t stacks, bool shared)
{
    size_t cap = n ? n : 1;
    size_t bytes = sizeof(struct verdict) + 2 * cap * sizeof(struct flag_op) +
                   (run->o->reclaim ? cap * sizeof(uintptr_t) : 0) +
                   (stacks + 1) * sizeof(struct site_agg);
    char *p = map_buf(bytes, shared);
    struct scan_result *res = run->res;
    res->leaks_cap_bytes = cap * sizeof(struct leak_block);
    res->leaks = map_buf(res->leaks_cap_bytes, shared);
    if (!p || !res->leaks) {
        sys_unmap(p, bytes);
        return ENOMEM;
    }
    struct verdict *v = (struct verdict *)p;
    p += sizeof *v;
    v->ops = (struct flag_op *)p;
    v->ops_cap = 2 * cap;
    p += 2 * cap * sizeof(struct flag_op);
    if (run->o->reclaim) {
        v->reclaim = (uintptr_t *)p;
        v->reclaim_cap = cap;
        p += cap * sizeof(uintptr_t);
    }
    v->agg = (struct site_agg *)p;
    v->agg_cap = stacks + 1;
    run->v = v;
    run->v_bytes = bytes;
    return 0;
}

static void add_op(struct verdict *v, uintptr_t addr, bool set)
{
    if (v->n_ops < v->ops_cap)
        v->ops[v->n_ops++] = (struct flag_op){addr, set};
}

/* Keeps HF_UNREACHED equal to "unreachable at the last scan", counts what
 * is newly unreachable and picks reclaim candidates (unreachable now and
 * at the previous scan, no finalizer or guardian, not "possible"). */
static void decide_flags(struct run *run, struct heap *h)
{
    struct verdict *v = run->v;
    struct scan_result *res = run->res;
    for (size_t i = 0; i < h->n; i++) {
        const struct sblock *b = &h->blocks[i];
        if (b->state == BS_REACHED && (b->flags & HF_UNREACHED))
            add_op(v, b->start, false);
    }
    size_t kept = 0;
    for (size_t k = 0; k < res->n_leaks; k++) {
        struct leak_block *l = &res->leaks[k];
        long i = heap_find(h, l->addr);
        uint32_t flags = i >= 0 ? h->blocks[i].flags : 0;
        if (!(flags & HF_UNREACHED)) {
            v->newly++;
            add_op(v, l->addr, true);
        } else if (v->reclaim && l->kind != KIND_POSSIBLE &&
                   !(flags & (HF_FINALIZER | HF_GUARDED)) && v->n_reclaim < v->reclaim_cap) {
            v->reclaim[v->n_reclaim++] = l->addr;
            continue; /* freed after the scan, not reported */
        }
        res->leaks[kept++] = *l;
    }
    res->n_leaks = kept;
}

/* The verdict on a heap whose threads are stopped (or frozen in a
 * snapshot). Allocation-free apart from sys_map. */
static void judge(struct run *run, struct heap *h, struct roots *roots, const struct world *w)
{
    struct verdict *v = run->v;
    v->err = heap_build(h);
    if (v->err)
        return;
    roots_mark(roots, h, w, run->o->self_sp);
    mark_drain(h);
    guardian_scan(h, &run->acts);
    v->n_acts = run->acts.n;
    v->newly += run->acts.n; /* queued: unreachable, kept for the program */
    v->err = classify_all(h, run->res);
    if (v->err)
        return;
    v->n_leaks = run->res->n_leaks;
    v->reachable_bytes = run->res->reachable_bytes;
    v->reachable_blocks = run->res->reachable_blocks;
    decide_flags(run, h);
    v->n_leaks = run->res->n_leaks;
    sites_aggregate(h, v->agg, v->agg_cap);
}

/* The snapshot child: judge the frozen image, then vanish. */
static __attribute__((noreturn)) void snapshot_child(struct run *run, struct roots *roots,
                                                     const struct world *w)
{
    sys_adopt_maps();
    struct heap h;
    judge(run, &h, roots, w);
    sys_exit_child(0);
}

static int scan_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)info;
    (void)size;
    struct run *run = p;
    if (run->ran)
        return 1;
    run->ran = true;
    bool snapshot = run->o->snapshot;
    struct roots roots = {0};
    struct world w;
    size_t stacks, depot_bytes;
    handle_lock_all();
    depot_usage(&stacks, &depot_bytes);
    run->err = verdict_alloc(run, handle_count_locked(), stacks, snapshot);
    if (!run->err)
        run->err = roots_prepare(&roots);
    if (!run->err)
        run->err = guardian_prepare(&run->acts, snapshot);
    if (run->err) {
        handle_unlock_all();
        roots_free(&roots);
        return 1;
    }
    struct heap h = {0};
    sys_hold_maps();
    double t0 = sys_now_ms();
    world_stop(&w);
    int maps_err = roots_read_maps(&roots);
    if (maps_err)
        run->v->err = maps_err;
    long child = 0;
    if (maps_err) {
        /* nothing to judge */
    } else if (snapshot) {
        child = sys_clone_snapshot();
        if (child == 0)
            snapshot_child(run, &roots, &w);
        if (child < 0)
            run->v->err = (int)-child;
    } else {
        judge(run, &h, &roots, &w);
    }
    world_resume(&w);
    run->res->pause_ms = sys_now_ms() - t0;
    sys_release_maps();
    if (snapshot) {
        /* The program runs on while the child judges the image. */
        handle_unlock_all();
        guardian_release();
        if (child > 0 && sys_wait_snapshot(child) != 0 && !run->v->err)
            run->v->err = ECHILD;
        guardian_relock();
    }
    struct verdict *v = run->v;
    run->err = v->err;
    run->res->n_leaks = v->err ? 0 : v->n_leaks;
    run->res->reachable_bytes = v->reachable_bytes;
    run->res->reachable_blocks = v->reachable_blocks;
    run->st->newly_unreachable = v->newly;
    for (size_t k = 0; !v->err && k < v->n_ops; k++) {
        if (snapshot)
            handle_update(v->ops[k].addr, v->ops[k].set ? HF_UNREACHED : 0,
                          v->ops[k].set ? 0 : HF_UNREACHED, UINT32_MAX);
        else
            handle_update_locked(v->ops[k].addr, v->ops[k].set ? HF_UNREACHED : 0,
                                 v->ops[k].set ? 0 : HF_UNREACHED);
    }
    run->acts.n = v->err ? 0 : v->n_acts; /* the child's count, in snapshot mode */
    guardian_apply(&run->acts);
    if (!v->err)
        sites_observe(v->agg, v->agg_cap, sys_now_ms());
    if (!snapshot)
        handle_unlock_all();
    roots_free(&roots);
    heap_free(&h);
    return 1;
}

/* Frees the reclaimed blocks, poisoned first so that a wrong reclaim shows
 * up as garbage in the program rather than as silent corruption. */
static void reclaim_blocks(struct run *run)
{
    struct verdict *v = run->v;
    for (size_t k = 0; v && !v->err && k < v->n_reclaim; k++) {
        size_t sz = interpose_free_tracked((void *)v->reclaim[k], RECLAIM_POISON);
        run->st->reclaimed_blocks++;
        run->st->reclaimed_bytes += sz;
    }
}

int scan_run(struct scan_result *r, const struct scan_opts *o, struct scan_stats *st)
{
    struct scan_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    struct run run = {r, o, st, NULL, 0, {0}, 0, false};
    r->leaks = NULL;
    r->n_leaks = 0;
    r->pause_ms = 0;
    double t0 = sys_now_ms();
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
    if (run.v)
        sys_unmap(run.v, run.v_bytes);
    r->scan_ms = sys_now_ms() - t0;
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

void scan_atfork_prepare(void) { spin_lock(&scanner.lock); }
void scan_atfork_parent(void) { spin_unlock(&scanner.lock); }
void scan_atfork_child(void) { spin_reset(&scanner.lock); }
