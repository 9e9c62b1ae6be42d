/* SPDX-License-Identifier: MIT
 * malloc_mt: malloc-heavy multi-threaded microbenchmark for guardshim's bench/run.
 *
 *   malloc_mt [-t THREADS] [-n ITERS_PER_THREAD] [-w WINDOW] [-s SEED]
 *       Each thread keeps WINDOW (power of 2) live blocks; each iteration frees a random slot and refills
 *       it with malloc(16..512) from one of 8 call sites at call depths giving 5..12 frames of
 *       this program's own functions. Prints ns per malloc+free pair.
 *   malloc_mt -m BLOCKS
 *       Peak-live-set mode: allocates BLOCKS blocks (same sites and sizes), holds them all,
 *       then frees them. bench/run compares peak RSS with the plain run to get the tool's
 *       memory per live block.
 *
 * Build with -fno-builtin-malloc -fno-builtin-free (bench/run does): the pairs must not be
 * elided. Every block is freed before exit, so a leak checker should report nothing.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define NSITES 8

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

/* Eight distinct allocation sites. The store keeps the block "used"; the empty asm keeps the
 * compiler from merging or tail-calling. */
#define SITE(k)                                                  \
	static NOINLINE void *site##k(size_t n)                  \
	{                                                        \
		unsigned char *p = malloc(n);                    \
		if (p)                                           \
			p[0] = (unsigned char)(k + n);           \
		__asm__ volatile("" : "+r"(p)::"memory");       \
		return p;                                        \
	}
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)

typedef void *(*site_fn)(size_t);
static site_fn const sites[NSITES] = { site0, site1, site2, site3, site4, site5, site6, site7 };

/* Two mutually recursive levels so the return addresses vary along the stack. The asm after
 * the call uses the result, so the call cannot become a sibling call (the frame stays). */
static NOINLINE void *descend_b(int depth, int k, size_t n);
static NOINLINE void *descend_a(int depth, int k, size_t n)
{
	void *p = depth <= 0 ? sites[k](n) : descend_b(depth - 1, k, n);
	__asm__ volatile("" : "+r"(p)::"memory");
	return p;
}
static NOINLINE void *descend_b(int depth, int k, size_t n)
{
	void *p = depth <= 0 ? sites[k](n) : descend_a(depth - 1, k, n);
	__asm__ volatile("" : "+r"(p)::"memory");
	return p;
}

/* Site k is reached through 2+k descend frames; with site, worker and thread entry that is
 * 5..12 frames of this program. */
static NOINLINE void *alloc_random(uint64_t *rng)
{
	uint64_t r = xorshift(rng);
	int k = (int)(r & (NSITES - 1));
	size_t n = 16 + (size_t)((r >> 8) % 497); /* 16..512 */
	void *p = descend_a(1 + k, k, n);
	__asm__ volatile("" : "+r"(p)::"memory");
	return p;
}

struct worker {
	pthread_t tid;
	int id;
	long iters;
	int window;
	uint64_t seed;
	pthread_barrier_t *bar;
	double t0, t1;
	unsigned long sink;
};

static NOINLINE void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = w->seed * 0x9E3779B97F4A7C15ull + 1 + (uint64_t)w->id;
	void **win = calloc((size_t)w->window, sizeof *win);
	if (!win) {
		perror("calloc");
		exit(2);
	}
	for (int i = 0; i < w->window; i++)
		win[i] = alloc_random(&rng);
	pthread_barrier_wait(w->bar);
	w->t0 = now();
	unsigned long sink = 0;
	for (long i = 0; i < w->iters; i++) {
		uint64_t r = xorshift(&rng);
		size_t slot = (size_t)(r & (uint64_t)(w->window - 1));
		sink += (uintptr_t)win[slot] >> 4;
		free(win[slot]);
		win[slot] = alloc_random(&rng);
	}
	w->t1 = now();
	for (int i = 0; i < w->window; i++)
		free(win[i]);
	free(win);
	w->sink = sink;
	return NULL;
}

static long vmhwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

static int live_mode(long blocks, uint64_t seed)
{
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 7;
	void **v = malloc((size_t)blocks * sizeof *v);
	if (!v) {
		perror("malloc");
		return 2;
	}
	double t0 = now();
	for (long i = 0; i < blocks; i++)
		v[i] = alloc_random(&rng);
	double t1 = now();
	long hwm = vmhwm_kb();
	for (long i = 0; i < blocks; i++)
		free(v[i]);
	double t2 = now();
	free(v);
	printf("mode=live blocks=%ld alloc_ns=%.1f free_ns=%.1f vmhwm_kb=%ld\n", blocks,
	       (t1 - t0) * 1e9 / (double)blocks, (t2 - t1) * 1e9 / (double)blocks, hwm);
	return 0;
}

int main(int argc, char **argv)
{
	int threads = 1, window = 4096, opt;
	long iters = 5000000, live = 0;
	uint64_t seed = 12345;
	while ((opt = getopt(argc, argv, "t:n:w:m:s:")) != -1) {
		switch (opt) {
		case 't': threads = atoi(optarg); break;
		case 'n': iters = atol(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'm': live = atol(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [-t threads] [-n iters] [-w window] [-m live_blocks]\n",
				argv[0]);
			return 2;
		}
	}
	if (live > 0)
		return live_mode(live, seed);
	if (threads < 1 || window < 1 || (window & (window - 1)) || iters < 1) {
		fprintf(stderr, "malloc_mt: bad arguments (window must be a power of two)\n");
		return 2;
	}

	struct worker *w = calloc((size_t)threads, sizeof *w);
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .id = i, .iters = iters, .window = window, .seed = seed,
					.bar = &bar };
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			perror("pthread_create");
			return 2;
		}
	}
	double t0 = 1e300, t1 = 0, per_thread = 0;
	unsigned long sink = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].tid, NULL);
		per_thread += (w[i].t1 - w[i].t0) * 1e9 / (double)iters;
		if (w[i].t0 < t0)
			t0 = w[i].t0;
		if (w[i].t1 > t1)
			t1 = w[i].t1;
		sink += w[i].sink;
	}
	pthread_barrier_destroy(&bar);
	/* ns_per_pair: mean over threads of (thread's loop time / its iterations), i.e. the
	 * latency one thread sees; agg_ns_per_pair: wall of the loop / all pairs (throughput). */
	printf("mode=pairs threads=%d iters=%ld window=%d ns_per_pair=%.1f agg_ns_per_pair=%.1f "
	       "loop_s=%.3f sink=%lu\n",
	       threads, iters, window, per_thread / threads,
	       (t1 - t0) * 1e9 / ((double)iters * threads), t1 - t0, sink);
	free(w);
	return 0;
}
