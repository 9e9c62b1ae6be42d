/* Proves: a program that closes fds 0, 1 and 2 before exit still gets its report written to log_path
 * Expect: leak → report with `direct leak_after_close_48 48 1`, exit 23; free → report with leaks:[], exit 0 */
#include "gs_test.h"

static GS_NOINLINE void *leak_after_close_48(void)
{
	return malloc(48);
}

/* usage: report_closed_fds [leak|free] */
int main(int argc, char **argv)
{
	int do_free = strcmp(gs_test_arg(argc, argv, 1, "leak"), "free") == 0;
	void *volatile p = leak_after_close_48();
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	close(0);
	close(1);
	close(2);
	if (do_free)
		free(p);
	p = NULL;
	gs_test_clear_stack();
	return 0;
}
