/* Proves: with shm_stats=1 a running program's counters can be read from outside (guardshim stat/top) and /dev/shm/guardshim.<pid> exists (mode 0600) only while it runs: removed at a normal exit, left behind by _exit
 * Expect: BLOCKS STOPFILE [exit|_exit|leak] [MAX_MS] → "pid N", "ready" once BLOCKS blocks of 48 B from shm_keep_block are live, churns malloc/free (shm_churn) until STOPFILE exists (or MAX_MS, default 20000), prints "segment present|absent" as seen from inside, then exit(0) (leaks:[], segment gone), _exit(0) (segment stays) or leak: one kept block dropped, exit 23 with `direct shm_keep_block 48 1` (segment gone too) */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "gs_test.h"

#define MAXB 100000

static void *volatile kept[MAXB];

static GS_NOINLINE void shm_keep_block(int i)
{
	kept[i] = malloc(48);
	memset(kept[i], 0x5a, 48);
}

static GS_NOINLINE void shm_churn(void)
{
	for (int i = 0; i < 100; i++) {
		void *volatile p = malloc(32 + (size_t)i);
		free(p);
	}
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int blocks = atoi(gs_test_arg(argc, argv, 1, "1000"));
	const char *stopfile = gs_test_arg(argc, argv, 2, "/nonexistent/stop");
	const char *end = gs_test_arg(argc, argv, 3, "exit");
	int use_exit = strcmp(end, "_exit") != 0, leak = strcmp(end, "leak") == 0;
	double max_ms = atof(gs_test_arg(argc, argv, 4, "20000"));
	if (blocks < 0 || blocks > MAXB)
		return 2;
	double t0 = now_ms();
	for (int i = 0; i < blocks; i++)
		shm_keep_block(i);
	printf("pid %d\n", (int)getpid());
	printf("ready\n");
	fflush(stdout);
	while (access(stopfile, F_OK) != 0 && now_ms() - t0 < max_ms) {
		shm_churn();
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/guardshim.%d", (int)getpid());
	printf("segment %s\n", access(path, F_OK) == 0 ? "present" : "absent");
	fflush(stdout);
	gs_test_clear_stack();
	if (!use_exit)
		_exit(0);
	for (int i = leak ? 1 : 0; i < blocks; i++)
		free(kept[i]);
	kept[0] = NULL;
	gs_test_clear_stack();
	return 0;
}
