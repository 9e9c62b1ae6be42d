/* Proves: leak records are grouped by (kind, stack, owner): blocks leaked from the same stack under two owners give two records carrying "owner": id and "owner_name" (text: [owner N "name"], escaped); each owner's stats count its leaked blocks and bytes of the last scan; without owners the same leaks are one record with no "owner" and the owners' leak counts stay 0
 * Expect: owners → prints "owner parser N" "owner cache M", "leaked parser 0 0" before the scan, then "leaked parser 2 80" "leaked cache 3 120"; `direct owned_leak_40 80 2` (owner parser) + `direct owned_leak_40 120 3` (owner cache), exit 23; none → one record `direct owned_leak_40 200 5` without "owner", "leaked parser 0 0" "leaked cache 0 0" */
#include "guardshim.h"
#include "gs_test.h"

void *volatile sink;

static GS_NOINLINE void owned_leak_40(void)
{
	sink = malloc(40);
	sink = NULL;
}

/* "leaked NAME BLOCKS BYTES" from the owner's stats after the last scan. */
static void print_leaked(const char *label, gs_owner o)
{
	struct gs_owner_stats s = {.size = sizeof s};
	GS_CHECK(gs_owner_stats(o, &s) == 0, "gs_owner_stats errno %d", errno);
	printf("leaked %s %zu %zu\n", label, s.leaked_blocks, s.leaked_bytes);
}

/* usage: owner_report [owners|none] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	int owners = strcmp(gs_test_arg(argc, argv, 1, "owners"), "none") != 0;
	/* A quote in a name: reports must escape it. */
	gs_owner parser = gs_owner_new("parser"), cache = gs_owner_new("cache \"L2\"");
	printf("owner parser %u\nowner cache %u\n", parser, cache);
	for (int i = 0; i < 5; i++) {
		if (owners)
			gs_owner_set(i < 2 ? parser : cache);
		owned_leak_40();
	}
	gs_owner_set(0);
	print_leaked("parser", parser); /* no scan yet */
	gs_test_collect();
	print_leaked("parser", parser);
	print_leaked("cache", cache);
	gs_test_clear_stack();
	return gs_test_failures ? 1 : 0;
}
