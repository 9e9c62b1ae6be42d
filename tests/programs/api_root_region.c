/* Proves: gs_register_root makes a range the scanner does not see (an anonymous mapping, run with scan_mappings=0) a root; gs_unregister_root removes it; registered memory the scan cannot read (never mapped, unmapped later, PROT_NONE, a shared file mapping past its truncated file's end) is accepted (0, as LSan) and skipped without a fault, the readable rest of the range still counts
 * Expect: root → "collect 0", leaks:[]; unreadable → "collect 0" "check 0", leaks:[] in every scan mode; unreadable-unregister → "collect 1" "check 1", `direct region_alloc_96 96 1`; unregister → "collect 1", `direct region_alloc_96 96 1`; none → "collect 1", same leak (the mapping alone is no root) */
#include <sys/mman.h>
#include <unistd.h>

#include "guardshim.h"
#include "gs_test.h"

static GS_NOINLINE void region_alloc_96(void **slot)
{
	*slot = malloc(96);
}

/* Registered ranges the scan cannot read: never mapped, unmapped after
 * registration (a hole inside a range whose last page holds the only
 * pointer to the block), PROT_NONE, the pages of a shared file mapping
 * past the file's end once it was truncated (SIGBUS when touched). The
 * scan must skip them without faulting and still read the rest. */
static GS_NOINLINE int mode_unreadable(int keep_range)
{
	GS_CHECK(gs_register_root((void *)0x1000, 4096) == 0, "register never-mapped errno %d", errno);
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *three = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED || three == MAP_FAILED)
		return 2;
	GS_CHECK(gs_register_root(none, 4096) == 0, "register PROT_NONE errno %d", errno);
	GS_CHECK(gs_register_root(three, 3 * 4096) == 0, "register 3 pages errno %d", errno);
	region_alloc_96((void **)(three + 2 * 4096 + 64));
	munmap(three + 4096, 4096);
	char path[] = "/tmp/api_root_region.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 2 * 4096) != 0)
		return 2;
	char *file = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (file == MAP_FAILED)
		return 2;
	file[4096] = 1;
	GS_CHECK(gs_register_root(file, 2 * 4096) == 0, "register file errno %d", errno);
	GS_CHECK(ftruncate(fd, 4096) == 0, "truncate errno %d", errno);
	unlink(path);
	if (!keep_range)
		GS_CHECK(gs_unregister_root(three, 3 * 4096) == 0, "unregister errno %d", errno);
	printf("collect %zu\n", gs_test_collect());
	gs_test_clear_stack();
	printf("check %zu\n", gs_check_leaks());
	gs_test_clear_stack();
	return gs_test_summary("api_root_region");
}

/* usage: api_root_region [root|unregister|none|unreadable|unreadable-unregister]
 * (run with scan_mappings=0) */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "root");
	if (!strncmp(mode, "unreadable", 10))
		return mode_unreadable(!strcmp(mode, "unreadable"));
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
