/* Proves: with shm_stats=1 a fork child publishes nothing until it execs: a child that checks and _exits leaves no /dev/shm/guardshim.<child>, a child that checks and keeps running has none (guardshim stat: no stats), an exec'ed child publishes its own
 * Expect: STOPFILE → "pid P", "exited C" ×5 (each child mallocs, runs gs_check_leaks, _exit(0)), "child R checked" (R keeps running until STOPFILE), "exec E" (E execs live_shm 10 STOPFILE), "children ready"; once STOPFILE exists: "done", exit 0 */
#include <sys/wait.h>
#include <time.h>

#include "guardshim.h"
#include "gs_test.h"

static void *volatile sink;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* What a child does before it ends or waits: allocate and check, so the
 * shim has a scan result it could publish. */
static GS_NOINLINE void child_work(void)
{
	sink = malloc(10);
	if (gs_check_leaks)
		gs_check_leaks();
}

int main(int argc, char **argv)
{
	const char *stopfile = gs_test_arg(argc, argv, 1, "/nonexistent/stop");
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	for (int i = 0; i < 5; i++) {
		pid_t c = fork();
		if (c == 0) {
			child_work();
			_exit(0);
		}
		waitpid(c, NULL, 0);
		printf("exited %d\n", (int)c);
		fflush(stdout);
	}
	pid_t running = fork();
	if (running == 0) {
		child_work();
		printf("child %d checked\n", (int)getpid());
		fflush(stdout);
		while (access(stopfile, F_OK) != 0)
			sleep_ms(10);
		_exit(0);
	}
	char shm_prog[4096];
	gs_test_sibling(shm_prog, sizeof shm_prog, "live_shm");
	pid_t execd = fork();
	if (execd == 0) {
		execl(shm_prog, "live_shm", "10", stopfile, (char *)NULL);
		_exit(127);
	}
	printf("exec %d\n", (int)execd);
	printf("children ready\n");
	fflush(stdout);
	int st1, st2;
	waitpid(running, &st1, 0);
	waitpid(execd, &st2, 0);
	printf("done %d %d\n", WIFEXITED(st1) ? WEXITSTATUS(st1) : -1,
	       WIFEXITED(st2) ? WEXITSTATUS(st2) : -1);
	return 0;
}
