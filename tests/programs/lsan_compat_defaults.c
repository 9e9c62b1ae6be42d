/* Proves: the shim honours a program's own __lsan_default_suppressions() and __lsan_is_turned_off() although the program is built without a sanitizer (found in the executable's symbol table)
 * Expect: → `direct lsan_reported_64 64 1` only (lsan_suppressed_32 suppressed by the program's default), exit 23; LSAN_TEST_OFF=1 → no exit report, exit 0; lsan_compat_interface defaults-control (no hooks) reports both */
#include "gs_test.h"

void *volatile sink;

const char *__lsan_default_suppressions(void);
int __lsan_is_turned_off(void);

const char *__lsan_default_suppressions(void) { return "leak:lsan_suppressed_32\n"; }

int __lsan_is_turned_off(void)
{
	const char *off = getenv("LSAN_TEST_OFF");
	return off && *off == '1';
}

static GS_NOINLINE void lsan_suppressed_32(void) { sink = malloc(32); sink = NULL; }
static GS_NOINLINE void lsan_reported_64(void) { sink = malloc(64); sink = NULL; }

int main(void)
{
	lsan_suppressed_32();
	lsan_reported_64();
	gs_test_clear_stack();
	return 0;
}
