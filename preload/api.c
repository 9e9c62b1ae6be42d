/* SPDX-License-Identifier: MIT
 * api.c: the exported gs_* API (include/guardshim.h) and LeakSanitizer's
 * public interface on top of it. Each function validates, sets errno and
 * delegates; none aborts, and each has a defined result when the shim is
 * degraded (gs_active() == 0): calls fail with -1/ENOSYS or return 0.
 * locks: whatever the delegate takes. STW: no. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "arch.h"
#include "check.h"
#include "guardian.h"
#include "handle.h"
#include "init.h"
#include "guardshim.h"
#include "owners.h"
#include "options.h"
#include "roots.h"
#include "scan.h"
#include "tstate.h"

static bool usable(void) { return init_ready() && !tls.in_shim; }

static int fail(int err)
{
    errno = err;
    return -1;
}

GS_API int gs_active(void) { return init_ready() ? 1 : 0; }

/* The side table's entry first, then the handle's flag (guardian.h): a scan
 * in between sees the entry's role and leaves the flag to come alone. A
 * block freed meanwhile (a race in the program) is forgotten. */
static int flag_block(uintptr_t block, uint32_t flag)
{
    if (handle_update(block, flag, 0, UINT32_MAX))
        return 0;
    guardian_forget(block);
    return fail(EINVAL);
}

static uintptr_t collect_cb(uintptr_t sp, void *arg)
{
    (void)arg;
    tls.in_shim++;
    struct scan_result r;
    struct scan_stats st;
    struct scan_opts o = {sp, opt.reclaim != 0, opt.scan_mode == SCAN_MODE_SNAPSHOT,
                          opt.scan_mode == SCAN_MODE_INCREMENTAL};
    size_t newly = 0;
    if (scan_run(&r, &o, &st) == 0) {
        newly = st.newly_unreachable;
        scan_result_free(&r);
    }
    tls.in_shim--;
    return newly;
}

GS_API size_t gs_collect(void)
{
    if (!usable())
        return 0;
    return arch_call_with_regs_saved(collect_cb, NULL);
}

static uintptr_t check_cb(uintptr_t sp, void *arg)
{
    (void)arg;
    tls.in_shim++;
    struct report_totals tot;
    check_run(TRIGGER_API, sp, true, &tot);
    tls.in_shim--;
    return tot.records;
}

GS_API size_t gs_check_leaks(void)
{
    if (!usable())
        return 0;
    return arch_call_with_regs_saved(check_cb, NULL);
}

GS_API gs_guardian *gs_guardian_new(void)
{
    if (!usable()) {
        errno = ENOSYS;
        return NULL;
    }
    /* The handle is a token (guardian.h), not memory. */
    uintptr_t token = guardian_new();
    if (!token)
        errno = ENOMEM;
    return (gs_guardian *)token;
}

GS_API int gs_guardian_register(gs_guardian *g, void *block)
{
    if (!usable())
        return fail(ENOSYS);
    struct handle h;
    if (!block || !handle_lookup((uintptr_t)block, &h))
        return fail(EINVAL);
    int err = guardian_register((uintptr_t)g, (uintptr_t)block);
    if (err)
        return fail(err);
    return flag_block((uintptr_t)block, HF_GUARDED);
}

GS_API void *gs_guardian_poll(gs_guardian *g)
{
    if (!usable())
        return NULL;
    return (void *)guardian_poll((uintptr_t)g);
}

GS_API void gs_guardian_free(gs_guardian *g)
{
    if (usable())
        guardian_free((uintptr_t)g);
}

GS_API int gs_set_finalizer(void *block, gs_finalizer fn, void *arg)
{
    if (!usable())
        return fail(ENOSYS);
    struct handle h;
    if (!block || !handle_lookup((uintptr_t)block, &h))
        return fail(EINVAL);
    int err = guardian_set_finalizer((uintptr_t)block, fn, arg);
    if (err)
        return fail(err);
    return fn ? flag_block((uintptr_t)block, HF_FINALIZER) : 0;
}

/* reclaim=1 at gs_drain: the scans since the last drain left leaks that a
 * second scan may free, so the drain runs that scan now rather than leave
 * them to the next gs_collect or interval tick. Skipped when no scan ran
 * since the drain's own, or when the last scan left no more leaks than
 * the drain's own did (those are the ones reclaim never frees: possible,
 * finalizable cycles); skipping only delays a reclaim, never makes one.
 * Racy by design: two drains at once may both scan, which is harmless. */
static struct {
    size_t scan_no;    /* scan_count() after the drain's last scan */
    size_t left;       /* leaked blocks that scan left */
} drained;

static void reclaim_at_drain(void)
{
    size_t scans = scan_count(), blocks, bytes;
    scan_last_leaks(&blocks, &bytes);
    if (!scans || scans == __atomic_load_n(&drained.scan_no, __ATOMIC_RELAXED) ||
        blocks <= __atomic_load_n(&drained.left, __ATOMIC_RELAXED))
        return;
    arch_call_with_regs_saved(collect_cb, NULL);
    scan_last_leaks(&blocks, &bytes);
    __atomic_store_n(&drained.left, blocks, __ATOMIC_RELAXED);
    __atomic_store_n(&drained.scan_no, scan_count(), __ATOMIC_RELAXED);
}

GS_API size_t gs_drain(void)
{
    if (!usable())
        return 0;
    /* The scan first: finalizers it queues run in this drain. */
    if (opt.reclaim)
        reclaim_at_drain();
    return guardian_drain(free);
}

/* ---- Interior pointers (gs_ignore, as LeakSanitizer's ignore_object) ---- */

/* Blocks are 16-byte aligned (handle.h), so the start of the block holding
 * p, if it is within this many bytes of p, is one of the 16-byte steps
 * below p: probed one by one, the nearest start found decides. */
#define INTERIOR_WINDOW 1024

static bool block_covers(const struct handle *h, uintptr_t p)
{
    return p >= h->ptr && p - h->ptr < (h->size ? h->size : 1);
}

struct containing_ctx {
    uintptr_t p, found;
};

static void containing_cb(const struct handle *h, void *arg)
{
    struct containing_ctx *c = arg;
    if (block_covers(h, c->p))
        c->found = h->ptr;
}

/* The start of the tracked block containing `p`, or 0. Blocks never
 * overlap, so in the window the nearest start below p is the only
 * candidate; past the window (larger blocks, glibc's mmapped chunks) one
 * pass over the handle table decides. */
static uintptr_t block_containing(uintptr_t p)
{
    struct handle h;
    uintptr_t c = p & ~(uintptr_t)15;
    for (uintptr_t back = 0; back <= INTERIOR_WINDOW && back < c; back += 16)
        if (handle_lookup(c - back, &h))
            return block_covers(&h, p) ? h.ptr : 0;
    struct containing_ctx ctx = {p, 0};
    handle_for_each_shard(containing_cb, &ctx);
    return ctx.found;
}

GS_API int gs_ignore(void *block)
{
    if (!usable())
        return fail(ENOSYS);
    tls.in_shim++; /* a signal handler's malloc while a shard is locked passes through */
    uintptr_t start = block ? block_containing((uintptr_t)block) : 0;
    tls.in_shim--;
    if (!start || !handle_update(start, HF_IGNORED, 0, UINT32_MAX))
        return fail(EINVAL);
    return 0;
}

GS_API void gs_disable(void) { tls.disabled++; }

GS_API void gs_enable(void)
{
    if (tls.disabled > 0)
        tls.disabled--;
}

GS_API int gs_register_root(const void *p, size_t n)
{
    if (!usable())
        return fail(ENOSYS);
    int err = p ? roots_register((uintptr_t)p, n) : EINVAL;
    return err ? fail(err) : 0;
}

GS_API int gs_unregister_root(const void *p, size_t n)
{
    if (!usable())
        return fail(ENOSYS);
    int err = p ? roots_unregister((uintptr_t)p, n) : EINVAL;
    return err ? fail(err) : 0;
}

GS_API int gs_get_stats(struct gs_stats *out)
{
    if (!out)
        return fail(EINVAL);
    if (!usable())
        return fail(ENOSYS);
    struct handle_totals t;
    handle_totals(&t);
    out->live_blocks = t.live_blocks;
    out->live_bytes = t.live_bytes;
    out->total_allocs = t.total_allocs;
    out->total_frees = t.total_frees;
    out->scans = scan_count();
    scan_last_leaks(&out->leaked_blocks, &out->leaked_bytes);
    out->pending_finalizers = guardian_pending();
    return 0;
}

GS_API gs_owner gs_owner_new(const char *name)
{
    if (!name) {
        errno = EINVAL;
        return 0;
    }
    if (!usable()) {
        errno = ENOSYS;
        return 0;
    }
    gs_owner id = owners_new(name);
    if (!id)
        errno = ENOMEM;
    return id;
}

GS_API gs_owner gs_owner_set(gs_owner owner)
{
    gs_owner prev = tls.owner;
    tls.owner = owner <= OWNERS_MAX ? owner : 0;
    return prev;
}

GS_API int gs_owner_stats(gs_owner owner, struct gs_owner_stats *out)
{
    if (!out || out->size < sizeof(size_t) || !owners_valid(owner))
        return fail(EINVAL);
    struct owner_counts c;
    owners_counts(owner, &c);
    struct gs_owner_stats s = {sizeof s, owners_name(owner), c.live_blocks, c.live_bytes,
                               c.total_allocs, c.total_frees, 0, 0};
    size_t n = out->size < sizeof s ? out->size : sizeof s;
    /* Only a caller with room for them pays for the leak counts. */
    if (n >= offsetof(struct gs_owner_stats, leaked_bytes) + sizeof s.leaked_bytes && usable()) {
        tls.in_shim++;
        owners_leaks(owner, scan_count(), &s.leaked_blocks, &s.leaked_bytes);
        tls.in_shim--;
    }
    __builtin_memcpy(out, &s, n);
    out->size = n;
    return 0;
}

/* ---- LeakSanitizer's interface (sanitizer/lsan_interface.h) ---- */

GS_EXPORT void __lsan_ignore_object(const void *p);
GS_EXPORT void __lsan_register_root_region(const void *p, size_t size);
GS_EXPORT void __lsan_unregister_root_region(const void *p, size_t size);
GS_EXPORT void __lsan_disable(void);
GS_EXPORT void __lsan_enable(void);
GS_EXPORT void __lsan_do_leak_check(void);
GS_EXPORT int __lsan_do_recoverable_leak_check(void);

void __lsan_ignore_object(const void *p) { gs_ignore((void *)p); }
void __lsan_register_root_region(const void *p, size_t size) { gs_register_root(p, size); }
void __lsan_unregister_root_region(const void *p, size_t size) { gs_unregister_root(p, size); }
void __lsan_disable(void) { gs_disable(); }
void __lsan_enable(void) { gs_enable(); }

static uintptr_t final_cb(uintptr_t sp, void *arg)
{
    (void)arg;
    check_final(sp);
    return 0;
}

/* A final check now; the exit check is then skipped (check_final runs once). */
void __lsan_do_leak_check(void)
{
    if (usable())
        arch_call_with_regs_saved(final_cb, NULL);
}

int __lsan_do_recoverable_leak_check(void) { return gs_check_leaks() ? 1 : 0; }
