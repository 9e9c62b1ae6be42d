/* SPDX-License-Identifier: MIT
 * dirty.c: dirty-page tracking for the concurrent mark (dirty.h).
 * The uapi of Linux >= 6.7 is declared here: Debian 12's headers (6.1)
 * lack PAGEMAP_SCAN and the asynchronous write-protect features.
 * allocates: sys_map. STW: dirty_collect (plain syscalls only). */
#define _GNU_SOURCE
#include "dirty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

struct gs_page_region {
    uint64_t start, end, categories;
};

struct gs_pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define GS_PAGEMAP_SCAN _IOWR('f', 16, struct gs_pm_scan_arg)
#define GS_PAGE_IS_WRITTEN (1 << 1)
#define GS_PAGE_IS_PRESENT (1 << 3)
#define GS_PAGE_IS_PFNZERO (1 << 5)
#define GS_PM_SCAN_WP_MATCHING (1 << 0)
#define GS_PM_SCAN_CHECK_WPASYNC (1 << 1)

#define PAGE 4096ul
#define SOFT_DIRTY_BIT (1ull << 55)
#define VEC_REGIONS 4096
#define PAGEMAP_CHUNK 8192 /* entries per pread: 32 MiB of address space */

static int sys_open(const char *path, int flags)
{
    long fd = syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC);
    return fd < 0 ? -1 : (int)fd;
}

static void sys_close_fd(int fd)
{
    if (fd >= 0)
        syscall(SYS_close, fd);
}

/* Moves a descriptor the shim keeps away from the lowest numbers, which a
 * program that closed 0-2 (a daemon) expects its next open() to reuse.
 * 1024, or half the limit when that is lower: a far higher number would
 * grow the process's descriptor table (with limits of 2^20, 8 MiB). */
static int move_high(int fd)
{
    struct rlimit lim;
    if (fd < 0 || syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim) != 0)
        return fd;
    long at = lim.rlim_cur > 1088 ? 1024 : (long)(lim.rlim_cur / 2);
    if (fd >= at)
        return fd;
    long moved = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, at);
    if (moved < 0)
        return fd;
    sys_close_fd(fd);
    return (int)moved;
}

static int uffd_open(void)
{
    long fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd < 0 && errno == EINVAL) /* a kernel older than 5.11 */
        fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
    if (syscall(SYS_ioctl, (int)fd, UFFDIO_API, &api) != 0 ||
        (api.features & UFFD_FEATURE_WP_ASYNC) == 0) {
        sys_close_fd((int)fd);
        return -1;
    }
    return move_high((int)fd);
}

static int uffd_register(int uffd, uintptr_t lo, uintptr_t hi)
{
    struct uffdio_register reg = {.range = {.start = lo, .len = hi - lo},
                                  .mode = UFFDIO_REGISTER_MODE_WP};
    return syscall(SYS_ioctl, uffd, UFFDIO_REGISTER, &reg) == 0 ? 0 : errno;
}

/* One PAGEMAP_SCAN pass over [lo, hi) for written pages; `protect` makes
 * them read-only again. `absent`: also the pages not present (discarded
 * with MADV_DONTNEED or MADV_FREE, or swapped out) and those mapping the
 * zero page: their contents may have changed with no write. Reports runs
 * to fn when `vec` is given. */
static int scan_written(int pagemap, uintptr_t lo, uintptr_t hi, bool protect, bool absent,
                        struct gs_page_region *vec, size_t vec_len,
                        void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx)
{
    const uint64_t any = GS_PAGE_IS_WRITTEN | GS_PAGE_IS_PRESENT | GS_PAGE_IS_PFNZERO;
    while (lo < hi) {
        struct gs_pm_scan_arg a = {.size = sizeof a,
                                   .flags = GS_PM_SCAN_CHECK_WPASYNC |
                                            (protect ? GS_PM_SCAN_WP_MATCHING : 0),
                                   .start = lo,
                                   .end = hi,
                                   .vec = (uintptr_t)vec,
                                   .vec_len = vec ? vec_len : 0,
                                   .category_mask = absent ? 0 : GS_PAGE_IS_WRITTEN,
                                   .return_mask = absent ? any : GS_PAGE_IS_WRITTEN};
        if (absent) { /* written, or not present, or the zero page */
            a.category_inverted = GS_PAGE_IS_PRESENT;
            a.category_anyof_mask = any;
        }
        long got = syscall(SYS_ioctl, pagemap, GS_PAGEMAP_SCAN, &a);
        if (got < 0)
            return errno ? errno : EIO;
        for (long i = 0; fn && i < got; i++)
            fn(ctx, vec[i].start, vec[i].end);
        if (a.walk_end <= lo)
            return EIO; /* no progress: do not spin */
        lo = a.walk_end;
    }
    return 0;
}

static bool probe_uffd(void)
{
    int uffd = uffd_open();
    if (uffd < 0)
        return false;
    bool ok = false;
    int pm = sys_open("/proc/self/pagemap", O_RDONLY);
    volatile char *page = sys_map(PAGE, false);
    if (pm >= 0 && page && uffd_register(uffd, (uintptr_t)page, (uintptr_t)page + PAGE) == 0 &&
        scan_written(pm, (uintptr_t)page, (uintptr_t)page + PAGE, true, false, NULL, 0, NULL,
                     NULL) == 0) {
        struct gs_page_region r[2];
        size_t seen = 0;
        page[0] = 1;
        struct gs_pm_scan_arg a = {.size = sizeof a,
                                   .flags = GS_PM_SCAN_CHECK_WPASYNC,
                                   .start = (uintptr_t)page,
                                   .end = (uintptr_t)page + PAGE,
                                   .vec = (uintptr_t)r,
                                   .vec_len = 2,
                                   .category_mask = GS_PAGE_IS_WRITTEN,
                                   .return_mask = GS_PAGE_IS_WRITTEN};
        long got = syscall(SYS_ioctl, pm, GS_PAGEMAP_SCAN, &a);
        seen = got == 1 ? (size_t)(r[0].end - r[0].start) : 0;
        ok = seen == PAGE;
    }
    sys_close_fd(pm);
    sys_close_fd(uffd); /* unregisters */
    sys_unmap((void *)page, PAGE);
    return ok;
}

static int clear_soft_dirty(void)
{
    int fd = sys_open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0)
        return errno ? errno : EIO;
    long w = syscall(SYS_write, fd, "4", 1);
    int err = w == 1 ? 0 : (errno ? errno : EIO);
    sys_close_fd(fd);
    return err;
}

static bool probe_soft_dirty(void)
{
    volatile char *page = sys_map(PAGE, false);
    int pm = sys_open("/proc/self/pagemap", O_RDONLY);
    bool ok = false;
    if (page && pm >= 0) {
        page[0] = 1;
        if (clear_soft_dirty() == 0) {
            page[0] = 2;
            uint64_t e = 0;
            off_t off = (off_t)((uintptr_t)page / PAGE * 8);
            ok = syscall(SYS_pread64, pm, &e, 8, off) == 8 && (e & SOFT_DIRTY_BIT);
        }
    }
    sys_close_fd(pm);
    sys_unmap((void *)page, PAGE);
    return ok;
}

static struct {
    atomic_int how; /* enum dirty_how + 1, 0 = not probed */
} probe;

enum dirty_how dirty_probe(void)
{
    int h = atomic_load(&probe.how);
    if (h)
        return (enum dirty_how)(h - 1);
    enum dirty_how how = probe_uffd() ? DIRTY_UFFD : probe_soft_dirty() ? DIRTY_SOFT : DIRTY_NONE;
    atomic_store(&probe.how, (int)how + 1);
    return how;
}

static int add_range(struct dirty *d, uintptr_t lo, uintptr_t hi)
{
    if (d->n == d->cap) {
        size_t ncap = d->cap ? 2 * d->cap : 256;
        struct root_range *nr = sys_map(ncap * sizeof *nr, false);
        if (!nr)
            return ENOMEM;
        for (size_t i = 0; i < d->n; i++)
            nr[i] = d->ranges[i];
        sys_unmap(d->ranges, d->cap * sizeof *nr);
        d->ranges = nr;
        d->cap = ncap;
    }
    d->ranges[d->n++] = (struct root_range){lo, hi};
    return 0;
}

/* Sets d->ranges to the pieces of `maps` writes to which are tracked: every
 * private anonymous writable mapping minus the excluded ranges (the kernel
 * merges adjacent mappings, so one may hold both heap chunks and the
 * shim's own memory: the gaps are tracked). With userfaultfd each piece is
 * registered; registering a piece this uffd already holds changes nothing,
 * and a new piece's populated pages read as written until protected. */
static int track_pieces(struct dirty *d, const struct mapping *maps, size_t n_maps,
                        const struct root_range *excl, size_t n_excl)
{
    int err = 0;
    size_t x = 0;
    d->n = 0;
    for (size_t i = 0; !err && i < n_maps; i++) {
        const struct mapping *m = &maps[i];
        if (!(m->anon || m->brk_heap) || !m->readable || !m->writable)
            continue;
        for (uintptr_t cur = m->lo; !err && cur < m->hi;) {
            while (x < n_excl && excl[x].hi <= cur)
                x++;
            uintptr_t end = x < n_excl && excl[x].lo < m->hi ? GS_MAX(excl[x].lo, cur) : m->hi;
            if (end > cur &&
                (d->how != DIRTY_UFFD || uffd_register(d->uffd, cur, end) == 0))
                err = add_range(d, cur, end); /* else untracked: cmark checks no block is there */
            cur = x < n_excl && excl[x].lo < m->hi ? GS_MAX(excl[x].hi, cur) : m->hi;
        }
    }
    return err;
}

/* The per-scan resources: the pagemap descriptor and the read buffer. */
static int open_scan(struct dirty *d)
{
    d->buf_bytes = d->how == DIRTY_UFFD ? VEC_REGIONS * sizeof(struct gs_page_region)
                                        : PAGEMAP_CHUNK * sizeof(uint64_t);
    d->buf = sys_map(d->buf_bytes, false);
    d->pagemap = move_high(sys_open("/proc/self/pagemap", O_RDONLY));
    return !d->buf ? ENOMEM : d->pagemap < 0 ? ENOTSUP : 0;
}

static void close_scan(struct dirty *d)
{
    sys_close_fd(d->pagemap);
    d->pagemap = -1;
    sys_unmap(d->buf, d->buf_bytes);
    d->buf = NULL;
    d->buf_bytes = 0;
}

int dirty_begin(struct dirty *d, const struct mapping *maps, size_t n_maps,
                const struct root_range *excl, size_t n_excl)
{
    *d = (struct dirty){.how = dirty_probe(), .uffd = -1, .pagemap = -1};
    if (d->how == DIRTY_NONE)
        return ENOTSUP;
    int err = open_scan(d);
    if (!err && d->how == DIRTY_UFFD && (d->uffd = uffd_open()) < 0)
        err = ENOTSUP;
    if (!err)
        err = track_pieces(d, maps, n_maps, excl, n_excl);
    if (!err && d->how == DIRTY_UFFD) {
        for (size_t i = 0; !err && i < d->n; i++)
            err = scan_written(d->pagemap, d->ranges[i].lo, d->ranges[i].hi, true, false, NULL,
                               0, NULL, NULL);
    } else if (!err) {
        err = clear_soft_dirty();
    }
    if (err)
        dirty_end(d);
    return err;
}

/* Whether d->uffd is still the userfaultfd we opened: the program may have
 * closed it (a daemon closing every descriptor) and the number may now
 * name a file of its own, which must be neither ioctl'ed nor closed. */
static bool uffd_ours(const struct dirty *d)
{
    static const char want[] = "anon_inode:[userfaultfd]";
    char path[40], link[sizeof want + 8];
    if (d->uffd < 0)
        return false;
    snprintf(path, sizeof path, "/proc/self/fd/%d", d->uffd);
    long got = syscall(SYS_readlinkat, AT_FDCWD, path, link, sizeof link);
    return got == (long)sizeof want - 1 && memcmp(link, want, sizeof want - 1) == 0;
}

int dirty_resume(struct dirty *d, const struct mapping *maps, size_t n_maps,
                 const struct root_range *excl, size_t n_excl)
{
    if (d->how != DIRTY_UFFD || !uffd_ours(d)) {
        d->uffd = -1; /* not ours (any more): forget it, close nothing */
        return EBADF;
    }
    int err = open_scan(d);
    if (!err)
        err = track_pieces(d, maps, n_maps, excl, n_excl);
    return err;
}

void dirty_suspend(struct dirty *d) { close_scan(d); }

bool dirty_tracked(const struct dirty *d, uintptr_t lo, uintptr_t hi)
{
    size_t a = 0, b = d->n;
    while (a < b) { /* the first range ending after lo */
        size_t mid = a + (b - a) / 2;
        if (d->ranges[mid].hi <= lo)
            a = mid + 1;
        else
            b = mid;
    }
    /* maps are sorted and adjacent ranges may continue each other */
    for (uintptr_t cur = lo; a < d->n && d->ranges[a].lo <= cur; a++) {
        cur = d->ranges[a].hi;
        if (cur >= hi)
            return true;
    }
    return false;
}

static int collect_soft(struct dirty *d, void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi),
                        void *ctx)
{
    uint64_t *e = d->buf;
    for (size_t r = 0; r < d->n; r++) {
        uintptr_t run_lo = 0;
        for (uintptr_t lo = d->ranges[r].lo; lo < d->ranges[r].hi;) {
            size_t pages = GS_MIN((d->ranges[r].hi - lo) / PAGE, (size_t)PAGEMAP_CHUNK);
            long got = syscall(SYS_pread64, d->pagemap, e, pages * 8, (off_t)(lo / PAGE * 8));
            if (got != (long)(pages * 8))
                return got < 0 ? errno : EIO;
            for (size_t k = 0; k < pages; k++, lo += PAGE) {
                bool dirty = e[k] & SOFT_DIRTY_BIT;
                if (dirty && !run_lo)
                    run_lo = lo;
                else if (!dirty && run_lo) {
                    fn(ctx, run_lo, lo);
                    run_lo = 0;
                }
            }
        }
        if (run_lo)
            fn(ctx, run_lo, d->ranges[r].hi);
    }
    return 0;
}

static int collect_uffd(struct dirty *d, bool restart, bool absent,
                        void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx)
{
    for (size_t r = 0; r < d->n; r++) {
        int err = scan_written(d->pagemap, d->ranges[r].lo, d->ranges[r].hi, restart, absent,
                               d->buf, VEC_REGIONS, fn, ctx);
        if (err)
            return err;
    }
    return 0;
}

int dirty_collect(struct dirty *d, bool restart,
                  void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi), void *ctx)
{
    if (d->how == DIRTY_SOFT)
        return restart ? ENOTSUP : collect_soft(d, fn, ctx);
    return collect_uffd(d, restart, false, fn, ctx);
}

int dirty_collect_changed(struct dirty *d, void (*fn)(void *ctx, uintptr_t lo, uintptr_t hi),
                          void *ctx)
{
    return d->how == DIRTY_UFFD ? collect_uffd(d, true, true, fn, ctx) : ENOTSUP;
}

void dirty_end(struct dirty *d)
{
    if (d->uffd >= 0 && uffd_ours(d)) {
        for (size_t i = 0; i < d->n; i++) {
            struct uffdio_range r = {.start = d->ranges[i].lo,
                                     .len = d->ranges[i].hi - d->ranges[i].lo};
            syscall(SYS_ioctl, d->uffd, UFFDIO_UNREGISTER, &r);
        }
        sys_close_fd(d->uffd);
    }
    close_scan(d);
    sys_unmap(d->ranges, d->cap * sizeof *d->ranges);
    *d = (struct dirty){.how = DIRTY_NONE, .uffd = -1, .pagemap = -1};
}

void dirty_drop_inherited(struct dirty *d)
{
    if (uffd_ours(d))
        sys_close_fd(d->uffd); /* the child's copy: the parent keeps tracking */
    close_scan(d);
    sys_unmap(d->ranges, d->cap * sizeof *d->ranges);
    *d = (struct dirty){.how = DIRTY_NONE, .uffd = -1, .pagemap = -1};
}
