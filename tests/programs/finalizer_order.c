/* Proves: finalizers run exactly once, only for unreachable blocks, in Boehm's topological order (A→B→C: one per collect+drain round; through a non-finalizable block too); a self-pointer does not block finalization; a finalizable cycle is never finalized and is reported at exit
 * Expect: chain → "round 1: A" "round 2: B" "round 3: C", leaks:[]; via (A→x→B, x plain, freed by A's finalizer) → "round 1: A" "round 2: B", leaks:[]; self → "round 1: S"; keep → no finalizer runs while rooted, then "round 1: K" after the drop; cycle → no finalizer, exit 23 `direct fin_node 48 1` (cycle:true) + `indirect fin_node 48 1`; cycle-broken → "round 1: X" "round 2: Y", leaks:[] */
#include "guardshim.h"
#include "gs_test.h"

struct fnode { struct fnode *next; char name[8]; uint64_t pad[4]; }; /* 48 bytes */

struct fnode *volatile root;
static int round_no;
static int runs[256];
static char order[64];
static size_t norder;

static void fin(void *block, void *arg)
{
	struct fnode *n = block;
	GS_CHECK(arg == (void *)0x1234, "finalizer arg %p", arg);
	unsigned char c = (unsigned char)n->name[0];
	runs[c]++;
	GS_CHECK(runs[c] == 1, "%s finalized %d times", n->name, runs[c]);
	order[norder++] = n->name[0];
	printf("round %d: %s\n", round_no, n->name);
	fflush(stdout);
	/* A finalizer may free: it releases the plain block it owns. */
	if (n->next && n->next->name[0] == 'x')
		free(n->next);
}

static GS_NOINLINE struct fnode *fin_node(const char *name, int finalizable)
{
	struct fnode *n = malloc(sizeof *n);
	memset(n, 0, sizeof *n);
	snprintf(n->name, sizeof n->name, "%s", name);
	if (finalizable)
		GS_CHECK(gs_set_finalizer(n, fin, (void *)0x1234) == 0, "set_finalizer errno %d", errno);
	return n;
}

/* One collect + drain; returns the number of finalizers run. */
static GS_NOINLINE size_t round_(void)
{
	round_no++;
	gs_test_collect();
	return gs_drain();
}

static GS_NOINLINE void build_chain(int via)
{
	struct fnode *a = fin_node("A", 1);
	struct fnode *b = fin_node("B", 1);
	if (via) {
		a->next = fin_node("x", 0);
		a->next->next = b;
	} else {
		a->next = b;
		b->next = fin_node("C", 1);
	}
	root = a;
}

static GS_NOINLINE void build_cycle(int broken)
{
	struct fnode *x = fin_node("X", 1);
	struct fnode *y = fin_node("Y", 1);
	x->next = y;
	y->next = broken ? NULL : x;
	root = x;
}

/* usage: finalizer_order [chain|via|self|keep|cycle|cycle-broken] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "chain");
	const char *want;
	if (!strcmp(mode, "chain") || !strcmp(mode, "via")) {
		build_chain(!strcmp(mode, "via"));
		want = !strcmp(mode, "chain") ? "ABC" : "AB";
	} else if (!strcmp(mode, "self")) {
		struct fnode *s = fin_node("S", 1);
		s->next = s;
		root = s;
		s = NULL;
		want = "S";
	} else if (!strcmp(mode, "keep")) {
		root = fin_node("K", 1);
		for (int i = 0; i < 3; i++)
			GS_CHECK(round_() == 0, "finalizer ran for a rooted block");
		round_no = 0;
		want = "K";
	} else if (!strcmp(mode, "cycle") || !strcmp(mode, "cycle-broken")) {
		build_cycle(!strcmp(mode, "cycle-broken"));
		want = !strcmp(mode, "cycle") ? "" : "XY";
	} else {
		return 2;
	}
	root = NULL;
	/* One finalizer per round, then nothing more (exactly once). */
	for (size_t i = 0; i < strlen(want); i++) {
		size_t n = round_();
		GS_CHECK(n == 1, "round %d ran %zu finalizers", round_no, n);
	}
	for (int i = 0; i < 3; i++)
		GS_CHECK(round_() == 0, "round %d ran a finalizer again", round_no);
	order[norder] = '\0';
	GS_CHECK(strcmp(order, want) == 0, "order %s, want %s", order, want);
	gs_test_clear_stack();
	return gs_test_summary("finalizer_order");
}
