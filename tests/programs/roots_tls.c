/* Proves: __thread variables are roots, both the main thread's and a live (blocked) thread's
 * Expect: main → leaks:[]; thread → leaks:[]; main-clear → `direct alloc_tls_main_72 72 1`; thread-clear → `direct alloc_tls_thread_88 88 1` (exit 23) */
#include "gs_test.h"

__thread void *volatile tls_slot;
static int clear;

static GS_NOINLINE void *alloc_tls_main_72(void)
{
	void *p = malloc(72);
	gs_test_print_address("main block", p);
	return p;
}

static GS_NOINLINE void *alloc_tls_thread_88(void)
{
	void *p = malloc(88);
	gs_test_print_address("thread block", p);
	return p;
}

static GS_NOINLINE void set_slot(void *(*alloc)(void))
{
	tls_slot = alloc();
	if (clear)
		tls_slot = NULL;
}

static void hold(void) { set_slot(alloc_tls_thread_88); }

/* usage: roots_tls main|thread|main-clear|thread-clear */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "main");
	clear = strstr(mode, "-clear") != NULL;
	if (strncmp(mode, "main", 4) == 0) {
		set_slot(alloc_tls_main_72);
	} else if (strncmp(mode, "thread", 6) == 0) {
		if (gs_test_hold_thread(hold) != 0)
			return 2;
	} else {
		return 2;
	}
	gs_test_clear_stack();
	return 0;
}
