/* Proves: main returning (exit, atexit, the exit check) while 8 threads are inside malloc/free in a
 * tight loop neither crashes nor hangs, and the exit report is written. Not a benchmark.
 * Expect: stdout "pid N" then "exiting"; exit status 0 and a clean exit report with the threads'
 * 128 kept blocks reachable (a block a stopped thread holds only in a register is read from its
 * signal frame), never a signal or a timeout. */
#include "gs_test.h"

#include <pthread.h>
#include <time.h>

#define N_THREADS 8

static void *spin(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *volatile keep[16] = {0};
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		unsigned s = (seed >> 8) % 16;
		free(keep[s]);
		keep[s] = malloc((seed >> 12) % 2048 + 1);
	}
	return NULL;
}

int main(void)
{
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	pthread_t t;
	for (int i = 0; i < N_THREADS; i++)
		if (pthread_create(&t, NULL, spin, (void *)(uintptr_t)(i + 1)) != 0) {
			perror("pthread_create");
			return 2;
		}
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	printf("exiting\n");
	fflush(stdout);
	return 0; /* exit() with every other thread still in malloc/free */
}
