/* SPDX-License-Identifier: MIT
 * scan.c: the scan pipeline (scan.h).
 * The whole scan runs inside a dl_iterate_phdr callback so the loader
 * lock is held throughout: no object can be dlclose'd (unmapping a root
 * segment) mid-scan, and no stopped thread can be holding that lock while
 * the scanner needs it.
 * locks: `scanner.lock` (one scan at a time) -> loader -> handle shards.
 * STW: orchestrates it. allocates: sys_map. */
#define _GNU_SOURCE
#include "scan.h"

#include <errno.h>
#include <link.h>

#include "classify.h"
#include "handle.h"
#include "lock.h"
#include "mark.h"
#include "roots.h"
#include "sys.h"
#include "world.h"

static struct {
    struct spinlock lock;
    size_t count;
} scanner;

struct run {
    struct scan_result *res;
    uintptr_t self_sp;
    int err;
    bool ran;
};

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
    handle_lock_all();
    run->err = heap_build(&h);
    if (run->err) {
        handle_unlock_all();
        return 1;
    }
    res->leaks_cap_bytes = (h.n ? h.n : 1) * sizeof(struct leak_block);
    res->leaks = sys_map(res->leaks_cap_bytes, true);
    run->err = res->leaks ? roots_prepare(&roots) : ENOMEM;
    if (!run->err) {
        world_stop(&w);
        roots_mark(&roots, &h, &w, run->self_sp);
        mark_drain(&h);
        run->err = classify_all(&h, res);
        world_resume(&w);
    }
    handle_unlock_all();
    roots_free(&roots);
    heap_free(&h);
    res->scan_ms = sys_now_ms() - t0;
    return 1;
}

int scan_run(struct scan_result *r, uintptr_t self_sp)
{
    struct run run = {r, self_sp, 0, false};
    r->leaks = NULL;
    r->n_leaks = 0;
    spin_lock(&scanner.lock);
    dl_iterate_phdr(scan_cb, &run);
    if (!run.err)
        scanner.count++;
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
