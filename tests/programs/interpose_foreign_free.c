/* Proves: a pointer the shim never handed out is forwarded to glibc untouched (glibc's own block, an mmap'ed page in glibc's mmapped-chunk layout), realloc of one gives a tracked block, and free of a static buffer is reported as misuse, never passed on, and survived
 * Expect: libc → "reused 1", leaks:[], no misuse report, same stdout without the shim; mmap-chunk → "released 1", same; realloc → `direct realloc_foreign_200 200 1`; realloc-free → leaks:[]; static → "still running", exit 0, one invalid-free error with frame free_static_buffer */
#define _GNU_SOURCE
#include "gs_test.h"
#include <errno.h>
#include <sys/mman.h>

/* glibc's entry points: blocks from here were never seen by the shim. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static void *volatile sink;
static char static_buffer[64];

/* The block is glibc's, so only glibc can free it: if free() forwarded
 * it, glibc's tcache hands the same address to the next malloc of its size. */
static GS_NOINLINE void free_libc_block(void)
{
	void *p = __libc_malloc(72);
	free(p);
	void *q = __libc_malloc(72);
	printf("reused %d\n", p == q);
	__libc_free(q);
}

/* A page laid out as glibc lays out a chunk it mmap'ed itself (prev_size 0,
 * size 4096 | IS_MMAPPED, user pointer at +16): glibc's free munmaps it. */
static GS_NOINLINE void free_mmap_chunk(void)
{
	size_t *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		exit(2);
	page[0] = 0;
	page[1] = 4096 | 2;
	free(page + 2);
	unsigned char vec;
	errno = 0;
	int gone = mincore(page, 4096, &vec) != 0 && errno == ENOMEM;
	printf("released %d\n", gone);
}

static GS_NOINLINE void *realloc_foreign_200(void *p)
{
	return realloc(p, 200);
}

static GS_NOINLINE void free_static_buffer(void)
{
	free(static_buffer + 16);
}

/* usage: interpose_foreign_free libc|mmap-chunk|realloc|realloc-free|static */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "libc");
	if (strcmp(mode, "libc") == 0) {
		free_libc_block();
	} else if (strcmp(mode, "mmap-chunk") == 0) {
		free_mmap_chunk();
	} else if (strcmp(mode, "realloc") == 0 || strcmp(mode, "realloc-free") == 0) {
		void *p = __libc_malloc(40);
		if (!p)
			return 2;
		memset(p, 'x', 40);
		sink = realloc_foreign_200(p);
		if (!sink)
			return 2;
		printf("kept %d\n", memcmp((char *)sink + 39, "x", 1) == 0);
		if (strcmp(mode, "realloc-free") == 0)
			free(sink);
		sink = NULL;
	} else if (strcmp(mode, "static") == 0) {
		free_static_buffer();
		printf("still running\n");
	} else {
		return 2;
	}
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
