/* Proves: allocation sizes that overflow (SIZE_MAX, SIZE_MAX/2+1, n*m wrapping) and bad alignments
 * give the same results under the shim as under glibc alone: NULL with ENOMEM, EINVAL for a bad
 * alignment, no size computation in the shim wraps into a small block.
 * Expect: the same stdout with and without the shim; every line "NULL ENOMEM" or "EINVAL"; exit 0. */
#include "gs_test.h"

#include <errno.h>
#include <malloc.h>

/* The sizes are meant to be impossible. */
#pragma GCC diagnostic ignored "-Walloc-size-larger-than="

#define HALF ((SIZE_MAX >> 1) + 1)

static void show(const char *what, void *p)
{
	int e = errno;
	if (p)
		printf("%-40s non-NULL (usable %s)\n", what, malloc_usable_size(p) >= 16 ? ">=16" : "<16");
	else
		printf("%-40s NULL %s\n", what, e == ENOMEM ? "ENOMEM" : e == EINVAL ? "EINVAL" : "other");
	free(p);
}

static void show_pm(const char *what, size_t align, size_t size)
{
	void *p = (void *)1;
	int r = posix_memalign(&p, align, size);
	printf("%-40s %s%s\n", what, r == 0 ? "0" : r == ENOMEM ? "ENOMEM" : r == EINVAL ? "EINVAL" : "other",
	       r == 0 ? "" : (p == (void *)1 ? " (untouched)" : " (clobbered)"));
	if (r == 0)
		free(p);
}

int main(void)
{
	void *small = malloc(32);
	errno = 0; show("malloc(SIZE_MAX)", malloc(SIZE_MAX));
	errno = 0; show("malloc(SIZE_MAX/2+1)", malloc(HALF));
	errno = 0; show("malloc(SIZE_MAX-15)", malloc(SIZE_MAX - 15));
	errno = 0; show("calloc(SIZE_MAX, 2)", calloc(SIZE_MAX, 2));
	errno = 0; show("calloc(SIZE_MAX/2+1, 2)", calloc(HALF, 2));
	errno = 0; show("calloc(2^33, 2^33)", calloc((size_t)1 << 33, (size_t)1 << 33));
	errno = 0; show("calloc(2^32+1, 2^32-1)", calloc(((size_t)1 << 32) + 1, ((size_t)1 << 32) - 1));
	errno = 0; show("calloc(1, SIZE_MAX)", calloc(1, SIZE_MAX));
	errno = 0; show("realloc(NULL, SIZE_MAX)", realloc(NULL, SIZE_MAX));
	errno = 0;
	void *r = realloc(small, SIZE_MAX);
	show("realloc(p, SIZE_MAX)", r);
	errno = 0;
	r = reallocarray(small, HALF, 2);
	show("reallocarray(p, SIZE_MAX/2+1, 2)", r);
	errno = 0;
	r = reallocarray(small, (size_t)1 << 33, (size_t)1 << 33);
	show("reallocarray(p, 2^33, 2^33)", r);
	errno = 0; show("reallocarray(NULL, SIZE_MAX, SIZE_MAX)", reallocarray(NULL, SIZE_MAX, SIZE_MAX));
	errno = 0; show("memalign(64, SIZE_MAX)", memalign(64, SIZE_MAX));
	errno = 0; show("memalign(64, SIZE_MAX-62)", memalign(64, SIZE_MAX - 62));
	errno = 0; show("memalign(2^62, 16)", memalign((size_t)1 << 62, 16));
	errno = 0; show("memalign(HALF, HALF)", memalign(HALF, HALF));
	errno = 0; show("aligned_alloc(64, SIZE_MAX)", aligned_alloc(64, SIZE_MAX));
	errno = 0; show("aligned_alloc(4096, SIZE_MAX-4000)", aligned_alloc(4096, SIZE_MAX - 4000));
	errno = 0; show("aligned_alloc(HALF, 16)", aligned_alloc(HALF, 16));
	errno = 0; show("valloc(SIZE_MAX)", valloc(SIZE_MAX));
	errno = 0; show("valloc(SIZE_MAX-4000)", valloc(SIZE_MAX - 4000));
	errno = 0; show("pvalloc(SIZE_MAX)", pvalloc(SIZE_MAX));
	errno = 0; show("pvalloc(SIZE_MAX-4000)", pvalloc(SIZE_MAX - 4000));
	show_pm("posix_memalign(64, SIZE_MAX)", 64, SIZE_MAX);
	show_pm("posix_memalign(64, SIZE_MAX-62)", 64, SIZE_MAX - 62);
	show_pm("posix_memalign(HALF, 16)", HALF, 16);
	show_pm("posix_memalign(3, 16) bad alignment", 3, 16);
	show_pm("posix_memalign(4, 16) < sizeof(void*)", 4, 16);
	show_pm("posix_memalign(0, 16)", 0, 16);
	free(small);
	printf("done\n");
	return 0;
}
