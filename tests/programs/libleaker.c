/* Proves: (library for leak_dlclosed_lib) a library that leaks and is dlclose'd before exit
 * Expect: built as build/tests/libleaker.so; leaker_leak_56 drops a 56-byte block, leaker_keep_64 keeps one in its own .bss */
#include <stdlib.h>

void leaker_leak_56(int release);
void leaker_keep_64(void);
void leaker_release(void);

static void *volatile kept;
static void *volatile leaked;

void leaker_leak_56(int release)
{
	void *volatile p = malloc(56);
	if (release)
		leaked = p;       /* leaker_release() frees it */
	p = NULL;
}

void leaker_keep_64(void)
{
	kept = malloc(64);
}

void leaker_release(void)
{
	free(leaked);
	free(kept);
	leaked = kept = NULL;
}
