/* SPDX-License-Identifier: MIT
 * test_tables.c: unit test of the shim's bookkeeping tables, linked as
 * plain objects (no interpose.c) so it runs under AddressSanitizer and
 * UBSan (`make check-sanitize`): sites.c, owners.c, leakhist.c, misuse.c
 * (with handle.c; check.c's report and unwind.c's capture are stubbed
 * here), exesym.c and gate.c.
 * Proves: a site is "growing" only after SITES_WINDOW strictly rising
 * scans adding SITES_MIN_GROWTH bytes, once, at the right rate, and the top
 * sites are ordered by live bytes; owner ids, names and counters are exact
 * (also from 4 threads) up to OWNERS_MAX; leakhist says new / same / grown
 * per (kind, stack, owner); misuse_check names double free, realloc of a
 * freed block, interior and invalid free with the stacks it knows, reports
 * each (kind, site) once, leaves unknown pointers to glibc and aborts with
 * abort_on_error=1; exesym finds a static function of the executable; the
 * gate defers frees only while open and frees them at close, logs young
 * blocks sorted, survives 4 threads across 50 open/close cycles, and its
 * open waits for a realloc under way (EAGAIN when it never leaves).
 * Usage: test_tables [NAME-SUBSTRING]. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "exesym.h"
#include "gate.h"
#include "handle.h"
#include "harness.h"
#include "leakhist.h"
#include "mark.h"
#include "misuse.h"
#include "options.h"
#include "owners.h"
#include "sites.h"
#include "tstate.h"
#include "unwind.h"

/* ---- Stubs for misuse.c: interpose.c's TLS, unwind.c, check.c ---- */

__thread struct tstate tls __attribute__((tls_model("initial-exec")));

static stack_id stub_where = 1;

stack_id unwind_stack(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    (void)entry;
    (void)ra0;
    (void)cfa0;
    return stub_where;
}

static struct {
    size_t n;
    struct misuse last;
    int in_shim; /* tls.in_shim seen by the report */
} reported;

void check_report_misuse(const struct misuse *m)
{
    reported.n++;
    reported.last = *m;
    reported.in_shim = tls.in_shim;
}

/* ---- sites.c ---- */

/* One scan's heap: one block per (site, bytes, state). */
struct fake_block {
    stack_id site;
    size_t bytes;
    uint8_t state;
};

static void observe(const struct fake_block *fb, size_t n, size_t cap, double now_ms)
{
    struct sblock *b = xcalloc(n, sizeof *b);
    uint8_t *state = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        b[i] = (struct sblock){.start = 0x10000 + 16 * i, .size = fb[i].bytes, .stack = fb[i].site};
        state[i] = fb[i].state;
    }
    struct heap h = {.n = n, .blocks = b, .state = state};
    struct site_agg *agg = xcalloc(cap, sizeof *agg);
    sites_aggregate(&h, agg, cap);
    sites_observe(agg, cap, now_ms);
    free(agg);
    free(state);
    free(b);
}

static void test_sites(void)
{
    /* Reachable bytes per scan (ms 0, 1000, 2000, 3000, 4000):
     *  site 5: 1000 3000 6000 9000 12000  steady, +8000 over the window
     *  site 6: 1000 5000 4000 9000 20000  a dip: not steady in scans 1-4
     *  site 7: 1000 2000 3000 4000 5000   steady but +3000 < 4096
     *  site 8: unreachable and growing    not reachable bytes: never
     *  site 9: 9000 (possible) each scan  live, not reachable
     *  site 40: beyond cap (32): ignored */
    static const size_t s5[] = {1000, 3000, 6000, 9000, 12000};
    static const size_t s6[] = {1000, 5000, 4000, 9000, 20000};
    struct growth_site g[8];
    size_t ng[5];
    for (unsigned k = 0; k < 5; k++) {
        struct fake_block fb[] = {
            {5, s5[k] / 2, BS_REACHED}, {5, s5[k] - s5[k] / 2, BS_REACHED},
            {6, s6[k], BS_REACHED},     {7, 1000 * (k + 1), BS_REACHED},
            {8, 5000 * (k + 1), BS_UNREACHED}, {9, 9000, BS_POSSIBLE},
            {40, 100000 * (k + 1), BS_REACHED},
        };
        observe(fb, GS_ARRAY_LEN(fb), 32, 1000.0 * k);
        ng[k] = sites_growing(g, GS_ARRAY_LEN(g));
        if (k == 3) {
            CHECK(ng[3] == 1 && g[0].stack == 5 && g[0].bytes == 9000 && g[0].blocks == 2,
                  "sites: after 4 rising scans the steady site (5) is growing, 9000 B in 2 blocks"
                  " (%zu sites)", ng[3]);
            CHECK(ng[3] == 1 && g[0].bytes_per_s > 2666.6 && g[0].bytes_per_s < 2666.7,
                  "sites: its rate is 8000 B over 3 s");
        }
    }
    CHECK(ng[0] == 0 && ng[1] == 0 && ng[2] == 0, "sites: nothing grows before %d scans",
          SITES_WINDOW);
    CHECK(ng[4] == 0, "sites: a growing site is reported once (scan 5: site 5 again, 6 not"
                      " steady over 2-5, 7 below %d B)", SITES_MIN_GROWTH);
    struct growth_site top[3];
    size_t nt = sites_top(top, 3);
    CHECK(nt == 3 && top[0].stack == 8 && top[0].bytes == 25000 && top[1].stack == 6 &&
              top[1].bytes == 20000 && top[2].stack == 5 && top[2].bytes == 12000,
          "sites: top by live bytes, reachable or not: 8 (25000), 6 (20000), 5 (12000)");
    nt = sites_top(top, 3);
    CHECK(nt == 3 && top[0].stack == 8, "sites_top does not consume");
    /* A heap with more sites than the table had: it grows. */
    struct fake_block many[3000];
    for (size_t i = 0; i < GS_ARRAY_LEN(many); i++)
        many[i] = (struct fake_block){(stack_id)(i + 1), i + 1, BS_REACHED};
    observe(many, GS_ARRAY_LEN(many), 4096, 5000);
    nt = sites_top(top, 3);
    CHECK(nt == 3 && top[0].stack == 3000 && top[1].stack == 2999 && top[2].stack == 2998,
          "sites: 3000 sites (table grown past 1024): top 3 are the largest");
}

/* ---- owners.c ---- */

#define OWNER_THREADS 4
#define OWNER_ROUNDS 100000

static uint32_t thread_owner[2];

static void *owner_worker(void *arg)
{
    uintptr_t t = (uintptr_t)arg;
    for (size_t i = 0; i < OWNER_ROUNDS; i++) {
        uint32_t id = thread_owner[(i + t) % 2];
        owners_on_alloc(id, 24);
        if (i % 3)
            owners_on_free(id, 24);
    }
    return NULL;
}

static void test_owners(void)
{
    CHECK(!owners_valid(0) && !owners_valid(1) && owners_name(1) == NULL,
          "owners: none before the first; 0 is never valid");
    char name[300];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    memcpy(name, "alpha", 6);
    uint32_t a = owners_new(name);
    name[0] = 'A';
    CHECK(a == 1 && owners_valid(1) && !owners_valid(2) && !strcmp(owners_name(a), "alpha"),
          "owners: the first id is 1 and its name is a copy");
    memset(name, 'y', sizeof name - 1);
    uint32_t b = owners_new(name);
    CHECK(b == 2 && strlen(owners_name(b)) == 255, "owners: a 299-char name is kept to 255");
    struct owner_counts c;
    owners_on_alloc(a, 100);
    owners_on_alloc(a, 100);
    owners_on_alloc(a, 50);
    owners_on_free(a, 100);
    owners_counts(a, &c);
    CHECK(c.live_blocks == 2 && c.live_bytes == 150 && c.total_allocs == 3 && c.total_frees == 1,
          "owners: counters of one owner (2 live, 150 B, 3 allocs, 1 free)");
    owners_on_alloc(0, 7);
    owners_on_alloc(99, 7);
    owners_on_free(99, 7);
    owners_counts(99, &c);
    CHECK(c.live_blocks == 0 && c.total_allocs == 0, "owners: an unknown id counts nothing");
    thread_owner[0] = owners_new("t0");
    thread_owner[1] = owners_new("t1");
    pthread_t th[OWNER_THREADS];
    for (uintptr_t t = 0; t < OWNER_THREADS; t++)
        pthread_create(&th[t], NULL, owner_worker, (void *)t);
    for (int t = 0; t < OWNER_THREADS; t++)
        pthread_join(th[t], NULL);
    /* Each thread gives each owner every other round; frees in the rounds
     * i % 3 != 0. */
    size_t want_allocs = OWNER_THREADS * OWNER_ROUNDS / 2;
    size_t want_frees = OWNER_THREADS * (OWNER_ROUNDS - (OWNER_ROUNDS + 2) / 3);
    struct owner_counts c0, c1;
    owners_counts(thread_owner[0], &c0);
    owners_counts(thread_owner[1], &c1);
    CHECK(c0.total_allocs == want_allocs && c1.total_allocs == want_allocs &&
              c0.total_frees + c1.total_frees == want_frees &&
              c0.live_blocks == c0.total_allocs - c0.total_frees &&
              c0.live_bytes == 24 * c0.live_blocks && c1.live_bytes == 24 * c1.live_blocks,
          "owners: %d threads updating two owners at once: counters exact", OWNER_THREADS);
    uint32_t last = 0, id;
    while ((id = owners_new("filler")))
        last = id;
    CHECK(last == OWNERS_MAX && owners_valid(OWNERS_MAX) && !owners_valid(OWNERS_MAX + 1) &&
              !strcmp(owners_name(a), "alpha"),
          "owners: ids run out at %u (then 0), earlier names intact", OWNERS_MAX);
}

/* ---- leakhist.c ---- */

static void test_leakhist(void)
{
    CHECK(leakhist_note(0, 7, 0, 48, 1) == NEWS_NEW, "leakhist: a first group is new");
    CHECK(leakhist_note(0, 7, 0, 48, 1) == NEWS_SAME, "leakhist: the same totals are not news");
    CHECK(leakhist_note(0, 7, 0, 24, 1) == NEWS_SAME, "leakhist: a shrunk group is not news");
    CHECK(leakhist_note(0, 7, 0, 96, 2) == NEWS_GROWN, "leakhist: more bytes and blocks: grown");
    CHECK(leakhist_note(0, 7, 0, 96, 2) == NEWS_SAME, "leakhist: the grown totals are recorded");
    CHECK(leakhist_note(0, 7, 0, 96, 3) == NEWS_GROWN, "leakhist: more blocks alone: grown");
    CHECK(leakhist_note(1, 7, 0, 96, 3) == NEWS_NEW && leakhist_note(0, 7, 5, 96, 3) == NEWS_NEW &&
              leakhist_note(0, 8, 0, 96, 3) == NEWS_NEW,
          "leakhist: kind, owner and stack each make another group");
    size_t news = 0, same = 0;
    for (uint32_t s = 100; s < 20100; s++)
        news += leakhist_note(2, s, s % 7, s, 1) == NEWS_NEW;
    for (uint32_t s = 100; s < 20100; s++)
        same += leakhist_note(2, s, s % 7, s, 1) == NEWS_SAME;
    CHECK(news == 20000 && same == 20000, "leakhist: 20,000 groups through table growth");
}

/* ---- misuse.c ---- */

/* Synthetic tracked blocks: misuse.c only looks them up in the table. */
#define BLOCK_A ((uintptr_t)0x7e0000001000)
#define BLOCK_B ((uintptr_t)0x7e0000002000)

static int a_global;

static bool misuse(void *p, bool is_realloc, stack_id where)
{
    stub_where = where;
    tls.in_shim++;
    bool r = misuse_check(p, is_realloc, 0x1111, 0x2222, 0x3333);
    tls.in_shim--;
    return r;
}

/* A slot on this thread's real stack: no ASan fake frame. */
__attribute__((no_sanitize("address"), noinline)) static bool misuse_stack_slot(stack_id where)
{
    volatile long slot[4] = {0};
    return misuse((void *)&slot[1], false, where);
}

static void test_misuse(void)
{
    opt_parse(NULL);
    handle_insert(BLOCK_A, 64, 42, 0, 0);
    struct handle h;
    handle_remove(BLOCK_A, &h, 0xabcdef);
    reported.n = 0;
    CHECK(misuse((void *)BLOCK_A, false, 10) && reported.n == 1 &&
              reported.last.kind == MISUSE_DOUBLE_FREE && reported.last.addr == BLOCK_A &&
              reported.last.alloc == 42 && reported.last.free_pc == 0xabcdef &&
              reported.last.where == 10 && reported.last.size == 64 && reported.in_shim > 0,
          "misuse: a double free names the allocation stack, the first free's caller, 64 B");
    CHECK(misuse((void *)BLOCK_A, false, 10) && reported.n == 1,
          "misuse: the same double free again is kept from glibc but not reported twice");
    CHECK(misuse((void *)BLOCK_A, false, 11) && reported.n == 2,
          "misuse: the same misuse from another site is reported");
    CHECK(misuse((void *)BLOCK_A, true, 12) && reported.n == 3 &&
              reported.last.kind == MISUSE_REALLOC_FREED && reported.last.alloc == 42,
          "misuse: realloc of a freed block");
    handle_insert(BLOCK_B, 100, 43, 0, 0);
    CHECK(misuse((void *)(BLOCK_B + 40), false, 13) && reported.n == 4 &&
              reported.last.kind == MISUSE_INTERIOR_FREE && reported.last.block == BLOCK_B &&
              reported.last.size == 100 && reported.last.alloc == 43 &&
              reported.last.addr == BLOCK_B + 40,
          "misuse: an interior free names the block (start, 100 B, its stack)");
    CHECK(!misuse((void *)(BLOCK_B + 100 + 4096), false, 14) && reported.n == 4,
          "misuse: past the block's end and the probe: unknown, left to glibc");
    CHECK(misuse(&a_global, false, 15) && reported.n == 5 &&
              reported.last.kind == MISUSE_INVALID_FREE && reported.last.alloc == 0,
          "misuse: free of a global (in a loaded image) is invalid");
    CHECK(misuse_stack_slot(16) && reported.n == 6 && reported.last.kind == MISUSE_INVALID_FREE,
          "misuse: free of a stack slot is invalid");
    void *untracked = malloc(32);
    CHECK(!misuse(untracked, false, 17) && reported.n == 6,
          "misuse: a heap block the shim never saw is left to glibc, not reported");
    free(untracked);
    /* Allocated again at the freed address and freed again: the record is
     * the newest block's. */
    handle_insert(BLOCK_A, 32, 44, 0, 0);
    handle_remove(BLOCK_A, &h, 0x777);
    CHECK(misuse((void *)BLOCK_A, false, 18) && reported.n == 7 && reported.last.alloc == 44 &&
              reported.last.free_pc == 0x777 && reported.last.size == 32,
          "misuse: a block reallocated at a freed address and freed again: its own stacks");
    handle_remove(BLOCK_B, &h, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        opt.abort_on_error = 1;
        misuse((void *)BLOCK_A, false, 19);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "misuse: abort_on_error=1 aborts after the report (status 0x%x)", status);
}

/* ---- exesym.c ---- */

static GS_NOINLINE int exesym_target(int x) { return x + 1; }

static void test_exesym(void)
{
    volatile int r = exesym_target(1);
    (void)r;
    CHECK(exesym_lookup("exesym_target") == (void *)exesym_target,
          "exesym: a static function of the executable is found at its run-time address");
    CHECK(exesym_lookup("no_such_function_here") == NULL, "exesym: an unknown name is NULL");
    CHECK(exesym_lookup("a_global") == NULL, "exesym: a data symbol is no function");
    CHECK(exesym_lookup("pthread_create") == NULL,
          "exesym: a function the executable only imports is not its own");
}

/* ---- gate.c ---- */

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);

static int cmp_addr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static void count_young(uintptr_t p, void *ctx)
{
    (void)p;
    ++*(size_t *)ctx;
}

static atomic_int gate_stop, realloc_phase;
/* Worker operations since the cycle began: a worker waits at GATE_OPS_MAX,
 * so the logs stay small (the young log is sorted at each look). */
static atomic_int gate_ops;
#define GATE_OPS_MAX 4000

static bool gate_reallocs_any(void)
{
    for (unsigned k = 0; k < GATE_REALLOC_SHARDS; k++)
        if (atomic_load(&gate_reallocs[k].n))
            return true;
    return false;
}

static void *gate_worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&gate_stop)) {
        if (atomic_load(&gate_ops) >= GATE_OPS_MAX) {
            sched_yield();
            continue;
        }
        atomic_fetch_add(&gate_ops, 1);
        void *p = __libc_malloc(48);
        gate_note_young((uintptr_t)p);
        if (!gate_defer_free(p))
            __libc_free(p); /* closed: the caller frees it now */
    }
    return NULL;
}

/* A realloc under way: announced, leaves once the gate is open (phase 1)
 * or when told to (phase 2). */
static void *realloc_worker(void *arg)
{
    (void)arg;
    unsigned s = gate_realloc_enter();
    int phase = atomic_load(&realloc_phase);
    if (phase == 1)
        while (!gate_open_now())
            sched_yield();
    else
        while (atomic_load(&realloc_phase) != 3)
            sched_yield();
    gate_realloc_leave(s);
    return NULL;
}

static void test_gate(void)
{
    void *p = __libc_malloc(200);
    CHECK(!gate_open_now() && !gate_defer_free(p), "gate: closed, a free is not deferred");
    __libc_free(p);
    CHECK(gate_open() == 0 && gate_open_now(), "gate: opens");
    p = __libc_malloc(200);
    CHECK(gate_defer_free(p), "gate: open, a free is taken over");
    static uintptr_t want[1010];
    rng_seed(7);
    for (size_t i = 0; i < 1000; i++) {
        want[i] = (uintptr_t)(rng() | 16) & ~(uintptr_t)15;
        gate_note_young(want[i]);
    }
    size_t n = 0, seen = 0;
    bool overflow = true;
    const uintptr_t *young = gate_young(&n, &overflow);
    qsort(want, 1000, sizeof *want, cmp_addr);
    CHECK(n == 1000 && !overflow && !memcmp(young, want, 1000 * sizeof *want),
          "gate: 1000 young blocks, sorted, none lost");
    for (size_t i = 1000; i < 1010; i++) {
        want[i] = 0x100000 + 16 * i;
        gate_note_young(want[i]);
    }
    young = gate_young(&n, &overflow);
    qsort(want, 1010, sizeof *want, cmp_addr);
    gate_young_each(count_young, &seen);
    CHECK(n == 1010 && seen == 1010 && !memcmp(young, want, 1010 * sizeof *want),
          "gate: 10 more, all 1010 sorted again");
    gate_close();
    /* glibc's tcache hands a just-freed chunk out again first. */
    void *q = __libc_malloc(200);
    CHECK(!gate_open_now() && q == p, "gate: close freed the deferred block (%p again)", q);
    __libc_free(q);

    pthread_t th[4];
    for (int t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, gate_worker, NULL);
    bool cycles_ok = true;
    for (int cycle = 0; cycle < 50; cycle++) {
        cycles_ok &= gate_open() == 0;
        /* Counted from the open: workers also run while the gate is shut. */
        atomic_store(&gate_ops, 0);
        while (atomic_load(&gate_ops) < GATE_OPS_MAX / 2)
            sched_yield();
        young = gate_young(&n, &overflow);
        for (size_t i = 0; i < n; i++)
            cycles_ok &= young[i] != 0 && (i == 0 || young[i - 1] <= young[i]);
        cycles_ok &= n > 0 && n <= GATE_OPS_MAX + 8; /* workers may overshoot by one each */
        gate_close();
    }
    atomic_store(&gate_stop, 1);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    CHECK(cycles_ok, "gate: 4 threads freeing and allocating across 50 open/close cycles: every"
                     " young entry published and sorted, each block freed once");

    pthread_t r;
    atomic_store(&realloc_phase, 1);
    pthread_create(&r, NULL, realloc_worker, NULL);
    while (!gate_reallocs_any())
        sched_yield();
    int err = gate_open();
    pthread_join(r, NULL);
    CHECK(err == 0 && gate_open_now(), "gate: open waits for a realloc under way, which then leaves");
    gate_close();
    atomic_store(&realloc_phase, 2);
    pthread_create(&r, NULL, realloc_worker, NULL);
    while (!gate_reallocs_any())
        sched_yield();
    err = gate_open();
    CHECK(err == EAGAIN && !gate_open_now(),
          "gate: a realloc that never leaves: EAGAIN after the bound, closed again");
    atomic_store(&realloc_phase, 3);
    pthread_join(r, NULL);
}

int main(int argc, char **argv)
{
    static const struct unit_test tests[] = {
        {"sites", test_sites},   {"owners", test_owners}, {"leakhist", test_leakhist},
        {"misuse", test_misuse}, {"exesym", test_exesym},    {"gate", test_gate},
    };
    return harness_main(tests, GS_ARRAY_LEN(tests), argc, argv);
}
