/* Proves: a pointer on the stack of another thread, blocked while main exits, keeps its block reachable
 * Expect: keep → leaks:[], exit 0; none (thread stores nothing) → `direct thread_alloc_64 64 1`, exit 23 */
#include "gs_test.h"
#include <pthread.h>
#include <semaphore.h>

static sem_t ready;
static int keep;

static GS_NOINLINE void *thread_alloc_64(void)
{
	void *p = malloc(64);
	gs_test_print_address("block", p);
	return p;
}

static GS_NOINLINE void drop_block(void)
{
	void *volatile p = thread_alloc_64();
	p = NULL;
}

static void *holder(void *arg)
{
	(void)arg;
	void *volatile kept = NULL;
	if (keep)
		kept = thread_alloc_64();
	else
		drop_block();
	gs_test_clear_stack();
	sem_post(&ready);
	for (;;)
		pause();        /* blocked for good: the process exits around it */
	return (void *)kept;
}

/* usage: roots_thread_stack [keep|none] */
int main(int argc, char **argv)
{
	pthread_t t;
	keep = strcmp(gs_test_arg(argc, argv, 1, "keep"), "keep") == 0;
	sem_init(&ready, 0, 0);
	if (pthread_create(&t, NULL, holder, NULL) != 0)
		return 2;
	while (sem_wait(&ready) != 0)
		;
	gs_test_clear_stack();
	return 0;
}
