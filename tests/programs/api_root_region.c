/* Proves: gs_register_root makes a range the scanner does not see (an anonymous mapping, run with scan_mappings=0) a root; gs_unregister_root removes it
 * Expect: root → "collect 0", leaks:[]; unregister → "collect 1", `direct region_alloc_96 96 1`; none → "collect 1", same leak (the mapping alone is no root) */
#include <sys/mman.h>

#include "guardshim.h"
#include "gs_test.h"

static GS_NOINLINE void region_alloc_96(void **slot)
{
	*slot = malloc(96);
}

/* usage: api_root_region [root|unregister|none]   (run with scan_mappings=0) */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "root");
	void **page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return 2;
	region_alloc_96(&page[7]);
	if (strcmp(mode, "none") != 0)
		GS_CHECK(gs_register_root(page, 4096) == 0, "register errno %d", errno);
	if (strcmp(mode, "unregister") == 0)
		GS_CHECK(gs_unregister_root(page, 4096) == 0, "unregister errno %d", errno);
	printf("collect %zu\n", gs_test_collect());
	gs_test_clear_stack();
	return gs_test_summary("api_root_region");
}
