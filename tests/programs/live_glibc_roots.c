/* Proves: with scan_mappings=1 memory glibc's malloc hands out without the shim seeing it (an mmapped chunk, a thread arena's heap: what the shim's own libraries allocate) is no root, while a program's raw mmap (pymalloc's arenas) is one
 * Expect: WHERE = chunk|arena|mmap|none → the only pointer to a 40 B block from keep_target is stored in a 1 MiB __libc_malloc chunk, in a __libc_malloc block of a thread that allocates nothing else, in an anonymous mmap, or nowhere; gs_check_leaks then prints "check N": chunk, arena, none → N=1 (`direct keep_target 40 1`); mmap → N=0 */
#include <pthread.h>
#include <sys/mman.h>

#include "guardshim.h"
#include "gs_test.h"

/* glibc's own malloc: the shim does not interpose it, so what it returns
 * is untracked glibc memory, as the shim's own libraries get. */
extern void *__libc_malloc(size_t size);

static void *volatile target;
static void **volatile holder; /* untracked or raw memory: never a block */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int stored, done;

static GS_NOINLINE void keep_target(void)
{
	target = malloc(40);
	memset(target, 0x11, 40);
}

/* Moves the only pointer from `target` into holder[8]. */
static GS_NOINLINE void move_target(void)
{
	holder[8] = target;
	target = NULL;
}

/* A thread whose arena holds only glibc's untracked chunks. */
static void *arena_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		holder = __libc_malloc(64);
	move_target();
	gs_test_clear_stack();
	pthread_mutex_lock(&mu);
	stored = 1;
	pthread_cond_broadcast(&cv);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *where = gs_test_arg(argc, argv, 1, "none");
	gs_test_require_shim();
	keep_target();
	pthread_t t;
	int thread = 0;
	if (!strcmp(where, "chunk")) {
		holder = __libc_malloc(1 << 20);
		move_target();
	} else if (!strcmp(where, "mmap")) {
		holder = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (holder == MAP_FAILED)
			return 2;
		move_target();
	} else if (!strcmp(where, "arena")) {
		if (pthread_create(&t, NULL, arena_thread, NULL))
			return 2;
		thread = 1;
		pthread_mutex_lock(&mu);
		while (!stored)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
	} else {
		target = NULL;
	}
	gs_test_clear_stack();
	printf("check %zu\n", gs_check_leaks());
	fflush(stdout);
	if (thread) {
		pthread_mutex_lock(&mu);
		done = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		pthread_join(t, NULL);
	}
	return 0;
}
