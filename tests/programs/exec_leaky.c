/* Proves: a program exec'ed under the inherited LD_PRELOAD is checked and writes its own report; the replaced image reports nothing
 * Expect: leak → one report (same pid) with exactly `direct leak_direct_48 48 1`, exit 23 (pre_exec_leak_88 absent); free → leaks:[], exit 0 */
#include "gs_test.h"

static GS_NOINLINE void pre_exec_leak_88(void)
{
	void *volatile p = malloc(88);
	gs_test_print_address("pre-exec block", p);
	p = NULL;
}

/* usage: exec_leaky [leak|free] — execs build/tests/leak_direct with that mode */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "leak");
	char path[4096];
	gs_test_sibling(path, sizeof path, "leak_direct");
	pre_exec_leak_88();
	printf("exec pid %d\n", (int)getpid());
	fflush(stdout);
	execl(path, path, mode, (char *)NULL);
	perror("execl");
	return 2;
}
