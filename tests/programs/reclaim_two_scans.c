/* Proves: with reclaim=1 a block unreachable in two consecutive scans (gs_collect, gs_check_leaks, or the one gs_drain runs when the scans since the last drain left leaks) is freed during the second, with the blocks only it reaches, and not reported, also once it was finalizable or guarded and is no longer; reachability in between restarts the count; "possible" (interior-pointer) blocks are never reclaimed
 * Expect (reclaim=1): drop → "scan1 2" "scan2 0", leaks:[]; rescue → "scan1 2" "scan2 2" "scan3 2" "scan4 0"; check-leaks → "check 2" "scan2 0"; possible → "scan3 2" (the block and its child stay); drain (gs_drain after a scan that found the blocks) → "scan1 2 scans 1" "drain1 0 scans 2" "drain2 0 scans 2" (the drain ran the second scan, once), drain-reachable → "drain1 2 scans 1" (nothing unreachable: no scan); without reclaim drain → "drain1 2 scans 1"; a block whose finalizer was cleared, whose guardian was freed while it was queued, or that was polled and dropped is an ordinary block again: finalizer-cleared → "scan2 0" "drained 0", guardian-freed → "scan3 0" "polled NULL", polled-dropped → "scan3 0" "polled NULL"; controls: finalizer-kept → "scan3 2" "drained 1" "finalized 1 live 0", guardian-kept → "scan3 2" "polled victim", polled-reregistered → "scan3 2" "polled victim", all leaks:[]; without reclaim: drop → "scan2 2", exit 23 `direct reclaim_victim_64 64 1` + `indirect reclaim_child_32 32 1` */
#include "guardshim.h"
#include "gs_test.h"

struct victim { void *child; uint64_t pad[7]; };  /* 64 bytes */

struct victim *volatile root;
char *volatile interior;
static uintptr_t hidden;
static gs_owner owner;

static GS_NOINLINE void *reclaim_child_32(void) { return calloc(1, 32); }

static GS_NOINLINE void reclaim_victim_64(void)
{
	gs_owner prev = gs_owner_set(owner);
	struct victim *v = calloc(1, sizeof *v);
	v->child = reclaim_child_32();
	gs_owner_set(prev);
	root = v;
	hidden = ~(uintptr_t)v;
}

static size_t live(void)
{
	struct gs_owner_stats s = {.size = sizeof s};
	GS_CHECK(gs_owner_stats(owner, &s) == 0, "gs_owner_stats");
	return s.live_blocks;
}

static int finalized;

static void fin_count(void *block, void *arg)
{
	(void)arg;
	finalized++;
	free(((struct victim *)block)->child);
}

static size_t scans(void)
{
	struct gs_stats st;
	GS_CHECK(gs_get_stats(&st) == 0, "gs_get_stats");
	return st.scans;
}

/* gs_drain after one scan, then a second drain; live blocks and scans. */
static GS_NOINLINE void drains(void)
{
	gs_test_collect();
	printf("scan1 %zu scans %zu\n", live(), scans());
	gs_test_clear_stack();
	gs_drain();
	printf("drain1 %zu scans %zu\n", live(), scans());
	gs_test_clear_stack();
	gs_drain();
	printf("drain2 %zu scans %zu\n", live(), scans());
}

/* Polls the block and drops it, registered again or not; the pointer dies
 * with this frame. */
static GS_NOINLINE void poll_and_drop(gs_guardian *g, int reregister)
{
	void *v = gs_guardian_poll(g);
	GS_CHECK(v != NULL, "not queued");
	if (v && reregister)
		GS_CHECK(gs_guardian_register(g, v) == 0, "register again");
}

static GS_NOINLINE void scan(int i)
{
	gs_test_collect();
	printf("scan%d %zu\n", i, live());
}

/* usage: reclaim_two_scans [drop|rescue|check-leaks|possible|drain|drain-reachable|
 *                           finalizer-cleared|finalizer-kept|
 *                           guardian-freed|guardian-kept|polled-dropped|polled-reregistered]
 * (EXTRA_OPTS reclaim=1) */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "drop");
	owner = gs_owner_new("reclaim");
	reclaim_victim_64();
	if (!strcmp(mode, "drop")) {
		root = NULL;
		scan(1);
		scan(2);
	} else if (!strcmp(mode, "rescue")) {
		root = NULL;
		scan(1);
		root = (struct victim *)~hidden; /* reachable again before the 2nd scan */
		scan(2);
		root = NULL;
		scan(3);
		scan(4);
	} else if (!strcmp(mode, "check-leaks")) {
		root = NULL;
		gs_test_clear_stack();
		printf("check %zu\n", gs_check_leaks());
		scan(2);
	} else if (!strcmp(mode, "possible")) {
		interior = (char *)root + 8;
		root = NULL;
		scan(1);
		scan(2);
		scan(3);
		free(((struct victim *)~hidden)->child);
		free((void *)~hidden);
		interior = NULL;
	} else if (!strcmp(mode, "drain")) {
		root = NULL;
		drains();
	} else if (!strcmp(mode, "drain-reachable")) {
		drains();
		free(root->child);
		free(root);
		root = NULL;
	} else if (!strcmp(mode, "finalizer-cleared") || !strcmp(mode, "finalizer-kept")) {
		GS_CHECK(gs_set_finalizer(root, fin_count, NULL) == 0, "set_finalizer");
		if (!strcmp(mode, "finalizer-cleared"))
			GS_CHECK(gs_set_finalizer(root, NULL, NULL) == 0, "clear finalizer");
		root = NULL;
		scan(1);
		scan(2);
		scan(3);
		printf("drained %zu\n", gs_drain());
		printf("finalized %d live %zu\n", finalized, live());
	} else if (!strcmp(mode, "guardian-freed") || !strcmp(mode, "guardian-kept")) {
		gs_guardian *g = gs_guardian_new();
		GS_CHECK(gs_guardian_register(g, root) == 0, "register");
		root = NULL;
		scan(1); /* queued on g, kept alive */
		if (!strcmp(mode, "guardian-freed"))
			gs_guardian_free(g);
		scan(2);
		scan(3);
		struct victim *v = gs_guardian_poll(g);
		printf("polled %s\n", v ? "victim" : "NULL");
		if (v) {
			free(v->child);
			free(v);
		}
		gs_guardian_free(g);
	} else if (!strcmp(mode, "polled-dropped") || !strcmp(mode, "polled-reregistered")) {
		gs_guardian *g = gs_guardian_new();
		GS_CHECK(gs_guardian_register(g, root) == 0, "register");
		root = NULL;
		scan(1);
		poll_and_drop(g, !strcmp(mode, "polled-reregistered"));
		scan(2);
		scan(3);
		struct victim *v = gs_guardian_poll(g);
		printf("polled %s\n", v ? "victim" : "NULL");
		if (v) {
			free(v->child);
			free(v);
		}
		gs_guardian_free(g);
	} else {
		return 2;
	}
	gs_test_clear_stack();
	return gs_test_summary("reclaim_two_scans");
}
