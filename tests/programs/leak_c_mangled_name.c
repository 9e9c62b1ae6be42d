/* Proves: the shim demangles with the libstdc++ the process already has, never its own: a C program (no libstdc++) keeps a `_Z` symbol as it is; once it dlopen's libstdc++ RTLD_LOCAL (as python3 loads a C++ extension) the same frame reads `plugin::make()`
 * Expect: plain → `direct _ZN6plugin4makeEv 48 1`, no "mangled" field; stdcxx-local → `direct plugin::make() 48 1` with "mangled":"_ZN6plugin4makeEv"; free → leaks:[] */
#include "gs_test.h"
#include <dlfcn.h>

static void *volatile sink;

/* A C function given the C++ linkage name of `plugin::make()`. */
void *_ZN6plugin4makeEv(void);

GS_NOINLINE void *_ZN6plugin4makeEv(void)
{
	return malloc(48);
}

/* usage: leak_c_mangled_name plain|stdcxx-local|free */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "plain");
	if (strcmp(mode, "stdcxx-local") == 0) {
		/* Kept open until exit: the report runs at exit. */
		if (!dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL)) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 2;
		}
	} else if (strcmp(mode, "plain") != 0 && strcmp(mode, "free") != 0) {
		return 2;
	}
	/* Without libstdc++ in the global scope, as the test needs. */
	printf("global __cxa_demangle %s\n", dlsym(RTLD_DEFAULT, "__cxa_demangle") ? "yes" : "no");
	sink = _ZN6plugin4makeEv();
	if (strcmp(mode, "free") == 0)
		free(sink);
	sink = NULL;
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
