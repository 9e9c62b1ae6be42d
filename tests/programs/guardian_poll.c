/* Proves: a guarded block found unreachable is queued (FIFO across scans) and returned by gs_guardian_poll still allocated, with everything it points to intact; reachable guarded blocks are never queued; a registration is used up (re-register to be told again); two guardians / two registrations queue it twice; a queued block the program frees leaves its other queues without a hole; gs_guardian_free makes queued blocks ordinary leaks
 * Expect: basic → "polled A" "polled B" "poll NULL", leaks:[]; reachable → "poll NULL", leaks:[]; used-up → second drop not queued, exit 23 `direct guarded_block 64 1` + `indirect guarded_child 32 1`; reregister → "polled A again", leaks:[]; two-guardians → "g1 A" "g2 A"; twice → "first A" "second A" "third NULL"; freed-while-queued (A on g1+g2, B on g2, A polled from g1 and freed) → g2's poll loop returns B once: "g2 B" "g2 loop 1", kept-while-queued → "g2 A" "g2 B" "g2 loop 2"; unpolled → leaks:[]; free-guardian → exit 23 with the same two records as used-up */
#include "guardshim.h"
#include "gs_test.h"

#define MAGIC 0x5a5a5a5a5a5a5a5aull
struct child { uint64_t magic[4]; };                          /* 32 bytes */
struct gblock { struct child *child; uint64_t magic; char name[8]; uint64_t pad[5]; }; /* 64 */

struct gblock *volatile root_a, *volatile root_b, *volatile root_c;

static GS_NOINLINE struct child *guarded_child(void)
{
	struct child *c = malloc(sizeof *c);
	for (int i = 0; i < 4; i++)
		c->magic[i] = MAGIC;
	return c;
}

static GS_NOINLINE struct gblock *guarded_block(const char *name)
{
	struct gblock *b = malloc(sizeof *b);
	memset(b, 0, sizeof *b);
	b->child = guarded_child();
	b->magic = MAGIC;
	snprintf(b->name, sizeof b->name, "%s", name);
	return b;
}

static void check_intact(struct gblock *b)
{
	GS_CHECK(b->magic == MAGIC && b->child && b->child->magic[0] == MAGIC &&
		 b->child->magic[3] == MAGIC, "polled block or its child is not intact");
}

static GS_NOINLINE void free_block(struct gblock *b)
{
	free(b->child);
	free(b);
}

/* Polls one block and prints "LABEL NAME" or "LABEL NULL". Returns it. */
static GS_NOINLINE struct gblock *poll_one(gs_guardian *g, const char *label)
{
	struct gblock *b = gs_guardian_poll(g);
	if (b) {
		check_intact(b);
		printf("%s %s\n", label, b->name);
	} else {
		printf("%s NULL\n", label);
	}
	fflush(stdout);
	return b;
}

static gs_guardian *g1, *g2;

static GS_NOINLINE void mode_basic(void)
{
	root_a = guarded_block("A");
	root_b = guarded_block("B");
	root_c = guarded_block("C");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register A");
	GS_CHECK(gs_guardian_register(g1, root_b) == 0, "register B");
	GS_CHECK(gs_guardian_register(g1, root_c) == 0, "register C");
	root_a = NULL;
	size_t n1 = gs_test_collect();
	GS_CHECK(n1 == 1, "first collect found %zu", n1);
	root_b = NULL;
	size_t n2 = gs_test_collect();
	GS_CHECK(n2 == 1, "second collect found %zu", n2);
	/* More scans while queued: the blocks and children stay alive. */
	size_t n3 = gs_test_collect();
	GS_CHECK(n3 == 0, "third collect found %zu", n3);
	gs_test_collect();
	struct gblock *a = poll_one(g1, "polled");
	struct gblock *b = poll_one(g1, "polled");
	GS_CHECK(poll_one(g1, "poll") == NULL, "a third block was queued");
	if (a)
		free_block(a);
	if (b)
		free_block(b);
	free_block(root_c);
	root_c = NULL;
}

static GS_NOINLINE void mode_reachable(void)
{
	root_a = guarded_block("A");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register A");
	size_t n = gs_test_collect();
	GS_CHECK(n == 0, "collect found %zu", n);
	GS_CHECK(poll_one(g1, "poll") == NULL, "reachable block queued");
	free_block(root_a);
	root_a = NULL;
}

/* Drop, poll, resurrect (store in a root); re-register or not; drop again. */
static GS_NOINLINE void mode_again(int reregister)
{
	root_a = guarded_block("A");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register A");
	root_a = NULL;
	gs_test_collect();
	root_a = poll_one(g1, "polled");
	GS_CHECK(root_a != NULL, "not queued");
	if (!root_a)
		return;
	if (reregister)
		GS_CHECK(gs_guardian_register(g1, root_a) == 0, "re-register A");
	/* Resurrected: reachable again, so a scan does not queue it. */
	gs_test_collect();
	GS_CHECK(gs_guardian_poll(g1) == NULL, "resurrected block queued while reachable");
	root_a = NULL;
	gs_test_collect();
	struct gblock *b = poll_one(g1, "polled again");
	if (b)
		free_block(b);
}

static GS_NOINLINE void mode_two_guardians(void)
{
	root_a = guarded_block("A");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register g1");
	GS_CHECK(gs_guardian_register(g2, root_a) == 0, "register g2");
	root_a = NULL;
	gs_test_collect();
	struct gblock *x = poll_one(g1, "g1");
	struct gblock *y = poll_one(g2, "g2");
	GS_CHECK(x && x == y, "not the same block on both guardians");
	GS_CHECK(gs_guardian_poll(g1) == NULL && gs_guardian_poll(g2) == NULL, "queued more than once");
	if (x)
		free_block(x);
}

static GS_NOINLINE void mode_twice(void)
{
	root_a = guarded_block("A");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register 1");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register 2");
	root_a = NULL;
	gs_test_collect();
	struct gblock *x = poll_one(g1, "first");
	struct gblock *y = poll_one(g1, "second");
	GS_CHECK(poll_one(g1, "third") == NULL, "queued three times");
	GS_CHECK(x && x == y, "not the same block twice");
	if (x)
		free_block(x);
}

/* A on g1 and g2, B on g2; g1 hands A back and the program frees it (or,
 * in the control, keeps it) before draining g2 with a poll loop. */
static GS_NOINLINE void mode_freed_while_queued(int free_first)
{
	root_a = guarded_block("A");
	root_b = guarded_block("B");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register A g1");
	GS_CHECK(gs_guardian_register(g2, root_a) == 0, "register A g2");
	GS_CHECK(gs_guardian_register(g2, root_b) == 0, "register B g2");
	root_a = root_b = NULL;
	gs_test_collect();
	struct gblock *a = poll_one(g1, "g1");
	if (a && free_first) {
		free_block(a);
		a = NULL;
	}
	int n = 0;
	struct gblock *x;
	while ((x = poll_one(g2, "g2")) != NULL) {
		n++;
		if (x != a)
			free_block(x);
	}
	printf("g2 loop %d\n", n);
	if (a)
		free_block(a);
}

static GS_NOINLINE void mode_unpolled(void)
{
	root_a = guarded_block("A");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register A");
	root_a = NULL;
	GS_CHECK(gs_test_collect() == 1, "not found unreachable");
	/* Never polled: queued blocks are the guardian's, not leaks. */
}

static GS_NOINLINE void mode_free_guardian(void)
{
	root_a = guarded_block("A");
	GS_CHECK(gs_guardian_register(g1, root_a) == 0, "register A");
	root_a = NULL;
	GS_CHECK(gs_test_collect() == 1, "not found unreachable");
	gs_guardian_free(g1); /* A is an ordinary (leaked) block again */
	g1 = NULL;
}

/* usage: guardian_poll [basic|reachable|used-up|reregister|two-guardians|twice|freed-while-queued|kept-while-queued|unpolled|free-guardian] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "basic");
	g1 = gs_guardian_new();
	g2 = gs_guardian_new();
	if (!strcmp(mode, "basic"))
		mode_basic();
	else if (!strcmp(mode, "reachable"))
		mode_reachable();
	else if (!strcmp(mode, "used-up"))
		mode_again(0);
	else if (!strcmp(mode, "reregister"))
		mode_again(1);
	else if (!strcmp(mode, "two-guardians"))
		mode_two_guardians();
	else if (!strcmp(mode, "twice"))
		mode_twice();
	else if (!strcmp(mode, "freed-while-queued"))
		mode_freed_while_queued(1);
	else if (!strcmp(mode, "kept-while-queued"))
		mode_freed_while_queued(0);
	else if (!strcmp(mode, "unpolled"))
		mode_unpolled();
	else if (!strcmp(mode, "free-guardian"))
		mode_free_guardian();
	else
		return 2;
	gs_test_clear_stack();
	return gs_test_summary("guardian_poll");
}
