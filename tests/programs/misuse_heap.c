/* Proves: double free, free of memory never allocated (a global, a stack slot), free of an
 * interior pointer and realloc of a freed block are each reported once and the program goes on.
 * Expect: mode all -> 5 misuse reports, "still running", exit 0; mode none -> no report. */
#include "gs_test.h"

int some_global;

static GS_NOINLINE void *alloc_48(void) { return malloc(48); }
static GS_NOINLINE void free_once(void *p) { free(p); }
static GS_NOINLINE void free_twice(void *p) { free(p); }

static GS_NOINLINE void misuse_all(void)
{
	void *p = alloc_48();
	free_once(p);
	free_twice(p);

	int local;
	free(&local);
	free(&some_global);

	char *q = malloc(64);
	free(q + 16);
	free(q);

	void *r = malloc(10);
	free(r);
	void *r2 = realloc(r, 20);
	printf("realloc of freed -> %s\n", r2 ? "block" : "NULL");
}

static GS_NOINLINE void correct_use(void)
{
	void *p = alloc_48();
	free_once(p);
	char *q = malloc(64);
	free(q);
}

/* usage: misuse_heap [all|none] */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "all");
	if (strcmp(mode, "all") == 0)
		misuse_all();
	else
		correct_use();
	puts("still running");
	return 0;
}
