/* SPDX-License-Identifier: MIT
 * scan_graph: a heap of N small blocks forming a random pointer graph, all reachable from one
 * global root, then a normal exit, so a leak checker's exit-time check has to mark N blocks.
 *
 *   scan_graph [-n BLOCKS] [-s SEED] [-c COLLECTS]
 *
 * Heap shape (the same as ../shared/FACTS.md's mark benchmark):
 *   - BLOCKS blocks of 16..256 B in 8-byte steps (136 B on average);
 *   - word 0 of each block chains every block in a random order, from the global root;
 *   - other words: 1/8 pointers to random blocks (a quarter of them interior, start+8),
 *     3/8 small integers, 4/8 random 64-bit values.
 * Nothing leaks: a correct checker reports 0 blocks.
 *
 * Prints build_s (time to build the heap) and main_return_mono, the CLOCK_MONOTONIC time at
 * which main returns; bench/run takes the time from there to the child's exit as the exit
 * phase (the checker's whole exit-time work plus process teardown).
 *
 * -c COLLECTS: instead of returning from main, run that many on-demand collections on the built
 * heap (gs_collect() under guardshim, __lsan_do_recoverable_leak_check() under a preloaded
 * LeakSanitizer), print "collect_ms=W" (wall time) for each and "collector=NAME", then _exit(0):
 * no exit-time check, no teardown. Without either it prints "collector=none".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../include/guardshim.h"

int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

void *volatile scan_graph_root; /* the only root of the graph (in .bss) */

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* -c: on-demand collections of the whole heap, timed one by one. */
static void collect_and_exit(int collects)
{
	const char *name = "none";
	for (int i = 0; i < collects; i++) {
		double t0 = now();
		if (gs_active && gs_active()) {
			gs_collect();
			name = "guardshim";
		} else if (__lsan_do_recoverable_leak_check) {
			__lsan_do_recoverable_leak_check();
			name = "lsan";
		} else {
			break;
		}
		printf("collect_ms=%.3f\n", (now() - t0) * 1e3);
	}
	printf("collector=%s\n", name);
	fflush(stdout);
	_exit(0);
}

int main(int argc, char **argv)
{
	long n = 1000000;
	int collects = 0;
	uint64_t rng = 0x2545F4914F6CDD1Dull;
	int opt;
	while ((opt = getopt(argc, argv, "n:s:c:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 's': rng ^= strtoull(optarg, NULL, 0) * 0x9E3779B97F4A7C15ull; break;
		case 'c': collects = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-n blocks] [-s seed] [-c collects]\n", argv[0]);
			return 2;
		}
	}
	if (n < 2) {
		fprintf(stderr, "scan_graph: need at least 2 blocks\n");
		return 2;
	}

	double t0 = now();
	uintptr_t **blk = malloc((size_t)n * sizeof *blk);
	unsigned char *words = malloc((size_t)n); /* size of each block in words */
	if (!blk || !words) {
		perror("malloc");
		return 2;
	}
	for (long i = 0; i < n; i++) {
		unsigned w = 2 + (unsigned)(xorshift(&rng) % 31); /* 2..32 words = 16..256 B */
		blk[i] = malloc(w * sizeof(uintptr_t));
		if (!blk[i]) {
			perror("malloc");
			return 2;
		}
		words[i] = (unsigned char)w;
	}
	/* Shuffle (Fisher-Yates) so the chain visits blocks in random address order. */
	for (long i = n - 1; i > 0; i--) {
		long j = (long)(xorshift(&rng) % (uint64_t)(i + 1));
		uintptr_t *tb = blk[i];
		unsigned char tw = words[i];
		blk[i] = blk[j];
		words[i] = words[j];
		blk[j] = tb;
		words[j] = tw;
	}
	for (long i = 0; i < n; i++) {
		uintptr_t *b = blk[i];
		b[0] = i + 1 < n ? (uintptr_t)blk[i + 1] : 0;
		for (unsigned k = 1; k < words[i]; k++) {
			uint64_t r = xorshift(&rng);
			unsigned cls = (unsigned)(r & 7);
			if (cls == 0) {
				uintptr_t t = (uintptr_t)blk[xorshift(&rng) % (uint64_t)n];
				b[k] = ((r >> 3) & 3) == 0 ? t + 8 : t;
			} else if (cls <= 3) {
				b[k] = (uintptr_t)((r >> 8) & 0xffff);
			} else {
				b[k] = (uintptr_t)xorshift(&rng);
			}
		}
	}
	scan_graph_root = blk[0];
	free(words);
	free(blk); /* the index array must not act as a second root */
	double t1 = now();
	printf("blocks=%ld build_s=%.3f\n", n, t1 - t0);
	if (collects > 0)
		collect_and_exit(collects);
	printf("main_return_mono=%.6f\n", now());
	fflush(stdout);
	return 0;
}
