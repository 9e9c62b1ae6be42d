/* SPDX-License-Identifier: MIT
 * sys.c: raw syscalls and the table of the shim's own mappings.
 * locks: `maps.lock` (a spin lock) around the mapping table.
 * STW: yes (everything here is a plain syscall). allocates: no.
 * async-signal-safe: yes, except sys_map/sys_unmap (a spin lock, which
 * the scanning thread holds through the stop: see sys_hold_maps). */
#define _GNU_SOURCE
#include "sys.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"

#define MAX_OWN_MAPS 16384

/* Invariant: ranges[0..n) are the live sys_map mappings, unordered.
 * A scan holds `lock` across the stopped world (sys_hold_maps), so that no
 * stopped thread can be inside it; the holder maps and unmaps freely. */
static struct {
    struct spinlock lock;
    atomic_int holder; /* tid of the thread holding `lock` through sys_hold_maps */
    unsigned n;
    struct { uintptr_t lo, hi; } ranges[MAX_OWN_MAPS];
} maps;

static bool lock_maps(void)
{
    if (atomic_load(&maps.holder) == sys_gettid())
        return false;
    spin_lock(&maps.lock);
    return true;
}

void sys_hold_maps(void)
{
    spin_lock(&maps.lock);
    atomic_store(&maps.holder, sys_gettid());
}

void sys_release_maps(void)
{
    atomic_store(&maps.holder, 0);
    spin_unlock(&maps.lock);
}

static size_t round_pages(size_t len)
{
    size_t ps = sys_page_size();
    return (len + ps - 1) & ~(ps - 1);
}

void sys_adopt_maps(void) { atomic_store(&maps.holder, sys_gettid()); }

static void *map_flags(size_t len, int flags);

void *sys_map(size_t len, bool noreserve)
{
    return map_flags(len, MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0));
}

void *sys_map_filled(size_t len)
{
    return map_flags(len, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE);
}

void *sys_map_shared(size_t len)
{
    return map_flags(len, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE);
}

static void *map_flags(size_t len, int flags)
{
    len = round_pages(len);
    void *p = (void *)syscall(SYS_mmap, NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    bool locked = lock_maps();
    if (maps.n < MAX_OWN_MAPS) {
        maps.ranges[maps.n].lo = (uintptr_t)p;
        maps.ranges[maps.n].hi = (uintptr_t)p + len;
        maps.n++;
    }
    if (locked)
        spin_unlock(&maps.lock);
    return p;
}

void sys_unmap(void *p, size_t len)
{
    if (!p)
        return;
    len = round_pages(len);
    bool locked = lock_maps();
    for (unsigned i = 0; i < maps.n; i++) {
        if (maps.ranges[i].lo == (uintptr_t)p) {
            maps.ranges[i] = maps.ranges[--maps.n];
            break;
        }
    }
    if (locked)
        spin_unlock(&maps.lock);
    syscall(SYS_munmap, p, len);
}

void sys_for_each_map(void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx), void *ctx)
{
    for (unsigned i = 0; i < maps.n; i++)
        fn(maps.ranges[i].lo, maps.ranges[i].hi, ctx);
}

pid_t sys_gettid(void) { return (pid_t)syscall(SYS_gettid); }
pid_t sys_getpid(void) { return (pid_t)syscall(SYS_getpid); }

int sys_tgkill(pid_t tgid, pid_t tid, int sig)
{
    return syscall(SYS_tgkill, tgid, tid, sig) == 0 ? 0 : errno;
}

int sys_futex_wait(int *addr, int val, long timeout_ns)
{
    struct timespec ts = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
    long r = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, val, timeout_ns >= 0 ? &ts : NULL,
                     NULL, 0);
    return r == 0 ? 0 : errno;
}

void sys_futex_wake(int *addr, int n)
{
    syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

double sys_now_ms(void)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double sys_thread_cpu_ms(void)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

size_t sys_page_size(void) { return 4096; }

int sys_read_file(const char *path, char **buf, size_t *len, size_t *cap)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    *len = 0;
    for (;;) {
        if (*len + 4096 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 1 << 16;
            char *nb = sys_map(ncap, false);
            if (!nb) {
                syscall(SYS_close, fd);
                return ENOMEM;
            }
            if (*buf) {
                memcpy(nb, *buf, *len);
                sys_unmap(*buf, *cap);
            }
            *buf = nb;
            *cap = ncap;
        }
        long r = syscall(SYS_read, fd, *buf + *len, *cap - *len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        *len += (size_t)r;
    }
    (*buf)[*len] = 0;
    syscall(SYS_close, fd);
    return 0;
}

long sys_clone_snapshot(void)
{
    long r = syscall(SYS_clone, 0L, NULL, NULL, NULL, 0L);
    return r < 0 ? -errno : r;
}

#define THREAD_STACK (256 * 1024)

int sys_thread_start(struct sys_thread *t, int (*fn)(void *), void *arg)
{
    t->stack_size = THREAD_STACK;
    t->stack = sys_map(t->stack_size, false);
    if (!t->stack)
        return ENOMEM;
    /* The thread starts with the creator's mask: block everything around
     * the clone, so that no signal, the program's or ours, lands on it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    pid_t ptid = 0;
    int r = clone(fn, (char *)t->stack + t->stack_size, flags, arg, &ptid, NULL, &t->tid);
    int err = r < 0 ? errno : 0;
    if (r > 0)
        t->tid = ptid;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        sys_unmap(t->stack, t->stack_size);
        t->stack = NULL;
    }
    return err;
}

void sys_thread_join(struct sys_thread *t)
{
    if (!t->stack)
        return;
    for (pid_t tid; (tid = t->tid) != 0;)
        sys_futex_wait((int *)&t->tid, tid, 1000000); /* the kernel wakes it; bounded anyway */
    sys_unmap(t->stack, t->stack_size);
    t->stack = NULL;
}

unsigned sys_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return (unsigned)CPU_COUNT(&set);
}

int sys_wait_snapshot(long pid)
{
    int status = 0;
    for (;;) {
        long r = syscall(SYS_wait4, (pid_t)pid, &status, __WCLONE, NULL);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

void sys_exit_child(int status)
{
    for (;;)
        syscall(SYS_exit_group, status);
}

void sys_atfork_prepare(void) { spin_lock(&maps.lock); }
void sys_atfork_parent(void) { spin_unlock(&maps.lock); }
void sys_atfork_child(void)
{
    atomic_store(&maps.holder, 0);
    spin_reset(&maps.lock);
}

long sys_read_self(void *dst, uintptr_t src, size_t len)
{
    struct iovec local = {dst, len}, remote = {(void *)src, len};
    long r = syscall(SYS_process_vm_readv, (pid_t)syscall(SYS_getpid), &local, 1UL, &remote, 1UL,
                     0UL);
    if (r >= 0)
        return r;
    return errno == EFAULT ? 0 : -1;
}
