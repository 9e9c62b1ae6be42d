/* Proves: gs_ignore hides one block from reports, also given an interior pointer (near the start, deep into a 4 KiB block, into a 256 KiB mmapped one), not one past the requested size; gs_disable/gs_enable nest per thread (blocks allocated while disabled are never reported, other threads are unaffected, extra gs_enable calls do not underflow)
 * Expect: ignore → leaks:[]; ignore-off → `direct ignored_alloc_64 64 1`; interior → only `direct past_end_alloc_64 64 1`; interior-off → also `direct interior_alloc_48 48 1`, `direct interior_alloc_4096 4096 1`, `direct interior_alloc_262144 262144 1`; disable → `direct enabled_alloc_24 24 1` + `direct thread_alloc_88 88 1`; disable-none → also `direct disabled_alloc_40 40 1` + `direct nested_alloc_56 56 1` */
#include <pthread.h>

#include "guardshim.h"
#include "gs_test.h"

void *volatile sink;

static GS_NOINLINE void ignored_alloc_64(int ignore)
{
	sink = malloc(64);
	if (ignore)
		GS_CHECK(gs_ignore(sink) == 0, "gs_ignore errno %d", errno);
	sink = NULL;
}

/* gs_ignore given a pointer into the block, as LeakSanitizer accepts:
 * near its start, deep into a page-sized block, deep into an mmapped one. */
static GS_NOINLINE void interior_alloc_48(int ignore)
{
	char *p = malloc(48);
	sink = p;
	if (ignore)
		GS_CHECK(gs_ignore(p + 8) == 0, "gs_ignore(p + 8) errno %d", errno);
	sink = p = NULL;
}

static GS_NOINLINE void interior_alloc_4096(int ignore)
{
	char *p = malloc(4096);
	sink = p;
	if (ignore)
		GS_CHECK(gs_ignore(p + 3000) == 0, "gs_ignore(p + 3000) errno %d", errno);
	sink = p = NULL;
}

static GS_NOINLINE void interior_alloc_262144(int ignore)
{
	char *p = malloc(262144);
	sink = p;
	if (ignore)
		GS_CHECK(gs_ignore(p + 200000) == 0, "gs_ignore(p + 200000) errno %d", errno);
	sink = p = NULL;
}

/* One past the requested size is not the block (glibc's chunk may be
 * larger): EINVAL, and the block stays reported. */
static GS_NOINLINE void past_end_alloc_64(void)
{
	char *p = malloc(64);
	sink = p;
	GS_CHECK_EINVAL(gs_ignore(p + 64));
	sink = p = NULL;
}

static GS_NOINLINE void disabled_alloc_40(void) { sink = malloc(40); sink = NULL; }
static GS_NOINLINE void nested_alloc_56(void) { sink = malloc(56); sink = NULL; }
static GS_NOINLINE void enabled_alloc_24(void) { sink = malloc(24); sink = NULL; }

static GS_NOINLINE void *thread_alloc_88(void *arg)
{
	(void)arg;
	void *volatile p = malloc(88);
	p = NULL;
	gs_test_clear_stack();
	return NULL;
}

/* usage: api_ignore_disable [ignore|ignore-off|interior|interior-off|disable|disable-none] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "ignore");
	if (strncmp(mode, "interior", 8) == 0) {
		int on = strcmp(mode, "interior") == 0;
		interior_alloc_48(on);
		interior_alloc_4096(on);
		interior_alloc_262144(on);
		past_end_alloc_64();
	} else if (strncmp(mode, "ignore", 6) == 0) {
		ignored_alloc_64(strcmp(mode, "ignore") == 0);
	} else {
		int on = strcmp(mode, "disable") == 0;
		if (on) {
			gs_enable(); /* unmatched: must not make the count negative */
			gs_enable();
			gs_disable();
			gs_disable();
		}
		disabled_alloc_40();
		/* Another thread allocates while this one is disabled. */
		pthread_t t;
		pthread_create(&t, NULL, thread_alloc_88, NULL);
		pthread_join(t, NULL);
		if (on)
			gs_enable();
		nested_alloc_56(); /* still disabled: one level left */
		if (on)
			gs_enable();
		enabled_alloc_24();
	}
	gs_test_clear_stack();
	return gs_test_summary("api_ignore_disable");
}
