/* Proves: leak records are grouped by (kind, stack, owner): blocks leaked from the same stack under two owners give two records carrying "owner": id; without owners the same leaks are one record with no "owner"
 * Expect: owners → prints "owner parser N" "owner cache M"; `direct owned_leak_40 80 2` (owner parser) + `direct owned_leak_40 120 3` (owner cache), exit 23; none → one record `direct owned_leak_40 200 5` without "owner" */
#include "guardshim.h"
#include "gs_test.h"

void *volatile sink;

static GS_NOINLINE void owned_leak_40(void)
{
	sink = malloc(40);
	sink = NULL;
}

/* usage: owner_report [owners|none] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	int owners = strcmp(gs_test_arg(argc, argv, 1, "owners"), "none") != 0;
	gs_owner parser = gs_owner_new("parser"), cache = gs_owner_new("cache");
	printf("owner parser %u\nowner cache %u\n", parser, cache);
	for (int i = 0; i < 5; i++) {
		if (owners)
			gs_owner_set(i < 2 ? parser : cache);
		owned_leak_40();
	}
	gs_owner_set(0);
	gs_test_clear_stack();
	return 0;
}
