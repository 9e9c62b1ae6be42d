/* Proves: gs_check_leaks() writes a recoverable report (trigger "api") of the leaks not reported by an earlier call and returns its record count; the exit check still reports all leaks
 * Expect: leak → "check1 1" "check2 0" "check3 1", three api lines (1, 0, 1 records), exit 23 with `direct leak_a_48 48 1` + `direct leak_b_72 72 1`; free → 0 0 0, leaks:[], exit 0 */
#include "guardshim.h"
#include "gs_test.h"

void *volatile sink;
uintptr_t hidden_a, hidden_b;

static GS_NOINLINE void leak_a_48(void)
{
	sink = malloc(48);
	hidden_a = ~(uintptr_t)sink;
	sink = NULL;
}

static GS_NOINLINE void leak_b_72(void)
{
	sink = malloc(72);
	hidden_b = ~(uintptr_t)sink;
	sink = NULL;
}

static GS_NOINLINE size_t check(void)
{
	gs_test_clear_stack();
	return gs_check_leaks();
}

/* usage: api_check_leaks [leak|free] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	int do_free = strcmp(gs_test_arg(argc, argv, 1, "leak"), "free") == 0;
	leak_a_48();
	if (do_free)
		free((void *)~hidden_a);
	printf("check1 %zu\n", check());
	printf("check2 %zu\n", check());
	leak_b_72();
	if (do_free)
		free((void *)~hidden_b);
	printf("check3 %zu\n", check());
	gs_test_clear_stack();
	return gs_test_summary("api_check_leaks");
}
