/* Proves: a finalizer may resurrect its block (Boehm): given a finalizer again, or registered with a guardian, during its finalizer, the block is not freed by gs_drain and is finalized again / polled later, intact; a finalizer that frees its own block is not followed by a second free
 * Expect: rearm → "round 1: R" "live 1" "round 2: R" "live 0" "round 3: -" "live 0"; once (control) → "round 1: R" "live 0" "round 2: -" "live 0"; to-guardian → "round 1: R" "live 1" "round 2: -" "polled R" "live 0"; frees-itself → "round 1: R" "live 0", no misuse record; all exit 0 with leaks:[] */
#include "guardshim.h"
#include "gs_test.h"

#define MAGIC 0x7265617272656172ull
struct rblock { uint64_t magic; char name[8]; uint64_t pad[6]; }; /* 64 bytes */

enum mode { ONCE, REARM, TO_GUARDIAN, FREES_ITSELF };

static enum mode mode;
static gs_owner owner;
static gs_guardian *g;
static int runs;
static char ran_this_round[8]; /* a copy: the block may be gone */

static size_t live(void)
{
	struct gs_owner_stats s = {.size = sizeof s};
	GS_CHECK(gs_owner_stats(owner, &s) == 0, "gs_owner_stats");
	return s.live_blocks;
}

static void fin(void *block, void *arg)
{
	struct rblock *b = block;
	GS_CHECK(arg == (void *)0x5eed, "finalizer arg %p", arg);
	GS_CHECK(b->magic == MAGIC, "block not intact in its finalizer");
	runs++;
	memcpy(ran_this_round, b->name, sizeof ran_this_round);
	if (mode == REARM && runs == 1)
		GS_CHECK(gs_set_finalizer(b, fin, (void *)0x5eed) == 0, "re-arm errno %d", errno);
	if (mode == TO_GUARDIAN)
		GS_CHECK(gs_guardian_register(g, b) == 0, "register errno %d", errno);
	if (mode == FREES_ITSELF)
		free(b);
}

static GS_NOINLINE void rearm_block(void)
{
	gs_owner prev = gs_owner_set(owner);
	struct rblock *b = malloc(sizeof *b);
	gs_owner_set(prev);
	memset(b, 0, sizeof *b);
	b->magic = MAGIC;
	snprintf(b->name, sizeof b->name, "R");
	GS_CHECK(gs_set_finalizer(b, fin, (void *)0x5eed) == 0, "set_finalizer errno %d", errno);
}

/* One collect + drain, then what ran and how many of the blocks live. */
static GS_NOINLINE void round_(int i)
{
	ran_this_round[0] = '\0';
	gs_test_collect();
	gs_drain();
	printf("round %d: %s\n", i, ran_this_round[0] ? ran_this_round : "-");
	printf("live %zu\n", live());
	fflush(stdout);
}

static GS_NOINLINE void poll_and_free(void)
{
	struct rblock *b = gs_guardian_poll(g);
	GS_CHECK(!b || b->magic == MAGIC, "polled block not intact");
	printf("polled %s\n", b ? b->name : "NULL");
	free(b);
	printf("live %zu\n", live());
}

/* usage: finalizer_rearm [once|rearm|to-guardian|frees-itself] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *m = gs_test_arg(argc, argv, 1, "rearm");
	if (!strcmp(m, "once"))
		mode = ONCE;
	else if (!strcmp(m, "rearm"))
		mode = REARM;
	else if (!strcmp(m, "to-guardian"))
		mode = TO_GUARDIAN;
	else if (!strcmp(m, "frees-itself"))
		mode = FREES_ITSELF;
	else
		return 2;
	owner = gs_owner_new("rearm");
	g = gs_guardian_new();
	rearm_block();
	gs_test_clear_stack(); /* round_'s frame reuses rearm_block's */
	round_(1);
	round_(2);
	if (mode == REARM)
		round_(3);
	if (mode == TO_GUARDIAN)
		poll_and_free();
	gs_guardian_free(g);
	gs_test_clear_stack();
	return gs_test_summary("finalizer_rearm");
}
