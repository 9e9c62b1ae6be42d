/* Proves: a scan stops every thread even while threads are inside libunwind, which blocks every signal while it waits for the loader lock the scan holds (such a thread is parked, not waited for and given up on)
 * Expect: "collections 60", no "did not stop" line at verbosity=1, a clean exit report (exit 0) */
#include <pthread.h>
#include <stdatomic.h>

#include "guardshim.h"
#include "gs_test.h"

static atomic_int done;

/* A fresh chain of return addresses at every depth: most allocations miss
 * the stack cache and unwind through libunwind. */
static GS_NOINLINE void *descend(unsigned depth)
{
	void *p = depth ? descend(depth - 1) : malloc(24);
	__asm__ volatile("" : "+r"(p)::"memory");
	return p;
}

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	while (!atomic_load(&done)) {
		seed = seed * 1103515245u + 12345u;
		free(descend(1 + (seed >> 16) % 200));
	}
	return NULL;
}

/* usage: stress_stop_unwinding (run with verbosity=1) */
int main(void)
{
	gs_test_require_shim();
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)) != 0)
			return 2;
	int n = 0;
	for (; n < 60; n++)
		gs_collect();
	atomic_store(&done, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("collections %d\n", n);
	return 0;
}
