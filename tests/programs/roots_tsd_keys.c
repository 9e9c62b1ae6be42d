/* Proves: values stored with pthread_setspecific are roots for every key index, including keys >= 32, whose values glibc keeps in a second-level array it allocates on the thread's first use of such a key (that array must be tracked, so it must not be allocated while the shim itself runs)
 * Expect: main / thread → leaks:[]; main-clear → `direct tsd_alloc_main_99 99 1`; thread-clear → `direct tsd_alloc_thread_77 77 1` (exit 23) */
#include "gs_test.h"

#define KEYS 40 /* the last ones land in glibc's second level (index >= 32) */

static pthread_key_t keys[KEYS];
static int clear;

static GS_NOINLINE void *tsd_alloc_main_99(void) { return malloc(99); }
static GS_NOINLINE void *tsd_alloc_thread_77(void) { return malloc(77); }

static GS_NOINLINE void set_last_key(void *(*alloc)(void))
{
	if (pthread_setspecific(keys[KEYS - 1], alloc()) != 0)
		exit(2);
	if (clear && pthread_setspecific(keys[KEYS - 1], NULL) != 0)
		exit(2);
}

static void hold(void) { set_last_key(tsd_alloc_thread_77); }

/* usage: roots_tsd_keys main|thread|main-clear|thread-clear */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "main");
	clear = strstr(mode, "-clear") != NULL;
	/* Keys first, before any allocation of the program's own. */
	for (int i = 0; i < KEYS; i++)
		if (pthread_key_create(&keys[i], NULL) != 0)
			return 2;
	if (strncmp(mode, "main", 4) == 0) {
		set_last_key(tsd_alloc_main_99);
	} else if (strncmp(mode, "thread", 6) == 0) {
		if (gs_test_hold_thread(hold) != 0)
			return 2;
	} else {
		return 2;
	}
	gs_test_clear_stack();
	return 0;
}
