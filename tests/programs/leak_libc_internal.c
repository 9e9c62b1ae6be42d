/* Proves: blocks allocated inside libc for the program (strdup, asprintf, getline) and leaked are reported with the program's function on the stack
 * Expect: leak → 3 direct records of 1 block: with frame leak_strdup 16 bytes, leak_asprintf 15 bytes, leak_getline 120 bytes; free → leaks:[] */
#define _GNU_SOURCE
#include "gs_test.h"

static char *volatile sinks[3];

static GS_NOINLINE char *leak_strdup(void)
{
	return strdup("hello guardshim");      /* 15 chars + NUL = 16 bytes */
}

static GS_NOINLINE char *leak_asprintf(void)
{
	char *s = NULL;
	/* "asprintf-12345": glibc 2.36 hands back exactly strlen + 1 = 15 bytes */
	if (asprintf(&s, "%s-%d", "asprintf", 12345) < 0)
		return NULL;
	return s;
}

static GS_NOINLINE char *leak_getline(void)
{
	static char text[] = "first line\nsecond line\n";
	FILE *f = fmemopen(text, sizeof text - 1, "r");
	char *line = NULL;
	size_t cap = 0;
	if (!f)
		return NULL;
	/* glibc's first getline buffer is 120 bytes; "first line\n" fits */
	if (getline(&line, &cap, f) < 0) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	return line;
}

/* usage: leak_libc_internal [leak|free] */
int main(int argc, char **argv)
{
	int do_free = strcmp(gs_test_arg(argc, argv, 1, "leak"), "free") == 0;
	sinks[0] = leak_strdup();
	sinks[1] = leak_asprintf();
	sinks[2] = leak_getline();
	for (int i = 0; i < 3; i++) {
		if (!sinks[i])
			return 2;
		printf("%d %s\n", i, sinks[i]);
	}
	for (int i = 0; i < 3; i++) {
		if (do_free)
			free(sinks[i]);
		sinks[i] = NULL;
	}
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
