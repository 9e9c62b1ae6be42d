/* Proves: an incremental scan never trusts what it recorded of a page whose change it was not told of. The only pointer to a 40 B block lives in a page of a 1 MiB block; after two checks it disappears:
 *   discard [read]: madvise(MADV_DONTNEED) zeroes the page without a write (read: then read back, mapping the zero page);
 *   inject: cleared during the third check's mark by the preloaded libfail_catchup.so, which then makes that scan's catch-up PAGEMAP_SCAN fail after it ran (the kernel may protect pages again before failing): the scan must judge the stopped world;
 *   direct: cleared before the third check (the full-scan reference for inject).
 * The block is a leak from the third check on, in every scan_mode.
 * Expect: discard [read] → "discarded" (and "read 0"); api reports: none, none, make_target (40 B, 1 block, direct); exit 23 with it.
 *         inject, direct → api reports: none, none, make_target, none, none; exit 23 with it */
#include <sys/mman.h>

#include "guardshim.h"
#include "gs_test.h"

void inject_arm(void (*fn)(void), void *at) __attribute__((weak));

static char *volatile big; /* 1 MiB: an mmapped chunk of its own */
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

static int discard(int with_read)
{
	char *page = (char *)((uintptr_t)slot() & ~(uintptr_t)4095);
	if (madvise(page, 4096, MADV_DONTNEED) != 0) {
		perror("madvise");
		return 1;
	}
	printf("discarded\n");
	if (with_read)
		printf("read %d\n", ((volatile char *)page)[200]);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "");
	int is_discard = strcmp(mode, "discard") == 0, inject = strcmp(mode, "inject") == 0;
	if (!is_discard && !inject && strcmp(mode, "direct") != 0) {
		fprintf(stderr, "usage: live_hidden_change discard [read] | inject | direct\n");
		return 2;
	}
	if (inject && !inject_arm) {
		fprintf(stderr, "live_hidden_change: inject needs libfail_catchup.so preloaded\n");
		return 2;
	}
	big = malloc(1 << 20);
	memset(big, 0, 1 << 20);
	make_target();
	gs_test_clear_stack();
	gs_check_leaks();
	gs_check_leaks();
	if (is_discard) {
		if (discard(strcmp(gs_test_arg(argc, argv, 2, ""), "read") == 0))
			return 1;
	} else if (inject) {
		inject_arm(clear_slot, slot()); /* the write lands during the next scan's mark */
	} else {
		clear_slot();
	}
	gs_test_clear_stack();
	gs_check_leaks();
	if (!is_discard) {
		gs_check_leaks();
		gs_check_leaks();
	}
	return 0;
}
