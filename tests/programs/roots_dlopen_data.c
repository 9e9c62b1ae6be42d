/* Proves: a pointer kept in the .bss or .data of a dlopen'ed (still loaded) library keeps its block reachable
 * Expect: bss|data → leaks:[], exit 0; clear (stored, then cleared) → `direct alloc_lib_kept_112 112 1`, exit 23 */
#include "gs_test.h"
#include <dlfcn.h>

static GS_NOINLINE void *alloc_lib_kept_112(void)
{
	void *p = malloc(112);
	gs_test_print_address("block", p);
	return p;
}

/* usage: roots_dlopen_data bss|data|clear */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "bss");
	char path[4096];
	gs_test_sibling(path, sizeof path, "libdataholder.so");
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	void (*set)(void *, int) = (void (*)(void *, int))dlsym(h, "dataholder_set");
	if (!set)
		return 2;
	int in_data = strcmp(mode, "data") == 0;
	set(alloc_lib_kept_112(), in_data);
	if (strcmp(mode, "clear") == 0)
		set(NULL, 0);
	gs_test_clear_stack();
	return 0;
}
