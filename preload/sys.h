/* SPDX-License-Identifier: MIT
 * sys.h: the one place that talks to the kernel directly. Raw syscalls
 * only: no libc locks, no allocation, async-signal-safe, usable while the
 * world is stopped. Functions return 0 or a positive errno value. */
#ifndef GS_SYS_H
#define GS_SYS_H

#include <sys/types.h>

#include "common.h"

/* Anonymous read-write mapping of `len` bytes (rounded up to pages), or
 * NULL. The range is recorded so that roots.c can exclude the shim's own
 * memory from the scan. `noreserve` maps lazily-touched index memory. */
void *sys_map(size_t len, bool noreserve);
/* Like sys_map, for memory about to be written whole: the kernel faults
 * it in at once (MAP_POPULATE), about twice as cheap as a fault per page
 * (240 MiB: 81 ms against 142 ms here). */
void *sys_map_filled(size_t len);
/* Like sys_map, but shared with a child made by sys_clone_snapshot. */
void *sys_map_shared(size_t len);
void sys_unmap(void *p, size_t len);
/* Calls fn(lo, hi, ctx) for every mapping made by sys_map.
 * locks: none (reads a table that only grows under the caller's locks;
 * call it with the world stopped or under the scan lock). */
void sys_for_each_map(void (*fn)(uintptr_t lo, uintptr_t hi, void *ctx), void *ctx);

/* Taken by a scan before it stops the world and released after it
 * resumes: no stopped thread can then be inside sys_map, and the scanning
 * thread maps without the lock. */
void sys_hold_maps(void);
void sys_release_maps(void);
/* In a snapshot child: this (new) thread becomes the holder. */
void sys_adopt_maps(void);

/* Copies [src, src+len) of this process into dst through the kernel
 * (process_vm_readv): a page that is gone or protected ends the copy
 * instead of faulting. returns: bytes copied (0 when the first page is
 * gone), or -1 when the kernel refuses the call (seccomp, old kernel). */
long sys_read_self(void *dst, uintptr_t src, size_t len);

/* A copy-on-write child of this process that runs only the calling
 * thread: a raw clone, so no atfork handler runs, and with no exit signal,
 * so the program's SIGCHLD handling and waitpid(-1) never see it.
 * returns: the child's pid in the parent, 0 in the child, -errno. */
long sys_clone_snapshot(void);
/* Waits for such a child. returns: its exit status, or -1. */
int sys_wait_snapshot(long pid);
/* Ends a snapshot child at once (no atexit, no stdio). */
__attribute__((noreturn)) void sys_exit_child(int status);

/* A bare thread of this process for the shim's own computation (a second
 * marker while the world is stopped): its stack is mapped here, every
 * signal is blocked in it, and it has no TLS of its own, so `fn` must not
 * touch TLS or errno (it runs on the creator's). */
struct sys_thread {
    void *stack;
    size_t stack_size;
    volatile pid_t tid; /* cleared by the kernel when the thread ends */
};
/* returns: 0 or errno. */
int sys_thread_start(struct sys_thread *t, int (*fn)(void *), void *arg);
/* Waits for the thread to end and releases its stack. */
void sys_thread_join(struct sys_thread *t);
/* CPUs this thread may run on. */
unsigned sys_cpus(void);

pid_t sys_gettid(void);
pid_t sys_getpid(void);
int sys_tgkill(pid_t tgid, pid_t tid, int sig);
int sys_futex_wait(int *addr, int val, long timeout_ns);
void sys_futex_wake(int *addr, int n);
double sys_now_ms(void);
/* CPU time of the calling thread (user and system). */
double sys_thread_cpu_ms(void);
size_t sys_page_size(void);

/* Reads a whole file (e.g. /proc/self/maps) into a sys_map'd buffer that
 * grows as needed; *len is the byte count. The caller sys_unmap's *cap
 * bytes. returns: 0 or errno. */
int sys_read_file(const char *path, char **buf, size_t *len, size_t *cap);

void sys_atfork_prepare(void);
void sys_atfork_parent(void);
void sys_atfork_child(void);

#endif
