/* Proves: when the catch-up collect of an incremental scan fails midway (the kernel may have protected pages again before failing, so their writes are unreported), the scan does not trust its mark or its records: it judges the stopped world and starts tracking afresh, and writes the same reports as a full scan. The only pointer to a block is cleared during the third scan's mark (by libfail_catchup.so, preloaded; "direct" clears it before that scan instead)
 * Expect: [direct] → api reports: none, none, make_target (40 B, 1 block, direct), none, none; exit 23 with it */
#include "guardshim.h"
#include "gs_test.h"

void inject_arm(void (*fn)(void), void *at) __attribute__((weak));

static char *volatile big;
static void *volatile sink;

static void **slot(void) { return (void **)(big + 2 * 4096 + 128); }

static GS_NOINLINE void make_target(void)
{
	sink = malloc(40);
	memset(sink, 3, 40);
	*slot() = sink;
	sink = NULL;
}

static void clear_slot(void) { *(void *volatile *)slot() = NULL; }

int main(int argc, char **argv)
{
	int direct = strcmp(gs_test_arg(argc, argv, 1, ""), "direct") == 0;
	if (!direct && !inject_arm) {
		fprintf(stderr, "live_lost_writes: preload libfail_catchup.so, or pass direct\n");
		return 2;
	}
	big = malloc(1 << 20);
	memset(big, 0, 1 << 20);
	make_target();
	gs_test_clear_stack();
	gs_check_leaks();
	gs_check_leaks();
	if (direct)
		clear_slot();
	else
		inject_arm(clear_slot, slot());
	gs_check_leaks(); /* with the injection, the write lands during this scan's mark */
	gs_test_clear_stack();
	gs_check_leaks();
	gs_check_leaks();
	return 0;
}
