/* Proves: a program annotated for LeakSanitizer (<sanitizer/lsan_interface.h>, built without -fsanitize) runs unchanged under the shim: __lsan_ignore_object, __lsan_register/unregister_root_region, __lsan_disable/enable, __lsan_do_recoverable_leak_check and __lsan_do_leak_check act as in LSan
 * Expect: ignore/ignore-interior (p + 8)/root/disable → leaks:[]; ignore-off, root-unregister, disable-off → one direct leak (lsan_ignored_48 / lsan_region_96 / lsan_disabled_40); recoverable → "recoverable 1" "recoverable 0", exit 23; leak-check → exit 23 at the call, "after" never printed; leak-check-clean → "after", exit 0 although lsan_after_72 leaks later; defaults-control → lsan_suppressed_32 and lsan_reported_64 both reported; without the shim → "skip: …", exit 0 */
#include <sys/mman.h>
#include <sanitizer/lsan_interface.h>

#include "gs_test.h"

/* Built without a sanitizer: LSan's entry points are resolved from the
 * shim when it is preloaded and are NULL otherwise. */
#pragma weak __lsan_ignore_object
#pragma weak __lsan_register_root_region
#pragma weak __lsan_unregister_root_region
#pragma weak __lsan_disable
#pragma weak __lsan_enable
#pragma weak __lsan_do_leak_check
#pragma weak __lsan_do_recoverable_leak_check

void *volatile sink;
static uintptr_t hidden;

static GS_NOINLINE void lsan_ignored_48(int ignore)
{
	sink = malloc(48);
	if (ignore == 1)
		__lsan_ignore_object(sink);
	if (ignore == 2) /* LSan resolves an interior pointer to its block */
		__lsan_ignore_object((char *)sink + 8);
	sink = NULL;
}

static GS_NOINLINE void lsan_region_96(void **slot) { *slot = malloc(96); }
static GS_NOINLINE void lsan_disabled_40(void) { sink = malloc(40); sink = NULL; }
static GS_NOINLINE void lsan_recoverable_24(void) { sink = malloc(24); sink = NULL; }
static GS_NOINLINE void lsan_after_72(void) { sink = malloc(72); sink = NULL; }
static GS_NOINLINE void lsan_suppressed_32(void) { sink = malloc(32); sink = NULL; }
static GS_NOINLINE void lsan_reported_64(void) { sink = malloc(64); sink = NULL; }

static GS_NOINLINE void lsan_final_56(int do_free)
{
	sink = malloc(56);
	hidden = ~(uintptr_t)sink;
	sink = NULL;
	if (do_free)
		free((void *)~hidden);
}

static GS_NOINLINE int recoverable(void)
{
	gs_test_clear_stack();
	return __lsan_do_recoverable_leak_check();
}

static GS_NOINLINE void final_check(void)
{
	gs_test_clear_stack();
	__lsan_do_leak_check();
}

/* usage: lsan_compat_interface MODE   (root modes: EXTRA_OPTS scan_mappings=0) */
int main(int argc, char **argv)
{
	if (!__lsan_do_leak_check) {
		printf("skip: no LeakSanitizer interface (shim not loaded)\n");
		return 0;
	}
	const char *mode = gs_test_arg(argc, argv, 1, "ignore");
	if (!strncmp(mode, "ignore", 6)) {
		lsan_ignored_48(!strcmp(mode, "ignore") ? 1 : !strcmp(mode, "ignore-interior") ? 2 : 0);
	} else if (!strncmp(mode, "root", 4)) {
		void **page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (page == MAP_FAILED)
			return 2;
		lsan_region_96(&page[3]);
		__lsan_register_root_region(page, 4096);
		if (!strcmp(mode, "root-unregister"))
			__lsan_unregister_root_region(page, 4096);
	} else if (!strncmp(mode, "disable", 7)) {
		int on = !strcmp(mode, "disable");
		if (on)
			__lsan_disable();
		lsan_disabled_40();
		if (on)
			__lsan_enable();
	} else if (!strcmp(mode, "recoverable")) {
		lsan_recoverable_24();
		printf("recoverable %d\n", recoverable());
		printf("recoverable %d\n", recoverable());
	} else if (!strncmp(mode, "leak-check", 10)) {
		lsan_final_56(!strcmp(mode, "leak-check-clean"));
		fflush(stdout);
		final_check();
		printf("after\n");
		lsan_after_72(); /* the exit check is off now */
	} else if (!strcmp(mode, "defaults-control")) {
		lsan_suppressed_32();
		lsan_reported_64();
	} else {
		return 2;
	}
	gs_test_clear_stack();
	return 0;
}
