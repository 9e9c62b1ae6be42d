/* Proves: a block reached only through an interior pointer is a possible leak, not reachable and not direct
 * Expect: interior → `possible alloc_interior_64 64 1`, exit 23; start → leaks:[]; none → `direct alloc_interior_64 64 1` */
#include "gs_test.h"

char *volatile interior_root;

static GS_NOINLINE char *alloc_interior_64(void)
{
	char *p = malloc(64);
	memset(p, 0, 64);
	return p;
}

static GS_NOINLINE void work(const char *mode)
{
	char *volatile p = alloc_interior_64();
	gs_test_print_address("block", p);
	if (strcmp(mode, "interior") == 0)
		interior_root = p + 16;
	else if (strcmp(mode, "start") == 0)
		interior_root = p;
	p = NULL;
}

/* usage: leak_possible_interior [interior|start|none] */
int main(int argc, char **argv)
{
	work(gs_test_arg(argc, argv, 1, "interior"));
	gs_test_clear_stack();
	return 0;
}
