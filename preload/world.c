/* SPDX-License-Identifier: MIT
 * world.c: stop-the-world handshake (see world.h).
 * Protocol: the stopper makes `w.round` odd, sends stop_signal to every
 * task of /proc/self/task, and waits (futex, bounded) until each has
 * acknowledged: a handler claims a slot of `w.threads`, fills it, and only
 * then counts itself in `w.acked` (so the stopper never reads a slot being
 * written). Handlers then sleep on `w.round` until it is even again, and
 * count themselves out in `w.resumed`. A handler that runs when no stop is
 * under way (a late or foreign signal) returns at once. Threads that block
 * the signal are given up on after a timeout and reported as unstopped,
 * except threads parked in libunwind (world_park), which are not waited for.
 * locks: none (callers serialise stops through the scan lock).
 * STW: this is the STW. allocates: sys_map once, in world_init.
 * async-signal-safe: the handler uses only atomics and raw syscalls. */
#define _GNU_SOURCE
#include "world.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "sys.h"
#include "tstate.h"

#define MAX_STOPPED 65536
#define ACK_TIMEOUT_MS 2000.0
#define MAX_PARKED 1024

/* A thread inside libunwind (world_park). `tid` is written last (release)
 * and cleared first, so a reader that sees it sees the rest. */
struct park {
    atomic_int owner;     /* slot claimed by this tid */
    atomic_int tid;       /* published: the fields below are valid */
    struct stopped_thread t;
};

static struct {
    atomic_int round;     /* odd while a stop is under way */
    atomic_int claimed;   /* slots of `threads` taken (handlers, then parked threads) */
    atomic_int acked;     /* handlers whose slot is filled, this round */
    atomic_int entered;   /* handlers that will count themselves in `resumed` */
    atomic_int resumed;
    pid_t self;
    struct stopped_thread *threads;
    pid_t *unstopped;
    pid_t *tids;          /* scratch: task list */
    struct park parks[MAX_PARKED];
} w;

static inline unsigned park_home(pid_t tid) { return (unsigned)tid * 2654435761u % MAX_PARKED; }

bool world_park(uintptr_t sp)
{
    pid_t me = sys_gettid();
    unsigned i = park_home(me);
    for (unsigned k = 0; k < 8; k++, i = (i + 1) % MAX_PARKED) {
        struct park *p = &w.parks[i];
        int expect = 0;
        if (!atomic_compare_exchange_strong(&p->owner, &expect, me))
            continue;
        p->t = (struct stopped_thread){me,
                                       sp,
                                       (uintptr_t)__builtin_thread_pointer(),
                                       tls.inflight_old,
                                       tls.inflight_new,
                                       tls.inflight_size};
        atomic_store_explicit(&p->tid, me, memory_order_release);
        tls.park_slot = i + 1;
        return true;
    }
    return false; /* table full: this thread is waited for as any other */
}

void world_unpark(void)
{
    unsigned i = tls.park_slot;
    if (!i)
        return;
    tls.park_slot = 0;
    struct park *p = &w.parks[i - 1];
    atomic_store_explicit(&p->tid, 0, memory_order_release);
    atomic_store_explicit(&p->owner, 0, memory_order_release);
}

/* The park record of `tid`, or NULL. */
static const struct park *parked(pid_t tid)
{
    unsigned i = park_home(tid);
    for (unsigned k = 0; k < 8; k++, i = (i + 1) % MAX_PARKED)
        if (atomic_load_explicit(&w.parks[i].tid, memory_order_acquire) == tid)
            return &w.parks[i];
    return NULL;
}

static void stop_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int saved = errno;
    int round = atomic_load(&w.round);
    /* Only our own tgkill during a stop counts; anything else is ignored. */
    if (!(round & 1) || si->si_code != SI_TKILL || si->si_pid != w.self) {
        errno = saved;
        return;
    }
    atomic_fetch_add(&w.entered, 1);
    int slot = atomic_fetch_add(&w.claimed, 1);
    if (slot < MAX_STOPPED) {
        volatile uintptr_t here = 0;
        w.threads[slot] = (struct stopped_thread){sys_gettid(),
                                                  (uintptr_t)&here,
                                                  (uintptr_t)__builtin_thread_pointer(),
                                                  tls.inflight_old,
                                                  tls.inflight_new,
                                                  tls.inflight_size};
    }
    atomic_fetch_add(&w.acked, 1);
    sys_futex_wake((int *)&w.acked, 1);
    while (atomic_load(&w.round) == round)
        sys_futex_wait((int *)&w.round, round, -1);
    atomic_fetch_add(&w.resumed, 1);
    sys_futex_wake((int *)&w.resumed, 1);
    errno = saved;
}

int world_init(void)
{
    w.threads = sys_map(MAX_STOPPED * sizeof *w.threads, true);
    w.unstopped = sys_map(MAX_STOPPED * sizeof(pid_t), true);
    w.tids = sys_map(MAX_STOPPED * sizeof(pid_t), true);
    if (!w.threads || !w.unstopped || !w.tids)
        return ENOMEM;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = stop_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    return sigaction(opt.stop_signal, &sa, NULL) == 0 ? 0 : errno;
}

/* Lists the tasks of this process into w.tids. */
static unsigned list_tasks(void)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/task",
                          O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    unsigned n = 0;
    char buf[4096];
    for (;;) {
        long r = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (r <= 0)
            break;
        for (long off = 0; off < r;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            off += d->d_reclen;
            pid_t tid = 0;
            for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
                tid = tid * 10 + (*c - '0');
            if (tid > 0 && n < MAX_STOPPED)
                w.tids[n++] = tid;
        }
    }
    syscall(SYS_close, fd);
    return n;
}

/* True when `tid` filled a slot of `threads` (slots are cleared before
 * each round, and a handler counts in `acked` only after filling its). */
static bool has_acked(pid_t tid, int claimed)
{
    for (int i = 0; i < claimed && i < MAX_STOPPED; i++)
        if (__atomic_load_n(&w.threads[i].tid, __ATOMIC_ACQUIRE) == tid)
            return true;
    return false;
}

/* Signalled threads that will not run program code before the resume
 * without acknowledging: they are parked in libunwind. */
static unsigned count_parked(unsigned sent)
{
    unsigned n = 0;
    int claimed = atomic_load(&w.claimed);
    for (unsigned j = 0; j < sent; j++) {
        pid_t tid = w.unstopped[j];
        if (tid > 0 && parked(tid) && !has_acked(tid, claimed))
            n++;
    }
    return n;
}

void world_stop(struct world *out)
{
    /* Re-install the handler: the program may have replaced it. */
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = stop_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(opt.stop_signal, &sa, &old);

    w.self = sys_getpid();
    pid_t me = sys_gettid();
    int last = GS_MIN(atomic_load(&w.claimed), MAX_STOPPED);
    for (int i = 0; i < last; i++)
        w.threads[i].tid = 0;
    atomic_store(&w.claimed, 0);
    atomic_store(&w.acked, 0);
    atomic_store(&w.entered, 0);
    atomic_store(&w.resumed, 0);
    atomic_fetch_add(&w.round, 1); /* odd: stopping */
    unsigned sent = 0, n_unstopped = 0;
    /* Threads may create threads until they are stopped: list again until
     * a pass finds no task we have not signalled. */
    for (int pass = 0; pass < 8; pass++) {
        unsigned n = list_tasks(), fresh = 0;
        for (unsigned i = 0; i < n; i++) {
            pid_t tid = w.tids[i];
            if (tid == me)
                continue;
            bool known = false;
            for (unsigned j = 0; j < sent && !known; j++)
                known = w.unstopped[j] == tid; /* w.unstopped holds "sent" during the stop */
            if (known)
                continue;
            if (sent < MAX_STOPPED && sys_tgkill(w.self, tid, opt.stop_signal) == 0) {
                w.unstopped[sent++] = tid;
                fresh++;
            }
        }
        /* Wait for acknowledgements, re-checking that silent threads still
         * exist and whether they are parked. */
        double t0 = sys_now_ms();
        for (;;) {
            int acked = atomic_load(&w.acked);
            if ((unsigned)acked >= sent)
                break;
            unsigned gone = 0;
            for (unsigned j = 0; j < sent; j++) {
                pid_t tid = w.unstopped[j];
                if (tid > 0 && !has_acked(tid, atomic_load(&w.claimed)) &&
                    sys_tgkill(w.self, tid, 0) == ESRCH)
                    w.unstopped[j] = -tid; /* exited: not waited for */
                if (w.unstopped[j] <= 0)
                    gone++;
            }
            if ((unsigned)acked + gone + count_parked(sent) >= sent)
                break;
            if (sys_now_ms() - t0 > ACK_TIMEOUT_MS)
                break;
            sys_futex_wait((int *)&w.acked, acked, 1000000);
        }
        if (fresh == 0)
            break;
    }
    /* Handlers that claimed a slot finish filling it (a few instructions). */
    double t1 = sys_now_ms();
    while (atomic_load(&w.acked) < atomic_load(&w.entered) && sys_now_ms() - t1 < ACK_TIMEOUT_MS)
        syscall(SYS_sched_yield);
    /* Parked threads get a slot of their own, filled from their park record. */
    for (unsigned j = 0; j < sent; j++) {
        pid_t tid = w.unstopped[j];
        const struct park *p = tid > 0 ? parked(tid) : NULL;
        if (!p || has_acked(tid, atomic_load(&w.claimed)))
            continue;
        int slot = atomic_fetch_add(&w.claimed, 1);
        if (slot < MAX_STOPPED)
            w.threads[slot] = p->t;
    }
    int claimed = GS_MIN(atomic_load(&w.claimed), MAX_STOPPED);
    /* Whoever was signalled, is alive, never answered and is not parked
     * blocks the signal. */
    for (unsigned j = 0; j < sent; j++) {
        pid_t tid = w.unstopped[j];
        if (tid > 0 && !has_acked(tid, claimed))
            w.unstopped[n_unstopped++] = tid;
    }
    out->stopped = w.threads;
    out->n_stopped = (unsigned)claimed;
    out->unstopped = w.unstopped;
    out->n_unstopped = n_unstopped;
    if (n_unstopped)
        log_info(1, "%u thread(s) did not stop (stop signal blocked?)", n_unstopped);
    /* Give a handler the program installed back to it. Ours stays when the
     * program had none: a signal still pending in a thread that blocks it
     * would otherwise kill the process with the default action later. */
    if ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != stop_handler
                                    : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN))
        sigaction(opt.stop_signal, &old, NULL);
}

void world_resume(struct world *out)
{
    (void)out;
    atomic_fetch_add(&w.round, 1); /* even: resume */
    sys_futex_wake((int *)&w.round, INT32_MAX);
    double t0 = sys_now_ms();
    /* Wait until every handler that entered this round has left, so the
     * next stop starts clean (late handlers of parked threads included). */
    for (;;) {
        int r = atomic_load(&w.resumed);
        if (r >= atomic_load(&w.entered) || sys_now_ms() - t0 > ACK_TIMEOUT_MS)
            break;
        sys_futex_wait((int *)&w.resumed, r, 1000000);
    }
}
