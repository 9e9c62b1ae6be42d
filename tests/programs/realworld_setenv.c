/* Proves: glibc's setenv bookkeeping (a tsearch tree in libc whose red nodes are referenced
 * through low-bit-tagged pointers) is not reported: N setenv calls leave zero records.
 * Expect: `leaks:[]`, exit 0, stdout "set N". Argument: N (default 8). */
#include "gs_test.h"

int main(int argc, char **argv)
{
	int n = atoi(gs_test_arg(argc, argv, 1, "8"));
	char name[32];
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof name, "GS_SETENV_%d", i);
		if (setenv(name, "value", 1) != 0) {
			perror("setenv");
			return 2;
		}
	}
	printf("set %d\n", n);
	gs_test_clear_stack();
	return 0;
}
