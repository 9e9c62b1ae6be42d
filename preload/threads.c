/* SPDX-License-Identifier: MIT
 * threads.c: the thread registry and the pthread_create wrapper that feeds
 * it. The wrapper runs the program's start routine through a trampoline
 * that records the thread's stack (pthread_getattr_np) and, through a
 * pthread key destructor, marks it dead and releases its stack cache.
 * Records are deduplicated by stack range, so glibc's stack cache keeps
 * the registry bounded.
 * locks: `reg.lock`. STW: no (the scan reads a copy made before the stop).
 * allocates: arena (trampolines). */
#define _GNU_SOURCE
#include "threads.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "arena.h"
#include "common.h"
#include "init.h"
#include "lock.h"
#include "sys.h"
#include "tstate.h"
#include "unwind.h"

#define MAX_THREAD_RECS 16384

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct trampoline {
    void *(*fn)(void *);
    void *arg;
};

static struct {
    struct spinlock lock;
    create_fn real_create;
    pthread_key_t exit_key;
    bool key_ok;
    unsigned n;
    struct thread_rec recs[MAX_THREAD_RECS];
} reg;

static void record(pid_t tid, uintptr_t lo, uintptr_t hi)
{
    spin_lock(&reg.lock);
    unsigned slot = reg.n;
    for (unsigned i = 0; i < reg.n; i++) {
        if (reg.recs[i].stack_lo == lo && reg.recs[i].stack_hi == hi) {
            slot = i;
            break;
        }
        if (slot == reg.n && reg.recs[i].tid == 0 && reg.n == MAX_THREAD_RECS)
            slot = i; /* full: reuse a dead record */
    }
    if (slot < MAX_THREAD_RECS) {
        reg.recs[slot] = (struct thread_rec){tid, lo, hi};
        if (slot == reg.n)
            reg.n++;
    }
    spin_unlock(&reg.lock);
}

static void thread_exit_cb(void *arg)
{
    (void)arg;
    pid_t tid = sys_gettid();
    spin_lock(&reg.lock);
    for (unsigned i = 0; i < reg.n; i++)
        if (reg.recs[i].tid == tid)
            reg.recs[i].tid = 0;
    spin_unlock(&reg.lock);
    tls.in_shim++;
    unwind_thread_exit();
    tls.in_shim--;
}

static void *thread_start(void *p)
{
    struct trampoline t = *(struct trampoline *)p;
    tls.in_shim++; /* a signal handler that mallocs must not meet the arena lock held */
    arena_free(p, sizeof t);
    tls.in_shim--;
    pthread_attr_t a;
    tls.stack_lo = tls.stack_hi = 1; /* unknown (unwind.c) until known */
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&a, &addr, &size) == 0) {
            record(sys_gettid(), (uintptr_t)addr, (uintptr_t)addr + size);
            tls.stack_lo = (uintptr_t)addr;
            tls.stack_hi = (uintptr_t)addr + size;
        }
        pthread_attr_destroy(&a);
    }
    if (reg.key_ok)
        pthread_setspecific(reg.exit_key, (void *)1);
    return t.fn(t.arg);
}

void threads_init(void)
{
    reg.real_create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    reg.key_ok = pthread_key_create(&reg.exit_key, thread_exit_cb) == 0;
}

GS_EXPORT int pthread_create(pthread_t *thr, const pthread_attr_t *attr, void *(*fn)(void *),
                             void *arg)
{
    if (!reg.real_create) {
        init_ready();
        if (!reg.real_create) {
            tls.in_shim++;
            threads_init();
            tls.in_shim--;
        }
        if (!reg.real_create)
            return EAGAIN;
    }
    tls.in_shim++;
    struct trampoline *t = atomic_load(&shim_state) == ST_READY ? arena_alloc(sizeof *t) : NULL;
    tls.in_shim--;
    if (!t)
        return reg.real_create(thr, attr, fn, arg);
    t->fn = fn;
    t->arg = arg;
    int r = reg.real_create(thr, attr, thread_start, t);
    if (r != 0) {
        tls.in_shim++;
        arena_free(t, sizeof *t);
        tls.in_shim--;
    }
    return r;
}

void threads_for_each(void (*fn)(const struct thread_rec *t, void *ctx), void *ctx)
{
    spin_lock(&reg.lock);
    for (unsigned i = 0; i < reg.n; i++)
        fn(&reg.recs[i], ctx);
    spin_unlock(&reg.lock);
}

size_t threads_capacity(void) { return MAX_THREAD_RECS; }

void threads_atfork_prepare(void) { spin_lock(&reg.lock); }
void threads_atfork_parent(void) { spin_unlock(&reg.lock); }
void threads_atfork_child(void)
{
    spin_reset(&reg.lock);
    pid_t self = sys_gettid();
    for (unsigned i = 0; i < reg.n; i++)
        if (reg.recs[i].tid != self)
            reg.recs[i].tid = 0;
}
