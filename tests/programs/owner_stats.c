/* Proves: gs_owner_new/gs_owner_set/gs_owner_stats keep live blocks/bytes, allocations and frees per owner; the current owner is per thread; a block keeps its owner through realloc and is counted against it when freed; owner 0 counts nowhere
 * Expect: "owner_stats: ok", exit 0, leaks:[] (the program checks every counter itself) */
#include <pthread.h>

#include "guardshim.h"
#include "gs_test.h"

static gs_owner parser, cache;

static struct gs_owner_stats get(gs_owner o)
{
	struct gs_owner_stats s = {.size = sizeof s};
	GS_CHECK(gs_owner_stats(o, &s) == 0, "gs_owner_stats(%u) errno %d", o, errno);
	return s;
}

static void *thread_main(void *arg)
{
	(void)arg;
	/* A new thread starts with no owner, whatever main's is. */
	gs_owner prev = gs_owner_set(cache);
	GS_CHECK(prev == 0, "new thread's owner is %u", prev);
	void *volatile p[3];
	for (int i = 0; i < 3; i++)
		p[i] = malloc(50);
	gs_owner_set(0);
	for (int i = 0; i < 3; i++)
		free(p[i]);
	return NULL;
}

int main(void)
{
	gs_test_require_shim();
	parser = gs_owner_new("parser");
	cache = gs_owner_new("cache");
	GS_CHECK(parser >= 1 && cache >= 1 && parser != cache, "ids %u %u", parser, cache);
	struct gs_owner_stats s = get(parser);
	GS_CHECK(s.name && !strcmp(s.name, "parser"), "name %s", s.name ? s.name : "(null)");
	GS_CHECK(s.size == sizeof s, "size %zu", s.size);
	GS_CHECK(s.live_blocks == 0 && s.total_allocs == 0, "fresh owner not empty");

	GS_CHECK(gs_owner_set(parser) == 0, "initial owner not 0");
	void *volatile a = malloc(100), *volatile b = calloc(4, 25), *volatile c = malloc(10);
	GS_CHECK(gs_owner_set(cache) == parser, "gs_owner_set did not return the previous owner");
	void *volatile d = malloc(7);
	gs_owner_set(0);
	void *volatile e = malloc(1000); /* owner 0: counted nowhere */
	s = get(parser);
	GS_CHECK(s.live_blocks == 3 && s.live_bytes == 210 && s.total_allocs == 3 && s.total_frees == 0,
		 "parser %zu blocks %zu bytes %zu allocs %zu frees", s.live_blocks, s.live_bytes,
		 s.total_allocs, s.total_frees);
	s = get(cache);
	GS_CHECK(s.live_blocks == 1 && s.live_bytes == 7, "cache %zu blocks %zu bytes", s.live_blocks,
		 s.live_bytes);
	/* realloc under owner 0 keeps the block's owner (parser). */
	c = realloc(c, 500);
	s = get(parser);
	GS_CHECK(s.live_blocks == 3 && s.live_bytes == 700, "after realloc: %zu blocks %zu bytes",
		 s.live_blocks, s.live_bytes);
	free(a);
	free(b);
	s = get(parser);
	GS_CHECK(s.live_blocks == 1 && s.live_bytes == 500 && s.total_frees >= 2,
		 "after free: %zu blocks %zu bytes %zu frees", s.live_blocks, s.live_bytes, s.total_frees);
	/* Another thread's owner does not change ours. */
	gs_owner_set(parser);
	pthread_t t;
	pthread_create(&t, NULL, thread_main, NULL);
	pthread_join(t, NULL);
	GS_CHECK(gs_owner_set(0) == parser, "the thread changed main's owner");
	s = get(cache);
	GS_CHECK(s.live_blocks == 1 && s.total_allocs == 4 && s.total_frees == 3,
		 "cache after thread: %zu live %zu allocs %zu frees", s.live_blocks, s.total_allocs,
		 s.total_frees);
	/* A smaller (older) struct is filled up to its size. */
	struct { size_t size; const char *name; } old = {sizeof old, NULL};
	GS_CHECK(gs_owner_stats(cache, (struct gs_owner_stats *)&old) == 0 && old.name &&
		 !strcmp(old.name, "cache") && old.size == sizeof old, "short struct");
	free(c);
	free(d);
	free(e);
	gs_test_clear_stack();
	return gs_test_summary("owner_stats");
}
