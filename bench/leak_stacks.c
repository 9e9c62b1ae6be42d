/* SPDX-License-Identifier: MIT
 * leak_stacks.c: a report with thousands of distinct leak stacks, to time its symbolisation
 * (issue 6: "symbolisation of a report with 5,000 distinct leak stacks in <= 1 s").
 *
 *   leak_stacks [-n BLOCKS] [-1]
 *
 * Linked with a file bench/run generates (build/bench/leak_sites_N.c): N functions
 * leak_site_0 .. leak_site_<N-1>, each on its own lines, each calling leak_leaf() from its own
 * call site, and the table leak_sites[] / leak_sites_n. main calls BLOCKS sites in turn
 * (default: every site once), so the report has one direct-leak record per site, each stack
 * leak_leaf <- leak_site_i <- main <- libc, with a distinct PC in leak_site_i.
 * -1 makes every block come from leak_site_0: the same number of leaked blocks in one record
 * (the control: the same scan, one stack to symbolise and write).
 *
 * Built -O0 -g -fno-inline -fno-optimize-sibling-calls so every frame is there and has a line.
 * Prints main_return_mono (CLOCK_MONOTONIC when main returns, as scan_graph does); the checker's
 * work happens after it, at exit.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void (*const leak_sites[])(void);
extern const int leak_sites_n;

void *leak_leaf(size_t n);
void *leak_leaf(size_t n)
{
    char *p = malloc(n);
    if (p)
        memset(p, 0x5a, n); /* no pointers in it: every block is a direct leak */
    return p;
}

/* Overwrites the dead stack below main, where the sites' frames held their pointers. */
static void scrub_stack(void)
{
    volatile char buf[32768];
    memset((char *)buf, 0, sizeof buf);
}

int main(int argc, char **argv)
{
    long n = leak_sites_n;
    int one = 0, c;
    while ((c = getopt(argc, argv, "n:1")) != -1) {
        switch (c) {
        case 'n': n = atol(optarg); break;
        case '1': one = 1; break;
        default:
            fprintf(stderr, "usage: leak_stacks [-n BLOCKS] [-1]\n");
            return 2;
        }
    }
    for (long i = 0; i < n; i++)
        leak_sites[one ? 0 : i % leak_sites_n]();
    scrub_stack();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("blocks=%ld sites=%d\nmain_return_mono=%.6f\n", n, one ? 1 : leak_sites_n,
           (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    fflush(stdout);
    return 0;
}
