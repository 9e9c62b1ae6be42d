/* SPDX-License-Identifier: MIT
 * shmstats.c: the shared-memory stats writer (shmstats.h).
 * Seqlock protocol: seq odd while writing; a reader copies the counters,
 * then accepts the copy only if seq was even and unchanged around it.
 * A seqlock has one writer at a time: the stats tick (checker thread) and
 * checks (exit, API, periodic) both publish, so every write of `shm.pending`
 * and of the segment happens under `shm.lock`. Readers take no lock.
 * The fd is closed right after mmap: programs that close every fd do not
 * break it. A fork child publishes nothing (shmstats.h).
 * locks: `shm.lock`, a leaf (lock.h): held only to fill the counters and
 * copy them, never while symbolising or taking another lock.
 * STW: no. allocates: the mapping. */
#define _GNU_SOURCE
#include "shmstats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "depot.h"
#include "handle.h"
#include "lock.h"
#include "log.h"
#include "modules.h"
#include "options.h"
#include "scan.h"
#include "shm_layout.h"
#include "sites.h"
#include "symbolize.h"

/* `seg` is set before the checker thread starts and cleared under `lock`
 * at exit; everything else is written under `lock` only. */
static struct {
    struct spinlock lock;
    struct gs_shm_stats *seg;
    char path[64];
    struct gs_shm_counters pending; /* built here, copied in whole */
    double last_ms;
    uint64_t last_allocs, last_frees;
} shm;

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool shmstats_enabled(void) { return __atomic_load_n(&shm.seg, __ATOMIC_RELAXED) != NULL; }

/* The file is always a new one (O_EXCL, O_NOFOLLOW, 0600): nothing planted
 * at the name is followed or reused. A stale file of ours (an earlier
 * process with this pid) is unlinked first, which removes only that name
 * (never a file it is a link to); anything else is refused with one line. */
int shmstats_open(void)
{
    snprintf(shm.path, sizeof shm.path, "/dev/shm/guardshim.%d", (int)getpid());
    const int flags = O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(shm.path, flags, 0600);
    const char *refused = NULL;
    struct stat st;
    if (fd < 0 && errno == EEXIST && lstat(shm.path, &st) == 0) {
        if (S_ISLNK(st.st_mode))
            refused = "it is a symbolic link";
        else if (!S_ISREG(st.st_mode))
            refused = "it is not a regular file";
        else if (st.st_uid != geteuid())
            refused = "it belongs to another user";
        else if (unlink(shm.path) == 0)
            fd = open(shm.path, flags, 0600);
    }
    if (fd < 0) {
        int err = errno;
        if (refused) {
            log_error("shm_stats: cannot create %s: %s (refused)", shm.path, refused);
            return EEXIST;
        }
        log_error("shm_stats: cannot create %s: %s", shm.path, strerror(err));
        return err;
    }
    size_t size = sizeof *shm.seg;
    void *p = ftruncate(fd, (off_t)size) == 0
                  ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    int err = p == MAP_FAILED ? errno : 0;
    close(fd);
    if (err) {
        unlink(shm.path);
        log_error("shm_stats: cannot map %s: %s", shm.path, strerror(err));
        return err;
    }
    shm.seg = p;
    shm.seg->size = size;
    shm.seg->pid = (int32_t)getpid();
    shm.seg->version = GS_SHM_VERSION;
    __atomic_store_n(&shm.seg->magic, GS_SHM_MAGIC, __ATOMIC_RELEASE);
    shm.last_ms = 0;
    shmstats_publish();
    return 0;
}

/* Fills the live counters and copies them into the segment under the
 * seqlock. pre: `shm.lock`, `shm.seg` set. */
static void publish_locked(void)
{
    struct handle_totals t;
    handle_totals(&t);
    struct gs_shm_counters *c = &shm.pending;
    double now = (double)unix_ms();
    double dt = shm.last_ms ? (now - shm.last_ms) / 1e3 : 0;
    /* Rates over at least half a second: a publish right after another
     * (a scan's, then the tick's) keeps the previous rates. */
    if (dt >= 0.5 || !shm.last_ms) {
        c->allocs_per_s = dt > 0 ? (double)(t.total_allocs - shm.last_allocs) / dt : 0;
        c->frees_per_s = dt > 0 ? (double)(t.total_frees - shm.last_frees) / dt : 0;
        shm.last_ms = now;
        shm.last_allocs = t.total_allocs;
        shm.last_frees = t.total_frees;
    }
    c->live_blocks = t.live_blocks;
    c->live_bytes = t.live_bytes;
    c->total_allocs = t.total_allocs;
    c->total_frees = t.total_frees;
    c->scans = scan_count();
    c->updated_unix_ms = (uint64_t)now;
    uint64_t seq = __atomic_load_n(&shm.seg->seq, __ATOMIC_RELAXED);
    __atomic_store_n(&shm.seg->seq, seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(&shm.seg->c, c, sizeof *c);
    __atomic_store_n(&shm.seg->seq, seq + 2, __ATOMIC_RELEASE);
}

void shmstats_publish(void)
{
    spin_lock(&shm.lock);
    if (shm.seg)
        publish_locked();
    spin_unlock(&shm.lock);
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, GS_SHM_NAME_MAX, "%s", src ? src : "");
}

void shmstats_after_scan(const struct scan_result *r, size_t leaked_blocks, size_t leaked_bytes)
{
    if (!shmstats_enabled())
        return;
    /* Named outside the lock: symbolising calls libdw. */
    struct gs_shm_site sites[GS_SHM_SITES];
    struct growth_site top[GS_SHM_SITES];
    size_t n = sites_top(top, GS_SHM_SITES);
    symbolize_begin();
    for (size_t i = 0; i < n; i++) {
        struct gs_shm_site *s = &sites[i];
        memset(s, 0, sizeof *s);
        s->live_bytes = top[i].bytes;
        s->live_blocks = top[i].blocks;
        s->stack_id = top[i].stack;
        const uintptr_t *pcs;
        const uint16_t *mods;
        unsigned nf = depot_get(top[i].stack, &pcs, &mods);
        unsigned k = nf > 1 ? 1 : 0; /* frame 1: the program's allocating function */
        if (nf) {
            struct sym_frame f;
            symbolize_pc(mods[k], pcs[k], k > 0, &f);
            copy_name(s->function, f.function);
            copy_name(s->file, f.file);
            s->line = f.line;
        }
    }
    symbolize_end();
    spin_lock(&shm.lock);
    if (shm.seg) {
        struct gs_shm_counters *c = &shm.pending;
        c->leaked_blocks = leaked_blocks;
        c->leaked_bytes = leaked_bytes;
        c->last_scan_ms = r->scan_ms;
        c->last_scan_unix_ms = unix_ms();
        memcpy(c->sites, sites, n * sizeof *sites);
        c->n_sites = (uint32_t)n;
        publish_locked();
    }
    spin_unlock(&shm.lock);
}

void shmstats_close(void)
{
    /* Under the lock: the stats tick may be publishing right now. */
    spin_lock(&shm.lock);
    struct gs_shm_stats *seg = shm.seg;
    __atomic_store_n(&shm.seg, NULL, __ATOMIC_RELAXED);
    spin_unlock(&shm.lock);
    if (!seg)
        return;
    unlink(shm.path);
    munmap(seg, sizeof *seg);
}

/* The child's copy of the parent's segment is the parent's to write: drop
 * it. No segment of its own either: nothing would keep it current (no
 * checker thread in a fork child, live.c), and a child ending in _exit
 * (the usual end of a fork child) could not remove it. After exec the
 * shim starts afresh and publishes for the new program. */
void shmstats_atfork_child(void)
{
    spin_reset(&shm.lock);
    if (!shm.seg)
        return;
    munmap(shm.seg, sizeof *shm.seg);
    shm.seg = NULL;
    memset(&shm.pending, 0, sizeof shm.pending);
}
