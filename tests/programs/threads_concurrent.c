/* Proves: allocations from 8 threads at once are all tracked; per-site grouping adds up blocks of all threads
 * Expect: leak → exactly `direct thread_leak_32 2560 80`, exit 23; free → leaks:[], exit 0 */
#include "gs_test.h"
#include <pthread.h>

#define N_THREADS 8
#define N_ALLOCS 1000
#define N_LEAKS 10

static int do_free;
static pthread_barrier_t start;

static GS_NOINLINE void *thread_leak_32(void)
{
	return malloc(32);
}

static GS_NOINLINE void thread_churn(size_t n)
{
	void *volatile p = malloc(n);
	memset(p, 1, n);
	free(p);
}

static void *worker(void *arg)
{
	(void)arg;
	void *kept[N_LEAKS];
	int k = 0;
	pthread_barrier_wait(&start);
	for (int i = 0; i < N_ALLOCS; i++) {
		if (i % (N_ALLOCS / N_LEAKS) == 0)
			kept[k++] = thread_leak_32();
		else
			thread_churn(16 + (size_t)(i % 64) * 8);
	}
	for (int i = 0; i < N_LEAKS; i++) {
		if (do_free)
			free(kept[i]);
		kept[i] = NULL;
	}
	gs_test_clear_stack();
	return NULL;
}

/* usage: threads_concurrent [leak|free] */
int main(int argc, char **argv)
{
	pthread_t t[N_THREADS];
	do_free = strcmp(gs_test_arg(argc, argv, 1, "leak"), "free") == 0;
	pthread_barrier_init(&start, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++)
		if (pthread_create(&t[i], NULL, worker, NULL) != 0)
			return 2;
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(t[i], NULL);
	printf("threads %d allocations %d\n", N_THREADS, N_THREADS * N_ALLOCS);
	gs_test_clear_stack();
	return 0;
}
