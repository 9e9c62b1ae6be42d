/* SPDX-License-Identifier: MIT
 * stw.c: the cost of stopping the world with many threads (issue 6: "stop-the-world with 16
 * threads no slower than Boehm's 0.19 ms"). Starts T threads, S of them spinning on work and the
 * others blocked (in turn: nanosleep, poll on a pipe, a condition variable), builds a small
 * reachable heap (1000 blocks of 64 B), then runs R collections and times each one.
 *
 *   stw [-t THREADS] [-s SPINNING] [-r ROUNDS]        (default 16, 2, 50)
 *
 * One source, three collectors:
 *   - under guardshim: gs_collect(). Only the shim knows its stop time: run with
 *     GUARDSHIM_OPTIONS=verbosity=2 and read "stopping the threads Y ms" from its stderr.
 *   - under a preloaded LeakSanitizer: __lsan_do_recoverable_leak_check(), which stops the world
 *     (a tracer thread ptrace-attaches every thread), marks and reports; nothing leaks, so its
 *     wall time is stop + an almost empty mark + resume.
 *   - built with -DSTW_BOEHM and -lgc: Boehm GC's GC_gcollect(), threads created through
 *     GC_pthread_create (gc.h with GC_THREADS), heap from GC_MALLOC. Its collection-event
 *     callback isolates the stop (PRE_STOP_WORLD .. POST_STOP_WORLD) and the pause
 *     (PRE_STOP_WORLD .. POST_START_WORLD).
 * Prints one line per round: "collect_ms=W" (wall time of the call) and, for Boehm,
 * "stop_ms=Y pause_ms=X"; then "collector=NAME threads=T spinning=S". Without a collector it
 * says "collector=none" and exits 0. Ends in _exit: the threads are never joined.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef STW_BOEHM
#define GC_THREADS
#include <gc.h>
#else
#include "../include/guardshim.h"
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));
#endif

#define MAX_THREADS 256
#define HEAP_BLOCKS 1000

static atomic_int stop;
static int pipe_fd[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static void **heap;       /* reachable from here (Boehm: a GC_MALLOC'd array, .bss is a root) */
static volatile uint64_t spin_sink;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *spinner(void *arg)
{
    (void)arg;
    uint64_t x = 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        spin_sink = x;
    }
    return NULL;
}

/* Blocked for the whole run; a stop signal may interrupt the call (EINTR), so each loops. */
static void *sleeper(void *arg)
{
    int how = (int)(intptr_t)arg % 3;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (how == 0) {
            struct timespec ts = {3600, 0};
            nanosleep(&ts, NULL);
        } else if (how == 1) {
            struct pollfd p = {pipe_fd[0], POLLIN, 0};
            poll(&p, 1, -1);
        } else {
            pthread_mutex_lock(&mu);
            pthread_cond_wait(&cv, &mu);
            pthread_mutex_unlock(&mu);
        }
    }
    return NULL;
}

static const char *collect(void)
{
#ifdef STW_BOEHM
    GC_gcollect();
    return "boehm";
#else
    if (gs_active && gs_active()) {
        gs_collect();
        return "guardshim";
    }
    if (__lsan_do_recoverable_leak_check) {
        __lsan_do_recoverable_leak_check();
        return "lsan";
    }
    return NULL;
#endif
}

#ifdef STW_BOEHM
static double ev_pre_stop, ev_post_stop, ev_post_start;

/* Called by the collecting thread with the allocator lock held: only reads the clock. */
static void on_event(GC_EventType e)
{
    if (e == GC_EVENT_PRE_STOP_WORLD)
        ev_pre_stop = now_ms();
    else if (e == GC_EVENT_POST_STOP_WORLD)
        ev_post_stop = now_ms();
    else if (e == GC_EVENT_POST_START_WORLD)
        ev_post_start = now_ms();
}
#define ALLOC(n) GC_MALLOC(n)
#else
#define ALLOC(n) malloc(n)
#endif

int main(int argc, char **argv)
{
    int threads = 16, spinning = 2, rounds = 50, c;
    while ((c = getopt(argc, argv, "t:s:r:")) != -1) {
        switch (c) {
        case 't': threads = atoi(optarg); break;
        case 's': spinning = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: stw [-t THREADS] [-s SPINNING] [-r ROUNDS]\n");
            return 2;
        }
    }
    if (threads < 0 || threads > MAX_THREADS || spinning < 0 || spinning > threads || rounds < 1) {
        fprintf(stderr, "stw: bad arguments\n");
        return 2;
    }
#ifdef STW_BOEHM
    GC_INIT();
    GC_allow_register_threads();
    GC_set_on_collection_event(on_event);
#endif
    if (pipe(pipe_fd) != 0) {
        perror("pipe");
        return 2;
    }
    heap = ALLOC(HEAP_BLOCKS * sizeof *heap);
    for (int i = 0; i < HEAP_BLOCKS; i++) {
        heap[i] = ALLOC(64);
        memset(heap[i], 0, 64);
    }
    pthread_t tid[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&tid[i], NULL, i < spinning ? spinner : sleeper, (void *)(intptr_t)i)) {
            perror("pthread_create");
            return 2;
        }
    }
    struct timespec settle = {0, 100 * 1000 * 1000}; /* every thread is in its loop or call */
    nanosleep(&settle, NULL);
    const char *name = NULL;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ms();
        name = collect();
        double t1 = now_ms();
        if (!name)
            break;
        printf("collect_ms=%.4f", t1 - t0);
#ifdef STW_BOEHM
        printf(" stop_ms=%.4f pause_ms=%.4f", ev_post_stop - ev_pre_stop, ev_post_start - ev_pre_stop);
#endif
        printf("\n");
    }
    printf("collector=%s threads=%d spinning=%d\n", name ? name : "none", threads, spinning);
    fflush(stdout);
    atomic_store(&stop, 1);
    _exit(0);
}
