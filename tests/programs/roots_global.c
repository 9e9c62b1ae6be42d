/* Proves: pointers in an initialised global (.data), a static local and a bss array are roots
 * Expect: data|static|bss → leaks:[], exit 0; MODE-clear (root set, then cleared) → `direct alloc_rooted_80 80 1`, exit 23 */
#include "gs_test.h"

void *volatile data_root = (void *)&data_root;   /* initialised: lives in .data */
void *volatile bss_array[16];                     /* zero: lives in .bss */

static GS_NOINLINE void *alloc_rooted_80(void)
{
	void *p = malloc(80);
	gs_test_print_address("block", p);
	return p;
}

static GS_NOINLINE void static_local(void *p, int set)
{
	static void *volatile kept = (void *)&kept;
	if (set)
		kept = p;
	else
		kept = NULL;
}

static GS_NOINLINE void work(const char *mode)
{
	int clear = strstr(mode, "-clear") != NULL;
	void *volatile p = alloc_rooted_80();
	if (strncmp(mode, "data", 4) == 0) {
		data_root = p;
		if (clear)
			data_root = NULL;
	} else if (strncmp(mode, "static", 6) == 0) {
		static_local(p, 1);
		if (clear)
			static_local(NULL, 0);
	} else if (strncmp(mode, "bss", 3) == 0) {
		bss_array[7] = p;
		if (clear)
			bss_array[7] = NULL;
	} else {
		fprintf(stderr, "bad mode %s\n", mode);
		exit(2);
	}
	p = NULL;
}

/* usage: roots_global data|static|bss|data-clear|static-clear|bss-clear */
int main(int argc, char **argv)
{
	work(gs_test_arg(argc, argv, 1, "data"));
	gs_test_clear_stack();
	return 0;
}
