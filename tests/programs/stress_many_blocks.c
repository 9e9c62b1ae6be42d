/* Proves: 100,000 leaked blocks from one call site make one complete record (blocks=100000), not a truncated report
 * Expect: leak → exactly `direct leak_one_16 1600000 100000`, exit 23; free → leaks:[], exit 0
 * (Not a benchmark: no timing is measured or asserted here; see bench/.) */
#include "gs_test.h"

#define N_BLOCKS 100000

static GS_NOINLINE void *leak_one_16(void)
{
	return malloc(16);
}

/* usage: stress_many_blocks [leak|free] */
int main(int argc, char **argv)
{
	int do_free = strcmp(gs_test_arg(argc, argv, 1, "leak"), "free") == 0;
	void **all = do_free ? malloc(N_BLOCKS * sizeof *all) : NULL;
	for (int i = 0; i < N_BLOCKS; i++) {
		void *volatile p = leak_one_16();
		if (all)
			all[i] = p;
		p = NULL;
	}
	if (all) {
		for (int i = 0; i < N_BLOCKS; i++)
			free(all[i]);
		free(all);
	}
	printf("blocks %d\n", N_BLOCKS);
	gs_test_clear_stack();
	return 0;
}
