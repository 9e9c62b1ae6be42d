/* SPDX-License-Identifier: MIT
 * shmread.c: the seqlock reader of /dev/shm/guardshim.<pid> (shmread.h).
 * Protocol (preload/shmstats.c is the writer): load seq (acquire); odd =
 * the writer is inside an update, wait; copy the counters; fence; load
 * seq again; accept the copy only when both loads were the same even
 * value. The header (magic, version, size, pid) is written once before
 * magic is published (release), so it is checked first and only once.
 * locks: none (single-threaded tool). allocates: one mmap per read. */
#define _GNU_SOURCE
#include "shmread.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define SETUP_WAIT_MS 1000 /* a segment being created: size 0 or magic 0 */
#define SEQ_TRIES 100000   /* busy retries before nanosleep kicks in */
#define SEQ_WAIT_MS 2000   /* a writer that never finishes (killed mid-update) */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Copies the counters under the seqlock. returns: 0 or SHM_EBUSY. */
static int read_counters(const struct gs_shm_stats *seg, struct gs_shm_counters *out)
{
    long waited_ms = 0;
    for (unsigned long tries = 0;; tries++) {
        uint64_t s1 = __atomic_load_n(&seg->seq, __ATOMIC_ACQUIRE);
        if (!(s1 & 1)) {
            memcpy(out, (const void *)&seg->c, sizeof *out);
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            uint64_t s2 = __atomic_load_n(&seg->seq, __ATOMIC_RELAXED);
            if (s1 == s2)
                return 0;
        }
        if (tries >= SEQ_TRIES) {
            if (waited_ms >= SEQ_WAIT_MS)
                return SHM_EBUSY;
            sleep_ms(1);
            waited_ms++;
        }
    }
}

int shm_read(pid_t pid, struct gs_shm_stats *out)
{
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/guardshim.%d", (int)pid);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SHM_ENOSTATS : errno;
    const size_t need = sizeof(struct gs_shm_stats);
    struct stat st;
    int rc = 0;
    for (long waited = 0;; waited += 10) {
        if (fstat(fd, &st) != 0) {
            rc = errno;
            break;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = SHM_EBADMAGIC;
            break;
        }
        if ((size_t)st.st_size >= 24 + sizeof(uint64_t))
            break;
        if (waited >= SETUP_WAIT_MS) { /* never sized: not ours, or its writer died */
            rc = SHM_EBADMAGIC;
            break;
        }
        sleep_ms(10);
    }
    if (rc) {
        close(fd);
        return rc;
    }
    size_t map_len = (size_t)st.st_size;
    const struct gs_shm_stats *seg = mmap(NULL, map_len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (seg == MAP_FAILED)
        return errno;
    uint32_t magic = 0;
    for (long waited = 0;; waited += 10) {
        magic = __atomic_load_n(&seg->magic, __ATOMIC_ACQUIRE);
        if (magic || waited >= SETUP_WAIT_MS)
            break;
        sleep_ms(10);
    }
    if (magic != GS_SHM_MAGIC)
        rc = SHM_EBADMAGIC;
    /* Fields are only appended, each append bumps the version: a newer
     * writer's segment starts with ours. */
    else if (seg->version < 1 || seg->size < need || seg->size > map_len || map_len < need)
        rc = SHM_EVERSION;
    else {
        memcpy(out, seg, offsetof(struct gs_shm_stats, seq));
        out->seq = 0;
        rc = read_counters(seg, &out->c);
        if (out->c.n_sites > GS_SHM_SITES)
            out->c.n_sites = GS_SHM_SITES;
        for (unsigned i = 0; i < out->c.n_sites; i++) {
            out->c.sites[i].function[GS_SHM_NAME_MAX - 1] = 0;
            out->c.sites[i].file[GS_SHM_NAME_MAX - 1] = 0;
        }
    }
    munmap((void *)seg, map_len);
    return rc;
}

const char *shm_strerror(int err, pid_t pid)
{
    static char msg[256];
    switch (err) {
    case SHM_ENOSTATS:
        snprintf(msg, sizeof msg,
                 "no stats for %d (is it running with GUARDSHIM_OPTIONS=shm_stats=1?)", (int)pid);
        break;
    case SHM_EBADMAGIC:
        snprintf(msg, sizeof msg, "/dev/shm/guardshim.%d is not a guardshim stats segment",
                 (int)pid);
        break;
    case SHM_EVERSION:
        snprintf(msg, sizeof msg,
                 "/dev/shm/guardshim.%d has a layout this guardshim does not know (version or "
                 "size)",
                 (int)pid);
        break;
    case SHM_EBUSY:
        snprintf(msg, sizeof msg,
                 "/dev/shm/guardshim.%d: the writer never finished an update (process killed?)",
                 (int)pid);
        break;
    default:
        snprintf(msg, sizeof msg, "/dev/shm/guardshim.%d: %s", (int)pid, strerror(err));
        break;
    }
    return msg;
}

bool shm_pid_alive(pid_t pid)
{
    return kill(pid, 0) == 0 || errno == EPERM;
}

bool shm_parse_pid(const char *s, pid_t *pid)
{
    uint64_t v;
    if (!util_parse_uint(s, INT32_MAX, &v) || v == 0)
        return false;
    *pid = (pid_t)v;
    return true;
}
