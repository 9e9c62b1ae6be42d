/* Proves: an incremental scan does not trust what it recorded of a page the program discarded since (madvise MADV_DONTNEED zeroes it without a write; read back afterwards it maps the zero page): the only pointer to a block lived there, so the block is a leak, as a full scan says
 * Expect: [read] → "discarded" (and "read 0" with read); api reports: none, none, then make_target (40 B, 1 block, direct); exit 23 with it */
#include <sys/mman.h>

#include "guardshim.h"
#include "gs_test.h"

static char *volatile big;   /* 1 MiB: an mmapped chunk of its own */
static void *volatile sink;

static GS_NOINLINE void make_target(void)
{
	void **slot = (void **)(big + 2 * 4096 + 128);
	sink = malloc(40);
	memset(sink, 3, 40);
	*slot = sink;
	sink = NULL;
}

int main(int argc, char **argv)
{
	int with_read = strcmp(gs_test_arg(argc, argv, 1, ""), "read") == 0;
	big = malloc(1 << 20);
	memset(big, 0, 1 << 20);
	make_target();
	gs_test_clear_stack();
	gs_check_leaks();
	gs_check_leaks();
	char *page = (char *)(((uintptr_t)big + 2 * 4096) & ~(uintptr_t)4095);
	if (madvise(page, 4096, MADV_DONTNEED) != 0) {
		perror("madvise");
		return 1;
	}
	printf("discarded\n");
	if (with_read)
		printf("read %d\n", ((volatile char *)page)[200]);
	gs_test_clear_stack();
	gs_check_leaks();
	return 0;
}
