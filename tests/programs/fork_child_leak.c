/* Proves: after fork, parent and child are checked separately; each writes its own report (log_path %p) with exactly its own leak
 * Expect: leak → parent `direct parent_leak_24 24 1`, child `direct child_leak_40 40 1`, both exit 23; clean → two reports with leaks:[], exit 0 */
#include "gs_test.h"
#include <sys/wait.h>

static GS_NOINLINE void parent_leak_24(int do_free)
{
	void *volatile p = malloc(24);
	gs_test_print_address("parent block", p);
	if (do_free)
		free(p);
	p = NULL;
}

static GS_NOINLINE void child_leak_40(int do_free)
{
	void *volatile p = malloc(40);
	gs_test_print_address("child block", p);
	if (do_free)
		free(p);
	p = NULL;
}

/* usage: fork_child_leak [leak|clean] */
int main(int argc, char **argv)
{
	int clean = strcmp(gs_test_arg(argc, argv, 1, "leak"), "clean") == 0;
	printf("parent pid %d\n", (int)getpid());
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 2;
	}
	if (pid == 0) {
		printf("child pid %d\n", (int)getpid());
		child_leak_40(clean);
		gs_test_clear_stack();
		return 0;                 /* normal exit: the child's own check runs */
	}
	parent_leak_24(clean);
	int status = 0;
	if (waitpid(pid, &status, 0) != pid)
		return 2;
	printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
