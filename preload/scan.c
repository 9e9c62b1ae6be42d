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
#include "cmark.h"
#include "depot.h"
#include "guardian.h"
#include "handle.h"
#include "interpose.h"
#include "lock.h"
#include "log.h"
#include "mark.h"
#include "options.h"
#include "roots.h"
#include "sites.h"
#include "sys.h"
#include "world.h"

#define RECLAIM_POISON 0xdb

static struct {
    struct spinlock lock;  /* one scan at a time */
    size_t count;
    struct spinlock totals_lock; /* the last totals; never held across a scan, so
                                  * gs_get_stats does not wait for one */
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
    double build_ms, roots_ms, drain_ms, judge_ms; /* where a judge's time went */
};

struct run {
    struct scan_result *res;
    const struct scan_opts *o;
    struct cmark *cm; /* incremental: the concurrent mark under way */
    bool cm_done;     /* ... and it ended the scan (no stop-the-world fallback) */
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
        if (h->state[i] == BS_REACHED && (b->flags & HF_UNREACHED))
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

/* The verdict on a marked heap. Allocation-free apart from sys_map. */
static void judge_marked(struct run *run, struct heap *h)
{
    struct verdict *v = run->v;
    guardian_scan(h, &run->acts);
    v->n_acts = run->acts.n;
    v->newly += run->acts.n; /* queued: unreachable, kept for the program */
    v->err = classify_all(h, run->res);
    if (v->err)
        return;
    v->n_leaks = run->res->n_leaks;
    v->reachable_bytes = run->res->reachable_bytes;
    v->reachable_blocks = run->res->reachable_blocks - h->n_erased;
    decide_flags(run, h);
    v->n_leaks = run->res->n_leaks;
    sites_aggregate(h, v->agg, v->agg_cap);
}

/* The verdict on a heap whose threads are stopped (or frozen in a
 * snapshot). */
static void judge(struct run *run, struct heap *h, struct roots *roots, const struct world *w)
{
    struct verdict *v = run->v;
    double t0 = sys_now_ms();
    v->err = heap_build(h);
    if (v->err)
        return;
    double t1 = sys_now_ms();
    roots_mark(roots, h, w, run->o->self_sp);
    double t2 = sys_now_ms();
    mark_drain_all(h);
    double t3 = sys_now_ms();
    judge_marked(run, h);
    double t4 = sys_now_ms();
    v->build_ms = t1 - t0;
    v->roots_ms = t2 - t1;
    v->drain_ms = t3 - t2;
    v->judge_ms = t4 - t3;
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
    size_t cap = GS_MAX(handle_count_locked(), run->cm ? run->cm->h.n : 0);
    run->err = verdict_alloc(run, cap, stacks, snapshot);
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
    run->res->stop_ms = sys_now_ms() - t0;
    int maps_err = roots_read_maps(&roots);
    if (maps_err)
        run->v->err = maps_err;
    long child = 0;
    bool incremental = false;
    if (maps_err) {
        /* nothing to judge */
    } else if (run->cm) {
        /* written pages unknown: judge the stopped world from scratch */
        incremental = cmark_pause(run->cm, &roots, &w, run->o->self_sp) == 0;
        run->cm_done = incremental;
        if (!incremental)
            judge(run, &h, &roots, &w);
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
    if (incremental) {
        /* The program runs on while the verdict is drawn; the gate keeps
         * every snapshot block mapped meanwhile. */
        handle_unlock_all();
        guardian_release();
        run->v->err = cmark_settle(run->cm);
        guardian_relock();
        if (!run->v->err)
            judge_marked(run, &run->cm->h);
    }
    bool unlocked = snapshot || incremental;
    struct verdict *v = run->v;
    run->err = v->err;
    run->res->n_leaks = v->err ? 0 : v->n_leaks;
    run->res->reachable_bytes = v->reachable_bytes;
    run->res->reachable_blocks = v->reachable_blocks;
    run->st->newly_unreachable = v->newly;
    for (size_t k = 0; !v->err && k < v->n_ops; k++) {
        if (unlocked)
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
    if (!unlocked)
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

/* scan_mode=incremental could not run this scan concurrently: say why,
 * once per cause that will not go away by itself. */
static void note_fallback(int err)
{
    static atomic_bool told;
    if (err == ENOTSUP && !atomic_exchange(&told, true))
        log_warn("scan_mode=incremental: no dirty-page tracking here (it needs Linux >= 6.7 "
                 "with userfaultfd, or soft-dirty bits, and every heap mapping trackable); "
                 "scans stop the world instead");
    else if (err != ENOTSUP)
        log_info(1, "incremental scan fell back to stop-the-world: %s", strerror(err));
}

int scan_run(struct scan_result *r, const struct scan_opts *o, struct scan_stats *st)
{
    struct scan_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    struct run run = {r, o, NULL, false, st, NULL, 0, {0}, 0, false};
    r->leaks = NULL;
    r->n_leaks = 0;
    r->pause_ms = r->stop_ms = 0;
    double t0 = sys_now_ms(), cpu0 = sys_thread_cpu_ms();
    spin_lock(&scanner.lock);
    struct cmark cm;
    int cm_err = o->incremental ? cmark_begin(&cm) : ENOTSUP;
    if (o->incremental && cm_err)
        note_fallback(cm_err);
    if (o->incremental && !cm_err)
        run.cm = &cm;
    dl_iterate_phdr(scan_cb, &run);
    if (run.cm) {
        cmark_end(&cm, run.cm_done && !run.err);
        if (run.err == EOVERFLOW) { /* too many young blocks: scan again, stopped */
            note_fallback(EOVERFLOW);
            sys_unmap(run.v, run.v_bytes);
            scan_result_free(r);
            run = (struct run){r, o, NULL, false, st, NULL, 0, {0}, 0, false};
            dl_iterate_phdr(scan_cb, &run);
        }
    }
    if (!run.err) {
        size_t bytes = 0;
        for (size_t k = 0; k < r->n_leaks; k++)
            bytes += r->leaks[k].size;
        spin_lock(&scanner.totals_lock);
        scanner.last_blocks = r->n_leaks;
        scanner.last_bytes = bytes;
        spin_unlock(&scanner.totals_lock);
        __atomic_add_fetch(&scanner.count, 1, __ATOMIC_RELEASE);
    }
    r->n_growing = run.err ? 0 : sites_growing(r->growing, SCAN_MAX_GROWING);
    reclaim_blocks(&run);
    spin_unlock(&scanner.lock);
    r->scan_ms = sys_now_ms() - t0;
    log_info(2, "scan %zu: %s, pause %.3f ms (stopping the threads %.3f ms), %.1f ms in all, "
                "%.1f ms of the scanning thread's CPU",
             scan_count(), run.cm ? "incremental" : o->snapshot ? "snapshot" : "stop-the-world",
             r->pause_ms, r->stop_ms, r->scan_ms, sys_thread_cpu_ms() - cpu0);
    if (run.v && !run.cm)
        log_info(2, "judging %zu blocks: index %.3f ms, roots %.3f ms, mark %.3f ms, verdict %.3f ms",
                 r->reachable_blocks + r->n_leaks, run.v->build_ms, run.v->roots_ms,
                 run.v->drain_ms, run.v->judge_ms);
    if (run.v)
        sys_unmap(run.v, run.v_bytes);
    if (run.cm)
        log_info(2, "incremental: snapshot %.1f ms, mark %.1f ms (blocks: %zu from records, %zu "
                    "read; %zu pages written since the last pause), %zu pages rescanned before the "
                    "pause; in it: %zu dirty pages %.3f ms, %zu young blocks %.3f ms, roots %.3f ms, "
                    "drain %.3f ms",
                 cm.build_ms, cm.mark_ms, cm.replayed, cm.read, cm.stale_pages,
                 cm.caught_up_pages, cm.dirty_pages, cm.dirty_ms, cm.young, cm.young_ms,
                 cm.roots_ms, cm.drain_ms);
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
    spin_lock(&scanner.totals_lock);
    *blocks = scanner.last_blocks;
    *bytes = scanner.last_bytes;
    spin_unlock(&scanner.totals_lock);
}

void scan_atfork_prepare(void) { spin_lock(&scanner.lock); }
void scan_atfork_parent(void) { spin_unlock(&scanner.lock); }
void scan_atfork_child(void)
{
    spin_reset(&scanner.lock);
    spin_reset(&scanner.totals_lock);
}
