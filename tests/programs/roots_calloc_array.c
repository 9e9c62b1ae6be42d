/* Proves: a calloc'd array of pointers is scanned like any block: its elements are the only references to 8 blocks, which stay reachable while a global holds the array and become indirect when it is dropped
 * Expect: keep → leaks:[]; drop → `direct alloc_pointer_array_64 64 1` + `indirect alloc_element_24 192 8`; clear-slots (array kept, its slots zeroed) → `direct alloc_element_24 192 8` */
#include "gs_test.h"

#define ELEMENTS 8

static void **volatile g_array;

static GS_NOINLINE void **alloc_pointer_array_64(void)
{
	return calloc(ELEMENTS, sizeof(void *));     /* 8 × 8 = 64 bytes, all NULL */
}

static GS_NOINLINE void *alloc_element_24(void)
{
	return malloc(24);
}

/* usage: roots_calloc_array keep|drop|clear-slots */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "keep");
	if (strcmp(mode, "keep") != 0 && strcmp(mode, "drop") != 0 && strcmp(mode, "clear-slots") != 0)
		return 2;
	g_array = alloc_pointer_array_64();
	if (!g_array)
		return 2;
	for (int i = 0; i < ELEMENTS; i++)
		g_array[i] = alloc_element_24();
	if (strcmp(mode, "drop") == 0)
		g_array = NULL;
	else if (strcmp(mode, "clear-slots") == 0)
		memset((void *)g_array, 0, ELEMENTS * sizeof(void *));
	printf("array %s\n", g_array ? "kept" : "dropped");
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
