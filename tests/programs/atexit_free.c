/* Proves: the exit check runs after the program's atexit handlers: a block they free is not reported
 * Expect: free → leaks:[], exit 0; nofree (handler runs, frees nothing) → `direct hidden_block_144 144 1`, exit 23 */
#include "gs_test.h"

#define HIDE_MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)

/* XOR-hidden: the scanner cannot see this pointer, so only the handler's
 * free() keeps the block from being a leak. */
static volatile uintptr_t hidden;
static int do_free;

static GS_NOINLINE void *hidden_block_144(void)
{
	void *p = malloc(144);
	gs_test_print_address("block", p);
	return p;
}

static void release_hidden(void)
{
	printf("atexit handler ran\n");
	fflush(stdout);
	if (do_free)
		free((void *)(hidden ^ HIDE_MASK));
	hidden = 0;
}

/* usage: atexit_free [free|nofree] */
int main(int argc, char **argv)
{
	do_free = strcmp(gs_test_arg(argc, argv, 1, "free"), "free") == 0;
	hidden = (uintptr_t)hidden_block_144() ^ HIDE_MASK;
	if (atexit(release_hidden) != 0)
		return 2;
	gs_test_clear_stack();
	return 0;
}
