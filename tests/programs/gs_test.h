/* gs_test.h: helpers shared by guardshim's test programs (header only).
 *
 * Conventions (tests/README.md): every leaking allocation happens in a
 * function of its own with a distinct name, the pointer is kept only in a
 * `volatile` sink, and the program wipes the dead part of its stack before it
 * returns so that a stale copy of a pointer in a dead frame cannot make a
 * leaked block look reachable (or hide a leak the test expects). */
#ifndef GS_TEST_H
#define GS_TEST_H

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GS_NOINLINE __attribute__((noinline, noclone))
#define GS_UNUSED __attribute__((unused))

/* Overwrites the 64 KiB of dead stack below the caller's frame. On x86-64 it
 * zeroes [sp - 64 KiB, sp) with rep stosq so that no slot is skipped (a C
 * buffer leaves the function's own padding slots unwritten, and a stale
 * pointer there outlives the wipe). The caller's live frame is untouched. */
static GS_NOINLINE GS_UNUSED void gs_test_clear_stack(void)
{
#if defined(__x86_64__)
	__asm__ volatile("mov %%rsp, %%rdi\n\t"
			 "sub $65536, %%rdi\n\t"
			 "mov $8192, %%rcx\n\t"
			 "xor %%eax, %%eax\n\t"
			 "cld\n\t"
			 "rep stosq"
			 ::: "rdi", "rcx", "rax", "memory", "cc");
#else
	volatile char buf[64 * 1024];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = 0;
#endif
}

static sem_t gs_test_held;

static void *gs_test_holder(void *fn)
{
	((void (*)(void))fn)();
	gs_test_clear_stack();
	sem_post(&gs_test_held);
	for (;;)
		pause(); /* blocked for good: the process exits around it */
	return NULL;
}

/* Runs `fn` on a new thread that then wipes its dead stack and blocks for
 * good: a live thread whose stack, registers and TLS are roots. Returns once
 * `fn` has run. returns: 0, or 2 when the thread cannot start. */
static GS_UNUSED int gs_test_hold_thread(void (*fn)(void))
{
	pthread_t t;
	sem_init(&gs_test_held, 0, 0);
	if (pthread_create(&t, NULL, gs_test_holder, (void *)fn) != 0)
		return 2;
	while (sem_wait(&gs_test_held) != 0)
		;
	return 0;
}

/* LSan's print_address: "<what> <pointer>" on stdout, flushed. */
static GS_UNUSED void gs_test_print_address(const char *what, const void *p)
{
	printf("%s %p\n", what, p);
	fflush(stdout);
}

/* argv[i] when present, else dflt. */
static GS_UNUSED const char *gs_test_arg(int argc, char **argv, int i, const char *dflt)
{
	return i < argc ? argv[i] : dflt;
}

/* The directory of this executable (build/tests), for dlopen/exec of
 * siblings. */
static GS_UNUSED void gs_test_sibling(char *out, size_t n, const char *name)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len < 0) {
		perror("readlink /proc/self/exe");
		exit(2);
	}
	self[len] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(out, n, "%s/%s", self, name);
}

#endif

/* ---- For programs built against include/guardshim.h (included first) ---- */
#ifdef GUARDSHIM_H
#include <errno.h>

/* Without the shim (or with a degraded one) an API test has nothing to
 * test: it says so and exits 0, which proves it runs unchanged. */
static GS_UNUSED void gs_test_require_shim(void)
{
	if (!gs_active || !gs_active()) {
		printf("skip: guardshim not loaded\n");
		exit(0);
	}
}

static int gs_test_failures;

/* Records a violated expectation: prints "FAIL ..." and counts it. */
#define GS_CHECK(cond, ...)                                                                     \
	do {                                                                                    \
		if (!(cond)) {                                                                  \
			printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
			printf(__VA_ARGS__);                                                    \
			printf("\n");                                                           \
			fflush(stdout);                                                         \
			gs_test_failures++;                                                     \
		}                                                                               \
	} while (0)

/* -1 with errno EINVAL, as every API call with a bad argument must return. */
#define GS_CHECK_EINVAL(call)                                                                   \
	do {                                                                                    \
		errno = 0;                                                                      \
		long gs_r_ = (long)(call);                                              \
		int gs_e_ = errno;                                                              \
		GS_CHECK(gs_r_ == -1 && gs_e_ == EINVAL, "got %ld errno %d", gs_r_, gs_e_);     \
	} while (0)

/* Wipes dead stack, then scans. Call only from a frame holding no pointer
 * that should be dropped. */
static GS_NOINLINE GS_UNUSED size_t gs_test_collect(void)
{
	gs_test_clear_stack();
	return gs_collect();
}

/* The "ok"/"FAIL" summary line and exit status of an API test. */
static GS_UNUSED int gs_test_summary(const char *name)
{
	if (gs_test_failures)
		printf("%s: %d FAILED\n", name, gs_test_failures);
	else
		printf("%s: ok\n", name);
	fflush(stdout);
	return gs_test_failures ? 1 : 0;
}
#endif
