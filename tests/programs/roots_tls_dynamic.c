/* Proves: a __thread variable inside a dlopen'ed library (dynamic TLS) is a root, for the main thread and a blocked thread
 * Expect: main|thread → leaks:[]; main-clear|thread-clear → `direct alloc_tls_dyn_104 104 1`, exit 23 */
#include "gs_test.h"
#include <dlfcn.h>

static void (*set_fn)(void *);
static void *(*get_fn)(void);
static int clear;

static GS_NOINLINE void *alloc_tls_dyn_104(void)
{
	void *p = malloc(104);
	gs_test_print_address("block", p);
	return p;
}

static GS_NOINLINE void store(void)
{
	set_fn(alloc_tls_dyn_104());
	if (clear)
		set_fn(NULL);
	printf("slot %s\n", get_fn() ? "set" : "empty");
	fflush(stdout);
}


/* usage: roots_tls_dynamic main|thread|main-clear|thread-clear */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "main");
	char path[4096];
	clear = strstr(mode, "-clear") != NULL;
	gs_test_sibling(path, sizeof path, "libtlsholder.so");
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	set_fn = (void (*)(void *))dlsym(h, "tlsholder_set");
	get_fn = (void *(*)(void))dlsym(h, "tlsholder_get");
	if (!set_fn || !get_fn)
		return 2;
	if (strncmp(mode, "main", 4) == 0) {
		store();
	} else if (strncmp(mode, "thread", 6) == 0) {
		if (gs_test_hold_thread(store) != 0)
			return 2;
	} else {
		return 2;
	}
	gs_test_clear_stack();
	return 0;
}
