/* SPDX-License-Identifier: MIT
 * live.c: the periodic / on-signal checker thread (live.h).
 * The thread blocks every signal but the stop signal, so the program's
 * signals are never delivered to it. The report signal's handler only bumps a counter and wakes
 * the thread with a futex: async-signal-safe, no allocation.
 * locks: none of its own; check.c's, and shmstats.c's writer lock for the
 * stats tick. STW: no. allocates: pthread stack. */
#define _GNU_SOURCE
#include "live.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "options.h"
#include "shmstats.h"
#include "sys.h"
#include "tstate.h"

#define STATS_TICK_MS 1000.0

static struct {
    atomic_int requests; /* report_signal deliveries not yet served */
    atomic_int started;  /* the thread runs with its signal mask set */
    bool running;
} live;

static void report_signal_handler(int sig)
{
    (void)sig;
    int saved = errno;
    atomic_fetch_add(&live.requests, 1);
    sys_futex_wake((int *)&live.requests, 1);
    errno = saved;
}

static void *live_main(void *arg)
{
    (void)arg;
    /* Every signal but the stop signal: a scan started by another thread
     * (exit, gs_collect) stops this one like any other. */
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, opt.stop_signal);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    atomic_store(&live.started, 1);
    sys_futex_wake((int *)&live.started, 1);
    pthread_setname_np(pthread_self(), "guardshim");
    /* Wakes for: a report signal, the next scan, the next stats tick. */
    double period_ms = opt.scan_interval > 0 ? opt.scan_interval * 1e3 : -1;
    double tick_ms = shmstats_enabled() ? STATS_TICK_MS : -1;
    double now = sys_now_ms();
    double next_scan = period_ms > 0 ? now + period_ms : -1;
    double next_tick = tick_ms > 0 ? now + tick_ms : -1;
    for (;;) {
        double due = next_scan;
        if (next_tick > 0 && (due < 0 || next_tick < due))
            due = next_tick;
        if (atomic_load(&live.requests) == 0) {
            double left = due > 0 ? due - sys_now_ms() : 0;
            if (due < 0 || left > 0)
                sys_futex_wait((int *)&live.requests, 0, due < 0 ? -1 : (long)(left * 1e6));
        }
        now = sys_now_ms();
        int seen = atomic_exchange(&live.requests, 0);
        bool scan_due = next_scan > 0 && now >= next_scan;
        if (seen > 0 || scan_due) {
            if (scan_due)
                next_scan += period_ms * (1 + (int)((now - next_scan) / period_ms));
            tls.in_shim++;
            struct report_totals tot;
            check_run(seen > 0 ? TRIGGER_SIGNAL : TRIGGER_INTERVAL,
                      (uintptr_t)__builtin_frame_address(0), true, &tot);
            tls.in_shim--;
        }
        if (next_tick > 0 && now >= next_tick) {
            next_tick = now + tick_ms;
            tls.in_shim++;
            shmstats_publish();
            tls.in_shim--;
        }
    }
    return NULL;
}

static void start_thread(void)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    tls.in_shim++;
    int err = pthread_create(&t, &a, live_main, NULL);
    tls.in_shim--;
    pthread_attr_destroy(&a);
    if (err)
        log_error("cannot start the periodic checker: %s", strerror(err));
    live.running = err == 0;
    /* Until it has set its mask, glibc keeps a new thread's signals blocked:
     * a scan in that window (an early exit) could not stop it. */
    double until = sys_now_ms() + 1000;
    while (live.running && !atomic_load(&live.started) && sys_now_ms() < until)
        sys_futex_wait((int *)&live.started, 0, 10000000);
}

void live_start(void)
{
    if (opt.report_signal > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = report_signal_handler;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(opt.report_signal, &sa, NULL) != 0)
            log_error("cannot handle report_signal %d: %s", opt.report_signal, strerror(errno));
    }
    if (opt.scan_interval > 0 || opt.report_signal > 0 || shmstats_enabled())
        start_thread();
}

/* No thread is started here: creating one inside an atfork child handler
 * of a multithreaded parent is not safe (only async-signal-safe calls
 * are), so periodic checks stay with the process that loaded the shim;
 * the child still gets its own exit check. */
void live_atfork_child(void)
{
    atomic_store(&live.requests, 0);
    atomic_store(&live.started, 0);
    live.running = false;
}
