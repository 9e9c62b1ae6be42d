/* Proves: every gs_* call given a bad pointer (NULL, stack address, interior pointer except to gs_ignore, freed block, bogus or freed guardian, also once a new guardian was made after the free) fails with -1/EINVAL or NULL instead of crashing; the same calls on good pointers succeed
 * Expect: "api_bad_pointers: ok", exit 0 and leaks:[]; mode `good` (valid calls) → ok; without the shim → "skip: …", exit 0 */
#include "guardshim.h"
#include "gs_test.h"

static void fin_never(void *block, void *arg)
{
	(void)block;
	(void)arg;
	printf("FAIL finalizer ran\n");
	gs_test_failures++;
}

static GS_NOINLINE void bad_calls(void)
{
	char stack_buf[64];
	char *block = malloc(64);
	char *freed = malloc(64);
	free(freed);
	gs_guardian *g = gs_guardian_new();
	GS_CHECK(g != NULL, "gs_guardian_new failed");
	gs_guardian *dead = gs_guardian_new();
	gs_guardian_free(dead);
	/* Made after `dead` was freed, so it may take its place in the shim:
	 * `dead` must stay invalid all the same, and freeing `dead` again must
	 * not free this one. */
	gs_guardian *reuse = gs_guardian_new();
	GS_CHECK(reuse != NULL, "gs_guardian_new after a free failed");
	GS_CHECK(reuse != dead, "a freed guardian's handle was handed out again");
	/* A guardian-shaped thing the shim never made: a heap block and a stack buffer. */
	gs_guardian *bogus_heap = (gs_guardian *)block;
	gs_guardian *bogus_stack = (gs_guardian *)stack_buf;
	memset(stack_buf, 0x67, sizeof stack_buf);
	void *bad[] = {NULL, stack_buf, block + 8, block + 63, freed, (void *)16, (void *)-1L};
	const int nbad = (int)(sizeof bad / sizeof bad[0]);

	for (int i = 0; i < nbad; i++) {
		GS_CHECK_EINVAL(gs_guardian_register(g, bad[i]));
		GS_CHECK_EINVAL(gs_set_finalizer(bad[i], fin_never, NULL));
		/* gs_ignore takes interior pointers (LSan's ignore_object does). */
		if (bad[i] != block + 8 && bad[i] != block + 63)
			GS_CHECK_EINVAL(gs_ignore(bad[i]));
	}
	gs_guardian *bad_g[] = {NULL, dead, bogus_heap, bogus_stack, (gs_guardian *)(block + 8)};
	for (int i = 0; i < (int)(sizeof bad_g / sizeof bad_g[0]); i++) {
		GS_CHECK_EINVAL(gs_guardian_register(bad_g[i], block));
		errno = 0;
		GS_CHECK(gs_guardian_poll(bad_g[i]) == NULL, "poll of bad guardian %d returned a block", i);
		gs_guardian_free(bad_g[i]); /* must be a no-op */
	}
	GS_CHECK(gs_guardian_register(reuse, block) == 0, "the guardian made after the free lost its "
		 "validity (errno %d)", errno);
	gs_guardian_free(reuse);
	GS_CHECK_EINVAL(gs_guardian_register(reuse, block));
	/* Roots: NULL, n == 0, a range never registered, a different n. */
	GS_CHECK_EINVAL(gs_register_root(NULL, 64));
	GS_CHECK_EINVAL(gs_register_root(stack_buf, 0));
	GS_CHECK_EINVAL(gs_unregister_root(NULL, 64));
	GS_CHECK_EINVAL(gs_unregister_root(stack_buf, sizeof stack_buf));
	GS_CHECK(gs_register_root(stack_buf, sizeof stack_buf) == 0, "register failed");
	GS_CHECK_EINVAL(gs_unregister_root(stack_buf, sizeof stack_buf - 8));
	GS_CHECK_EINVAL(gs_unregister_root(stack_buf + 8, sizeof stack_buf - 8));
	GS_CHECK_EINVAL(gs_unregister_root(stack_buf, 0));
	GS_CHECK(gs_unregister_root(stack_buf, sizeof stack_buf) == 0, "unregister failed");
	GS_CHECK_EINVAL(gs_unregister_root(stack_buf, sizeof stack_buf)); /* twice */
	GS_CHECK_EINVAL(gs_get_stats(NULL));
	/* Owners: NULL name, unknown ids, NULL or too small out. */
	errno = 0;
	GS_CHECK(gs_owner_new(NULL) == 0 && errno == EINVAL, "gs_owner_new(NULL)");
	struct gs_owner_stats os = {.size = sizeof os};
	GS_CHECK_EINVAL(gs_owner_stats(0, &os));
	GS_CHECK_EINVAL(gs_owner_stats(100000, &os));
	gs_owner o = gs_owner_new("bad_pointers");
	GS_CHECK(o >= 1, "gs_owner_new returned %u", o);
	GS_CHECK_EINVAL(gs_owner_stats(o + 1, &os));
	GS_CHECK_EINVAL(gs_owner_stats(o, NULL));
	struct gs_owner_stats tiny = {.size = 0};
	GS_CHECK_EINVAL(gs_owner_stats(o, &tiny));
	/* Nothing above queued anything. */
	gs_test_collect();
	GS_CHECK(gs_drain() == 0, "a finalizer was queued");
	GS_CHECK(gs_guardian_poll(g) == NULL, "a block was queued");
	gs_guardian_free(g);
	free(block);
}

static GS_NOINLINE void good_calls(void)
{
	char stack_buf[64];
	char *block = malloc(64);
	gs_guardian *g = gs_guardian_new();
	GS_CHECK(g != NULL, "gs_guardian_new");
	GS_CHECK(gs_guardian_register(g, block) == 0, "register errno %d", errno);
	GS_CHECK(gs_set_finalizer(block, fin_never, NULL) == 0, "set_finalizer errno %d", errno);
	GS_CHECK(gs_set_finalizer(block, NULL, NULL) == 0, "clear finalizer errno %d", errno);
	GS_CHECK(gs_ignore(block) == 0, "ignore errno %d", errno);
	GS_CHECK(gs_ignore(block + 8) == 0, "ignore interior errno %d", errno);
	GS_CHECK(gs_ignore(block + 63) == 0, "ignore last byte errno %d", errno);
	GS_CHECK(gs_register_root(stack_buf, sizeof stack_buf) == 0, "register_root");
	GS_CHECK(gs_unregister_root(stack_buf, sizeof stack_buf) == 0, "unregister_root");
	struct gs_stats st;
	GS_CHECK(gs_get_stats(&st) == 0, "get_stats");
	gs_owner o = gs_owner_new("good");
	struct gs_owner_stats os = {.size = sizeof os};
	GS_CHECK(o >= 1 && gs_owner_stats(o, &os) == 0, "owner_stats");
	GS_CHECK(gs_guardian_poll(g) == NULL, "poll");
	gs_guardian_free(g);
	free(block);
}

/* usage: api_bad_pointers [bad|good] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "bad");
	if (strcmp(mode, "good") == 0)
		good_calls();
	else
		bad_calls();
	gs_test_clear_stack();
	return gs_test_summary("api_bad_pointers");
}
