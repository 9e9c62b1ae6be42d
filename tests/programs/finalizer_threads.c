/* Proves: several threads calling gs_collect + gs_drain + gs_guardian_poll at once, while other threads allocate, free and drop finalizable and guarded blocks, run every finalizer exactly once, only after its block was dropped, and poll every dropped guarded block exactly once
 * Expect: [ALLOCATORS DRAINERS PER_THREAD] → "made F finalizable G guarded", "finalized F polled G", "finalizer_threads: ok", exit 0, leaks:[]; mode `keep` (allocators keep every block until after the check) → "finalized 0 polled 0" */
#include <pthread.h>
#include <stdatomic.h>

#include "guardshim.h"
#include "gs_test.h"

#define MAXT 8
#define WINDOW 64
#define MAGIC 0x6b6c6d6e6f707172ull

struct tblock {
	uint64_t magic;
	uint32_t thread, seq;
	atomic_int dropped; /* set by the allocator just before it drops the block */
	atomic_int seen;    /* finalized or polled */
	uint64_t pad[3];
};

static int n_alloc = 2, n_drain = 2, per_thread = 3000, keep;
static gs_guardian *guardian;
static atomic_int stop;
static atomic_long finalized, polled, made_fin, made_guard, violations;
static struct tblock *volatile *kept; /* keep mode: every block, until the end */

static void violation(const char *what, struct tblock *b)
{
	printf("FAIL %s: block %u/%u\n", what, b->thread, b->seq);
	fflush(stdout);
	atomic_fetch_add(&violations, 1);
}

static void check_block(struct tblock *b, const char *what)
{
	if (b->magic != MAGIC)
		violation("bad magic", b);
	if (!atomic_load(&b->dropped))
		violation(what, b);
	if (atomic_fetch_add(&b->seen, 1) != 0)
		violation("seen twice", b);
}

static void fin(void *block, void *arg)
{
	if (arg != (void *)0xf1)
		violation("bad arg", block);
	check_block(block, "finalized while still referenced");
	atomic_fetch_add(&finalized, 1);
}

static GS_NOINLINE struct tblock *thread_block(uint32_t t, uint32_t seq)
{
	struct tblock *b = calloc(1, sizeof *b);
	b->magic = MAGIC;
	b->thread = t;
	b->seq = seq;
	return b;
}

static GS_NOINLINE void drop_slot(struct tblock *volatile *slot)
{
	struct tblock *b = *slot;
	if (!b)
		return;
	if (keep) {
		kept[b->thread * (uint32_t)per_thread + b->seq] = b;
	} else {
		atomic_store(&b->dropped, 1);
	}
	*slot = NULL;
}

static GS_NOINLINE void *allocator(void *arg)
{
	uint32_t t = (uint32_t)(uintptr_t)arg;
	struct tblock *volatile window[WINDOW] = {0};
	uint64_t x = 0x1234567 + t;
	for (uint32_t seq = 0; seq < (uint32_t)per_thread; seq++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		int slot = (int)((x >> 33) % WINDOW);
		drop_slot(&window[slot]);
		struct tblock *b = thread_block(t, seq);
		if (seq % 2) {
			if (gs_set_finalizer(b, fin, (void *)0xf1) == 0)
				atomic_fetch_add(&made_fin, 1);
		} else {
			if (gs_guardian_register(guardian, b) == 0)
				atomic_fetch_add(&made_guard, 1);
		}
		window[slot] = b;
		/* Plain churn next to it. */
		char *volatile junk = malloc(16 + (x >> 40) % 200);
		junk[0] = 1;
		free(junk);
	}
	for (int i = 0; i < WINDOW; i++)
		drop_slot(&window[i]);
	gs_test_clear_stack();
	return NULL;
}

static GS_NOINLINE void poll_all(void)
{
	struct tblock *b;
	while ((b = gs_guardian_poll(guardian)) != NULL) {
		check_block(b, "polled while still referenced");
		atomic_fetch_add(&polled, 1);
		free(b);
	}
}

static GS_NOINLINE void drain_round(void)
{
	gs_test_collect();
	gs_drain();
	poll_all();
}

static GS_NOINLINE void *drainer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		drain_round();
	gs_test_clear_stack();
	return NULL;
}

/* usage: finalizer_threads [ALLOCATORS [DRAINERS [PER_THREAD [keep]]]] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	n_alloc = atoi(gs_test_arg(argc, argv, 1, "2"));
	n_drain = atoi(gs_test_arg(argc, argv, 2, "2"));
	per_thread = atoi(gs_test_arg(argc, argv, 3, "3000"));
	keep = !strcmp(gs_test_arg(argc, argv, 4, "drop"), "keep");
	if (n_alloc < 1 || n_alloc > MAXT || n_drain < 1 || n_drain > MAXT || per_thread < 1)
		return 2;
	guardian = gs_guardian_new();
	kept = calloc((size_t)n_alloc * (size_t)per_thread, sizeof *kept);
	pthread_t at[MAXT], dt[MAXT];
	for (int i = 0; i < n_drain; i++)
		pthread_create(&dt[i], NULL, drainer, NULL);
	for (int i = 0; i < n_alloc; i++)
		pthread_create(&at[i], NULL, allocator, (void *)(uintptr_t)i);
	for (int i = 0; i < n_alloc; i++)
		pthread_join(at[i], NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < n_drain; i++)
		pthread_join(dt[i], NULL);
	/* The rest on the main thread, with every other thread gone. */
	for (int i = 0; i < 20 && atomic_load(&finalized) + atomic_load(&polled) <
					  atomic_load(&made_fin) + atomic_load(&made_guard); i++)
		drain_round();
	long f = atomic_load(&finalized), p = atomic_load(&polled);
	long mf = atomic_load(&made_fin), mg = atomic_load(&made_guard);
	printf("made %ld finalizable %ld guarded\nfinalized %ld polled %ld\n", mf, mg, f, p);
	GS_CHECK(atomic_load(&violations) == 0, "%ld violations", atomic_load(&violations));
	GS_CHECK(mf + mg == (long)n_alloc * per_thread, "registrations failed");
	if (keep) {
		GS_CHECK(f == 0 && p == 0, "kept blocks were finalized or polled");
		for (size_t i = 0; i < (size_t)n_alloc * (size_t)per_thread; i++) {
			struct tblock *b = kept[i];
			if (b->seq % 2)
				gs_set_finalizer(b, NULL, NULL);
			free(b);
			kept[i] = NULL;
		}
	} else {
		GS_CHECK(f == mf, "finalized %ld of %ld", f, mf);
		GS_CHECK(p == mg, "polled %ld of %ld", p, mg);
	}
	free((void *)kept);
	kept = NULL;
	gs_guardian_free(guardian);
	gs_test_clear_stack();
	return gs_test_summary("finalizer_threads");
}
