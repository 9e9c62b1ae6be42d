/* reclaim_loop.c: a long-running loop that leaks a buffer on every
 * iteration (a bug nobody can fix today) and calls gs_collect() every K
 * iterations. Under GUARDSHIM_OPTIONS=reclaim=1 the shim frees blocks that
 * were unreachable in two consecutive scans, so the resident set stays flat;
 * without reclaim it grows by the leaked amount.
 *
 * usage: reclaim_loop [ITERATIONS [K [BYTES]]]
 * Prints "rss_kb start S end E growth G" (from /proc/self/statm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guardshim.h"

static long rss_kb(void)
{
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The leak: a buffer filled and then forgotten. */
static void __attribute__((noinline)) leaky_iteration(size_t bytes, int i)
{
    char *volatile buf = malloc(bytes);
    memset(buf, i & 0x7f, bytes);
    buf = NULL;
}

static void __attribute__((noinline)) clear_stack(void)
{
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 2000;
    int every = argc > 2 ? atoi(argv[2]) : 50;
    size_t bytes = argc > 3 ? (size_t)atol(argv[3]) : 16384;
    int shim = gs_active && gs_active();
    long start = rss_kb();
    for (int i = 0; i < iterations; i++) {
        leaky_iteration(bytes, i);
        if (shim && (i + 1) % every == 0) {
            clear_stack();
            gs_collect();
        }
    }
    long end = rss_kb();
    printf("rss_kb start %ld end %ld growth %ld\n", start, end, end - start);
    return 0;
}
