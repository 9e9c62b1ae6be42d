/* Proves: the shim's own memory stays bounded over millions of allocations and thousands of scans: ALLOCS allocations from 8 sites (each replaces a random slot of a 5,000-block working set, freeing what it replaces; some are realloc'ed, some calloc'ed) interleaved with SCANS gs_collect calls (every 10th a gs_check_leaks), plus one leaked block per 100 scans (from the first, so that symbolising its report, which loads debug information once, happens before the first measurement)
 * Expect: ALLOCS SCANS → "allocs A scans S rss_kb_quarter Q rss_kb_end E maps_quarter M maps_end N leaked L": the resident size and the number of mappings after all scans are those after a quarter of them (the steady state) within a small margin; the leaks are reported (L = SCANS/100 blocks of 40 B from leak_one) */
#define _GNU_SOURCE
#include "guardshim.h"
#include "gs_test.h"

#define WORKING 5000

static void *slots[WORKING];
static void *volatile sink;
static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define SITE(n) \
	static GS_NOINLINE void *site##n(size_t sz) { return n % 3 == 0 ? calloc(1, sz) : malloc(sz); }
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)
static void *(*const sites[8])(size_t) = {site0, site1, site2, site3, site4, site5, site6, site7};

static GS_NOINLINE void leak_one(void)
{
	sink = malloc(40);
	sink = NULL;
}

static long rss_kb(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	if (f)
		fclose(f);
	return resident * 4;
}

static int n_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	long allocs = argc > 1 ? atol(argv[1]) : 3000000;
	int scans = argc > 2 ? atoi(argv[2]) : 2000;
	long per_scan = allocs / scans, done = 0;
	long rss_q = 0;
	int maps_q = 0, leaked = 0;
	for (int s = 0; s < scans; s++) {
		for (long k = 0; k < per_scan; k++, done++) {
			size_t i = rnd() % WORKING, sz = 16 + rnd() % 240;
			if (slots[i] && (rnd() & 7) == 0) {
				void *q = realloc(slots[i], sz);
				if (q)
					slots[i] = q;
				continue;
			}
			free(slots[i]);
			slots[i] = sites[rnd() % 8](sz);
		}
		if (s % 100 == 0) {
			leak_one();
			leaked++;
		}
		gs_test_clear_stack();
		if (s % 10 == 9)
			gs_check_leaks();
		else
			gs_collect();
		if (s == scans / 4) {
			rss_q = rss_kb();
			maps_q = n_maps();
		}
	}
	printf("allocs %ld scans %d rss_kb_quarter %ld rss_kb_end %ld maps_quarter %d maps_end %d leaked %d\n",
	       done, scans, rss_q, rss_kb(), maps_q, n_maps(), leaked);
	fflush(stdout);
	_exit(0);
}
