/* Proves: fork while 8 threads allocate heavily (so the shim's locks are often held at the fork)
 * never deadlocks a child: 200 forks, each child mallocs, frees and _exit(0)s; the parent reaps all.
 * Not a benchmark. Expect: stdout "pid N", "forks 200 ok 200"; parent exit status 0 (its report
 * clean: the threads free everything before main returns). */
#include "gs_test.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#define N_THREADS 8
#define N_FORKS 200

static atomic_int stop;

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *keep[32] = {0};
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		seed = seed * 1103515245u + 12345u;
		unsigned s = (seed >> 8) % 32;
		free(keep[s]);
		keep[s] = (seed & 1) ? malloc((seed >> 12) % 4096 + 1) : calloc(1, (seed >> 12) % 300 + 1);
	}
	for (int i = 0; i < 32; i++)
		free(keep[i]);
	return NULL;
}

int main(void)
{
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	pthread_t ts[N_THREADS];
	for (int i = 0; i < N_THREADS; i++)
		pthread_create(&ts[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	int ok = 0, forks = 0;
	for (int i = 0; i < N_FORKS; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			continue;
		}
		if (pid == 0) {
			void *volatile p = malloc(64 + (size_t)i);
			free(p);
			p = calloc(4, 100);
			free(p);
			_exit(0);
		}
		forks++;
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < N_THREADS; i++)
		pthread_join(ts[i], NULL);
	printf("forks %d ok %d\n", forks, ok);
	gs_test_clear_stack();
	return 0;
}
