/* Proves: a leak made inside a library that is dlclose'd before exit is still reported with the library's function name
 * Expect: leak → `direct leaker_leak_56 56 1`; keep (root in the library's .bss, unmapped by dlclose) → `direct leaker_keep_64 64 1`; free → leaks:[] */
#include "gs_test.h"
#include <dlfcn.h>

/* usage: leak_dlclosed_lib leak|keep|free */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "leak");
	char path[4096];
	gs_test_sibling(path, sizeof path, "libleaker.so");
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	void (*leak)(int) = (void (*)(int))dlsym(h, "leaker_leak_56");
	void (*keep)(void) = (void (*)(void))dlsym(h, "leaker_keep_64");
	void (*release)(void) = (void (*)(void))dlsym(h, "leaker_release");
	if (!leak || !keep || !release)
		return 2;
	if (strcmp(mode, "leak") == 0) {
		leak(0);
	} else if (strcmp(mode, "keep") == 0) {
		keep();
	} else if (strcmp(mode, "free") == 0) {
		leak(1);
		keep();
		release();
	} else {
		return 2;
	}
	leak = NULL;
	keep = NULL;
	release = NULL;
	if (dlclose(h) != 0) {
		fprintf(stderr, "dlclose: %s\n", dlerror());
		return 2;
	}
	printf("unloaded %s\n", dlopen(path, RTLD_NOW | RTLD_NOLOAD) ? "no" : "yes");
	gs_test_clear_stack();
	return 0;
}
