/* Proves: gs_get_stats counts live blocks/bytes, allocations, frees, scans (gs_collect and gs_check_leaks), the leaks of the last full scan and pending finalizers
 * Expect: "api_stats: ok", exit 0 (the program checks every delta itself); leaks:[] */
#include "guardshim.h"
#include "gs_test.h"

void *volatile sink[10];
uintptr_t hidden[10];

static void fin_count(void *block, void *arg)
{
	(void)block;
	(*(int *)arg)++;
}

static GS_NOINLINE void alloc_ten_100(void)
{
	for (int i = 0; i < 10; i++) {
		sink[i] = malloc(100);
		hidden[i] = ~(uintptr_t)sink[i];
	}
}

int main(void)
{
	gs_test_require_shim();
	struct gs_stats a, b;
	GS_CHECK(gs_get_stats(&a) == 0, "gs_get_stats");
	alloc_ten_100();
	GS_CHECK(gs_get_stats(&b) == 0, "gs_get_stats");
	GS_CHECK(b.live_blocks == a.live_blocks + 10, "live_blocks %zu -> %zu", a.live_blocks, b.live_blocks);
	GS_CHECK(b.live_bytes == a.live_bytes + 1000, "live_bytes %zu -> %zu", a.live_bytes, b.live_bytes);
	GS_CHECK(b.total_allocs == a.total_allocs + 10, "total_allocs %zu -> %zu", a.total_allocs, b.total_allocs);
	GS_CHECK(b.total_frees == a.total_frees, "total_frees %zu -> %zu", a.total_frees, b.total_frees);
	for (int i = 0; i < 4; i++) {
		free(sink[i]);
		sink[i] = NULL;
	}
	GS_CHECK(gs_get_stats(&a) == 0, "gs_get_stats");
	GS_CHECK(a.live_blocks == b.live_blocks - 4, "live_blocks %zu -> %zu", b.live_blocks, a.live_blocks);
	GS_CHECK(a.live_bytes == b.live_bytes - 400, "live_bytes %zu -> %zu", b.live_bytes, a.live_bytes);
	GS_CHECK(a.total_frees == b.total_frees + 4, "total_frees %zu -> %zu", b.total_frees, a.total_frees);
	/* Drop 2 of the 6 left: the next full scan counts them as leaked. */
	sink[4] = sink[5] = NULL;
	gs_test_collect();
	GS_CHECK(gs_get_stats(&b) == 0, "gs_get_stats");
	GS_CHECK(b.scans == a.scans + 1, "scans %zu -> %zu", a.scans, b.scans);
	GS_CHECK(b.leaked_blocks == 2 && b.leaked_bytes == 200, "leaked %zu blocks %zu bytes",
		 b.leaked_blocks, b.leaked_bytes);
	gs_test_clear_stack();
	gs_check_leaks();
	GS_CHECK(gs_get_stats(&a) == 0, "gs_get_stats");
	GS_CHECK(a.scans == b.scans + 1, "scans after gs_check_leaks %zu -> %zu", b.scans, a.scans);
	/* A finalizable block dropped: pending until gs_drain. */
	int ran = 0;
	GS_CHECK(gs_set_finalizer(sink[6], fin_count, &ran) == 0, "set_finalizer");
	sink[6] = NULL;
	gs_test_collect();
	GS_CHECK(gs_get_stats(&b) == 0, "gs_get_stats");
	GS_CHECK(b.pending_finalizers == 1, "pending %zu", b.pending_finalizers);
	GS_CHECK(gs_drain() == 1 && ran == 1, "drain ran %d", ran);
	GS_CHECK(gs_get_stats(&a) == 0, "gs_get_stats");
	GS_CHECK(a.pending_finalizers == 0, "pending after drain %zu", a.pending_finalizers);
	GS_CHECK(a.total_frees == b.total_frees + 1, "drain freed %zu", a.total_frees - b.total_frees);
	free((void *)~hidden[4]);
	free((void *)~hidden[5]);
	for (int i = 7; i < 10; i++)
		free(sink[i]);
	gs_test_clear_stack();
	return gs_test_summary("api_stats");
}
