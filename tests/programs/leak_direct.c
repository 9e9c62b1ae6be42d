/* Proves: a block whose only pointer is dropped is reported as one direct leak
 * Expect: leak → `direct leak_direct_48 48 1`, exit 23; free/keep → leaks:[], exit STATUS */
#include "gs_test.h"

void *volatile kept_global;

static GS_NOINLINE void *leak_direct_48(void)
{
	void *volatile p = malloc(48);
	gs_test_print_address("leak_direct_48", p);
	return p;
}

static GS_NOINLINE void work(const char *mode)
{
	void *volatile sink = leak_direct_48();
	if (strcmp(mode, "free") == 0)
		free(sink);
	else if (strcmp(mode, "keep") == 0)
		kept_global = sink;
	sink = NULL;
}

/* usage: leak_direct [leak|free|keep] [STATUS] */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "leak");
	int status = atoi(gs_test_arg(argc, argv, 2, "0"));
	printf("pid %d\n", (int)getpid());
	work(mode);
	gs_test_clear_stack();
	return status;
}
