/* Proves: every allocator entry point is interposed and records the requested size and the calling function
 * Expect: leak → 9 direct records of 1 block each (leak_malloc_100 100, leak_calloc_120 120, leak_realloc_200 200, leak_reallocarray_220 220, leak_posix_memalign_256 256, leak_aligned_alloc_384 384, leak_memalign_96 96, leak_valloc_1000 1000, leak_pvalloc_4096 4096); free → leaks:[] */
#define _GNU_SOURCE
#include "gs_test.h"
#include <malloc.h>

#define N_ENTRY 9
static void *volatile blocks[N_ENTRY];   /* cleared before exit unless freed */

static GS_NOINLINE void *leak_malloc_100(void)
{
	return malloc(100);
}

static GS_NOINLINE void *leak_calloc_120(void)
{
	return calloc(10, 12);
}

static GS_NOINLINE void *leak_realloc_200(void)
{
	void *p = malloc(16);
	memset(p, 0x5a, 16);
	return realloc(p, 200);           /* grows: the block now has 200 bytes */
}

static GS_NOINLINE void *leak_reallocarray_220(void)
{
	return reallocarray(NULL, 20, 11);
}

static GS_NOINLINE void *leak_posix_memalign_256(void)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, 256) != 0)
		return NULL;
	return p;
}

static GS_NOINLINE void *leak_aligned_alloc_384(void)
{
	return aligned_alloc(128, 384);
}

static GS_NOINLINE void *leak_memalign_96(void)
{
	return memalign(32, 96);
}

static GS_NOINLINE void *leak_valloc_1000(void)
{
	return valloc(1000);
}

static GS_NOINLINE void *leak_pvalloc_4096(void)
{
	return pvalloc(4096);
}

static GS_NOINLINE void work(int do_free)
{
	static void *(*const fns[N_ENTRY])(void) = {
		leak_malloc_100, leak_calloc_120, leak_realloc_200,
		leak_reallocarray_220, leak_posix_memalign_256,
		leak_aligned_alloc_384, leak_memalign_96, leak_valloc_1000,
		leak_pvalloc_4096,
	};
	for (int i = 0; i < N_ENTRY; i++) {
		blocks[i] = fns[i]();
		if (!blocks[i]) {
			printf("entry %d returned NULL\n", i);
			exit(2);
		}
	}
	for (int i = 0; i < N_ENTRY; i++) {
		if (do_free)
			free(blocks[i]);
		blocks[i] = NULL;
	}
	printf("allocated %d\n", N_ENTRY);
}

/* usage: interpose_entry_points [leak|free] */
int main(int argc, char **argv)
{
	work(strcmp(gs_test_arg(argc, argv, 1, "leak"), "free") == 0);
	gs_test_clear_stack();
	return 0;
}
