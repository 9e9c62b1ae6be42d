/* Proves: 100 threads that start and exit during the program leave nothing behind that looks like a leak (TLS, stacks, DTV)
 * Expect: clean → leaks:[], exit 0; leak (each thread drops one block) → exactly `direct short_thread_leak_16 1600 100`, exit 23 */
#include "gs_test.h"
#include <pthread.h>

static int leak;
__thread void *volatile per_thread;

static GS_NOINLINE void *short_thread_leak_16(void)
{
	return malloc(16);
}

static void *worker(void *arg)
{
	(void)arg;
	per_thread = malloc(200);            /* freed before the thread exits */
	void *volatile p = short_thread_leak_16();
	if (!leak)
		free(p);
	p = NULL;
	free(per_thread);
	per_thread = NULL;
	gs_test_clear_stack();
	return NULL;
}

/* usage: threads_short_lived [clean|leak] */
int main(int argc, char **argv)
{
	leak = strcmp(gs_test_arg(argc, argv, 1, "clean"), "leak") == 0;
	for (int round = 0; round < 10; round++) {
		pthread_t t[10];
		for (int i = 0; i < 10; i++)
			if (pthread_create(&t[i], NULL, worker, NULL) != 0)
				return 2;
		for (int i = 0; i < 10; i++)
			pthread_join(t[i], NULL);
	}
	printf("threads 100\n");
	gs_test_clear_stack();
	return 0;
}
