/* SPDX-License-Identifier: MIT
 * pause.c: the program's pause per periodic scan on a big heap (issue 4's
 * benchmark). Builds N blocks of S bytes (default 8M x 128 B = 1 GiB) linked
 * into one chain from a global (all reachable), then R rounds of: change 1%
 * of the heap's pages (one word written in blocks spread over CHANGE_PCT % of
 * the pages), raise the report signal (report_signal=SIGUSR2, the same path as
 * a scan_interval tick: a periodic scan), keep writing to the same blocks
 * every 20 ms until the scan has ended (gs_get_stats().scans), so that a scan
 * running alongside the program sees those pages change under it, and take
 * the round's longest pause.
 *
 * The pause is what a thread of the program sees: a "ticker" thread spins on
 * clock_gettime(CLOCK_MONOTONIC) and keeps the longest gap between two
 * readings; the main thread swaps it out per round. A quiet stretch before the
 * first scan gives the noise floor (the same spinning with no scan).
 *
 * usage: pause [-n BLOCKS] [-s SIZE] [-r ROUNDS] [-c CHANGE_PCT]
 * prints key=value lines: build_s, noise_ms, pause_ms (one per round),
 * pause_ms_median, pause_ms_max, rounds. Run under the shim with
 * GUARDSHIM_OPTIONS=report_signal=SIGUSR2:scan_mode=full|snapshot|incremental:leak_check_at_exit=0
 * (bench/run runs all three; add verbosity=2 for the shim's own account of
 * each pause and, for incremental, of its phases: dirty pages, young
 * blocks, roots); without the shim it says so and exits 0. Ends in _exit
 * (no teardown of 1 GiB). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../include/guardshim.h"

#define PAGE 4096

static void **blocks;      /* heap array of every block (itself reachable from here) */
static void *volatile head; /* chain start: blocks[i] word 0 -> blocks[i+1] */
static atomic_uint_fast64_t max_gap_ns;
static atomic_int stop;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *ticker(void *arg)
{
    (void)arg;
    uint64_t prev = now_ns(), local_max = 0;
    unsigned n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t t = now_ns();
        if (t - prev > local_max)
            local_max = t - prev;
        prev = t;
        /* Publish every 256 readings (and whenever the max grew) so the
         * main thread can swap it out without slowing the loop. */
        if (++n % 256 == 0 || local_max > atomic_load_explicit(&max_gap_ns, memory_order_relaxed)) {
            uint_fast64_t cur = atomic_load_explicit(&max_gap_ns, memory_order_relaxed);
            while (local_max > cur &&
                   !atomic_compare_exchange_weak(&max_gap_ns, &cur, local_max))
                ;
            local_max = 0;
        }
    }
    return NULL;
}

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static size_t scans(void)
{
    struct gs_stats st;
    return gs_get_stats(&st) == 0 ? st.scans : 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* One word written in each chosen block (never word 0, the chain link). */
static void change(const size_t *chosen, size_t touch, size_t size)
{
    for (size_t k = 0; k < touch; k++) {
        char *b = blocks[chosen[k]];
        ((uint64_t *)b)[1 + (k % (size / 8 - 1 ? size / 8 - 1 : 1))] = rnd() | 1;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t n = 8u << 20, size = 128;
    int rounds = 5;
    double change_pct = 1.0;
    int c;
    while ((c = getopt(argc, argv, "n:s:r:c:")) != -1) {
        switch (c) {
        case 'n': n = strtoull(optarg, NULL, 0); break;
        case 's': size = strtoull(optarg, NULL, 0); break;
        case 'r': rounds = atoi(optarg); break;
        case 'c': change_pct = atof(optarg); break;
        default:
            fprintf(stderr, "usage: pause [-n BLOCKS] [-s SIZE] [-r ROUNDS] [-c CHANGE_PCT]\n");
            return 2;
        }
    }
    if (n < 2 || size < sizeof(void *) || rounds < 1 || rounds > 1000) {
        fprintf(stderr, "pause: bad arguments\n");
        return 2;
    }
    if (!gs_active || !gs_active()) {
        printf("skip: guardshim not loaded\n");
        return 0;
    }

    uint64_t t0 = now_ns();
    blocks = malloc(n * sizeof *blocks);
    for (size_t i = 0; i < n; i++) {
        blocks[i] = malloc(size);
        memset(blocks[i], 0, size);
    }
    for (size_t i = 0; i + 1 < n; i++)
        *(void **)blocks[i] = blocks[i + 1];
    head = blocks[0];
    double build_s = (double)(now_ns() - t0) / 1e9;
    printf("build_s=%.3f\nblocks=%zu\nblock_size=%zu\nheap_mib=%.0f\n", build_s, n, size,
           (double)n * (double)size / 1048576.0);
    fflush(stdout);

    pthread_t tk;
    pthread_create(&tk, NULL, ticker, NULL);
    sleep_ms(300);
    atomic_store(&max_gap_ns, 0);
    sleep_ms(1000); /* the noise floor: spinning with no scan */
    double noise_ms = (double)atomic_exchange(&max_gap_ns, 0) / 1e6;
    printf("noise_ms=%.3f\n", noise_ms);

    /* Blocks to change per round: one word in blocks spread over pct % of
     * the heap's pages (a block is on one page; random blocks hit distinct
     * pages almost always). */
    size_t heap_pages = (size_t)((double)n * (double)size / PAGE);
    size_t touch = (size_t)((double)heap_pages * change_pct / 100.0);
    double *pause = calloc((size_t)rounds, sizeof *pause);
    size_t *chosen = calloc(touch ? touch : 1, sizeof *chosen);
    double wall_ms_sum = 0;
    for (int r = 0; r < rounds; r++) {
        for (size_t k = 0; k < touch; k++)
            chosen[k] = rnd() % n;
        change(chosen, touch, size);
        sleep_ms(100);
        size_t s0 = scans();
        atomic_store(&max_gap_ns, 0);
        uint64_t ts = now_ns(), last = ts;
        raise(SIGUSR2);
        while (scans() == s0) {
            sleep_ms(1);
            if (now_ns() - last >= 20000000u) {
                change(chosen, touch, size);
                last = now_ns();
            }
        }
        double wall_ms = (double)(now_ns() - ts) / 1e6;
        sleep_ms(50);
        pause[r] = (double)atomic_exchange(&max_gap_ns, 0) / 1e6;
        wall_ms_sum += wall_ms;
        printf("pause_ms=%.3f scan_wall_ms=%.1f\n", pause[r], wall_ms);
        fflush(stdout);
    }
    atomic_store(&stop, 1);
    pthread_join(tk, NULL);
    qsort(pause, (size_t)rounds, sizeof *pause, cmp_double);
    printf("rounds=%d\npages_changed=%zu\npause_ms_median=%.3f\npause_ms_max=%.3f\n"
           "scan_wall_ms_mean=%.1f\n",
           rounds, touch, pause[rounds / 2], pause[rounds - 1], wall_ms_sum / rounds);
    fflush(stdout);
    _exit(0);
}
