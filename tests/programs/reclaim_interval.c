/* Proves: with reclaim=1 the scan_interval thread frees blocks by itself: 1000 dropped blocks are gone once three background scans completed (the second of two consecutive unreachable scans freed them before the third began), while 1000 kept ones stay
 * Expect (reclaim=1:scan_interval=1): drop → "scans>=3 live 0", keep → "scans>=3 live 1000"; without reclaim drop → "scans>=3 live 1000"; "timeout" if three scans did not complete within 60 s */
#include <time.h>

#include "guardshim.h"
#include "gs_test.h"

#define N 1000

void *volatile kept[N];
void *volatile sink;
static gs_owner owner;

static GS_NOINLINE void interval_leak_1024(int keep)
{
	gs_owner prev = gs_owner_set(owner);
	for (int i = 0; i < N; i++) {
		sink = malloc(1024);
		if (keep)
			kept[i] = sink;
	}
	sink = NULL;
	gs_owner_set(prev);
}

static size_t scans(void)
{
	struct gs_stats st;
	GS_CHECK(gs_get_stats(&st) == 0, "gs_get_stats");
	return st.scans;
}

/* usage: reclaim_interval [drop|keep]   (EXTRA_OPTS scan_interval=1, reclaim=1) */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "drop");
	int keep = !strcmp(mode, "keep");
	owner = gs_owner_new("interval");
	size_t before = scans();
	interval_leak_1024(keep);
	gs_test_clear_stack();
	/* No scan of this program's own: only the interval thread's count. The
	 * scan count moves before that scan's reclaim, which ends before the
	 * next scan starts, so the third completed scan orders the second's
	 * frees before this read. Polled, not timed: bounded at 60 s. */
	struct timespec tick = {0, 50 * 1000 * 1000};
	int waited = 0;
	while (scans() < before + 3 && waited++ < 1200)
		nanosleep(&tick, NULL);
	if (scans() < before + 3) {
		printf("timeout\n");
		return 1;
	}
	struct gs_owner_stats s = {.size = sizeof s};
	GS_CHECK(gs_owner_stats(owner, &s) == 0, "gs_owner_stats");
	printf("scans>=3 live %zu\n", s.live_blocks);
	for (int i = 0; i < N; i++) {
		free(kept[i]);
		kept[i] = NULL;
	}
	gs_test_clear_stack();
	return gs_test_summary("reclaim_interval");
}
