/* Proves: run setuid-root by an unprivileged user, a program gets no shim (the loader drops
 * LD_PRELOAD under AT_SECURE): it runs normally and no report is written although it leaks.
 * Expect: stdout "euid 0", "shim absent", "leaked 48 bytes"; exit 0; no report file. */
#include <guardshim.h>

#include "gs_test.h"

static void *volatile sink;

static GS_NOINLINE void setuid_leak_48(void)
{
	sink = malloc(48);
	sink = NULL;
}

int main(void)
{
	printf("euid %d\n", (int)geteuid());
	printf("shim %s\n", gs_active && gs_active() ? "loaded" : "absent");
	setuid_leak_48();
	printf("leaked 48 bytes\n");
	gs_test_clear_stack();
	return 0;
}
