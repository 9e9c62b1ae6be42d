/* SPDX-License-Identifier: MIT
 * test_guardian.c: unit test of guardian.c's scan protocol, linked as
 * plain objects with the handle table, mark and classify (no interpose.c)
 * so it runs under AddressSanitizer and UBSan (`make check-sanitize`).
 * A scan here is scan.c's sequence on a synthetic heap: handle locks,
 * guardian_prepare, heap_build from the handle table, mark from a root
 * page, guardian_scan, classify_all, guardian_apply.
 * Proves: an unreachable guarded block is queued once with what it
 * reaches kept alive, stays a root while queued, is polled in order and
 * its registration is used up; guardian_free hands queued blocks back as
 * ordinary leaks; finalizers run in Boehm's order (a chain one per scan,
 * a self-pointer no obstacle, a cycle never finalized but reported); a
 * block freed while queued or pending is dropped; bad guardians are
 * refused; and on random graphs the queued, finalized and leaked sets
 * equal what the driver's own reachability says.
 * Blocks are 64-byte glibc-style chunks (mark.c reads a block's next chunk
 * header) in the driver's own mapping; they hold only pointers to block
 * starts. Usage: test_guardian [NAME-SUBSTRING]. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "classify.h"
#include "guardian.h"
#include "handle.h"
#include "harness.h"
#include "mark.h"
#include "options.h"

/* ---- Synthetic heap ---- */

#define WORDS 8 /* words per block: 64 bytes */
#define CHUNK 80 /* 64 + 8 rounded up to 16 */
#define MAX_BLOCKS 4096
#define NO_BLOCK SIZE_MAX

static struct {
    uintptr_t base, bump;
    uintptr_t b[MAX_BLOCKS]; /* block starts, increasing */
    bool live[MAX_BLOCKS];
    size_t n;
    uintptr_t roots[512];
} fh;

static void fheap_init(void)
{
    size_t len = (size_t)MAX_BLOCKS * CHUNK + 4096;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("test_guardian: mmap");
        exit(2);
    }
    fh.base = fh.bump = (uintptr_t)m;
}

static size_t block(void)
{
    uintptr_t chunk = fh.bump;
    fh.bump += CHUNK;
    ((size_t *)chunk)[1] = CHUNK | 1; /* size | PREV_INUSE */
    ((size_t *)fh.bump)[1] = 32 | 1;  /* the next (top) chunk's header */
    size_t i = fh.n++;
    fh.b[i] = chunk + 16;
    fh.live[i] = true;
    if (!handle_insert(fh.b[i], WORDS * 8, (stack_id)(i + 1), 0, 0)) {
        fprintf(stderr, "test_guardian: handle_insert failed\n");
        exit(2);
    }
    return i;
}

static uintptr_t *words(size_t i) { return (uintptr_t *)fh.b[i]; }
static void link_to(size_t from, unsigned w, size_t to) { words(from)[w] = fh.b[to]; }

static size_t index_of(uintptr_t p)
{
    size_t lo = 0, hi = fh.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (fh.b[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < fh.n && fh.b[lo] == p ? lo : NO_BLOCK;
}

/* The program's free: what interpose.c does for a flagged block. */
static void free_block(void *p)
{
    size_t i = index_of((uintptr_t)p);
    struct handle h;
    if (i == NO_BLOCK || !fh.live[i] || !handle_remove((uintptr_t)p, &h, 0)) {
        fprintf(stderr, "test_guardian: free of %p, not a live block\n", p);
        exit(2);
    }
    if (h.flags & (HF_FINALIZER | HF_GUARDED))
        guardian_forget((uintptr_t)p);
    fh.live[i] = false;
    memset(p, 0xdd, WORDS * 8);
}

static void fheap_reset(void)
{
    for (size_t i = 0; i < fh.n; i++) {
        struct handle h;
        if (fh.live[i] && handle_remove(fh.b[i], &h, 0) && (h.flags & (HF_FINALIZER | HF_GUARDED)))
            guardian_forget(fh.b[i]);
    }
    memset((void *)fh.base, 0, fh.bump + 32 - fh.base);
    fh.bump = fh.base;
    fh.n = 0;
    memset(fh.roots, 0, sizeof fh.roots);
}

static void guard(uintptr_t g, size_t i)
{
    handle_update(fh.b[i], HF_GUARDED, 0, UINT32_MAX);
    if (guardian_register(g, fh.b[i]) != 0) {
        fprintf(stderr, "test_guardian: guardian_register failed\n");
        exit(2);
    }
}

static struct {
    size_t n;
    size_t order[MAX_BLOCKS];
    bool self_ok; /* every call got its block and the arg set for it */
} fin;

static void finalizer(void *b, void *arg)
{
    size_t i = index_of((uintptr_t)b);
    fin.self_ok &= i != NO_BLOCK && fh.live[i] && arg == (void *)(fh.b[i] ^ 0x5a5a);
    if (fin.n < MAX_BLOCKS)
        fin.order[fin.n++] = i;
}

static void finalizable(size_t i)
{
    handle_update(fh.b[i], HF_FINALIZER, 0, UINT32_MAX);
    guardian_set_finalizer(fh.b[i], finalizer, (void *)(fh.b[i] ^ 0x5a5a));
}

/* ---- One scan ---- */

struct verdict {
    int err;
    size_t queued, n_leaks;
    uint8_t leaked[MAX_BLOCKS]; /* 0 = not reported, else 1 + enum leak_kind */
    bool cycle[MAX_BLOCKS];
    bool consistent; /* every leak names a tracked block, once */
};

static struct verdict v;

static void scan(bool shared)
{
    memset(&v, 0, sizeof v);
    v.consistent = true;
    struct guard_actions acts;
    struct heap h;
    handle_lock_all();
    v.err = guardian_prepare(&acts, shared);
    if (v.err) {
        handle_unlock_all();
        return;
    }
    v.err = heap_build(&h);
    struct scan_result res = {0};
    if (!v.err) {
        mark_range(&h, (uintptr_t)fh.roots, (uintptr_t)(fh.roots + GS_ARRAY_LEN(fh.roots)));
        mark_drain(&h);
        guardian_scan(&h, &acts);
        v.queued = acts.n;
        res.leaks = xcalloc(h.n, sizeof *res.leaks);
        v.err = classify_all(&h, &res);
    }
    guardian_apply(&acts);
    handle_unlock_all();
    for (size_t k = 0; !v.err && k < res.n_leaks; k++) {
        size_t i = index_of(res.leaks[k].addr);
        if (i == NO_BLOCK || v.leaked[i] || res.leaks[k].stack != i + 1) {
            v.consistent = false;
            continue;
        }
        v.leaked[i] = (uint8_t)(1 + res.leaks[k].kind);
        v.cycle[i] = res.leaks[k].cycle;
        v.n_leaks++;
    }
    free(res.leaks);
    if (!v.err)
        heap_free(&h);
}

static size_t drain(void)
{
    fin.n = 0;
    fin.self_ok = true;
    return guardian_drain(free_block);
}

#define DIRECT (1 + KIND_DIRECT)
#define INDIRECT (1 + KIND_INDIRECT)

/* ---- Deterministic cases ---- */

static void test_queue(void)
{
    fheap_reset();
    uintptr_t g = guardian_new();
    size_t a = block(), b = block(), c = block(), d = block();
    link_to(a, 3, b);
    fh.roots[0] = fh.b[c];
    guard(g, a);
    guard(g, c);
    guard(g, d);
    scan(false);
    CHECK(v.err == 0 && v.consistent && v.queued == 2 && v.n_leaks == 0,
          "guardian: 2 unreachable guarded blocks queued, nothing reported (%zu queued, %zu leaks)",
          v.queued, v.n_leaks);
    scan(false);
    CHECK(v.queued == 0 && v.n_leaks == 0,
          "guardian: queued blocks are roots until polled: not queued again, not leaks");
    uintptr_t p1 = guardian_poll(g), p2 = guardian_poll(g), p3 = guardian_poll(g);
    CHECK(p1 == fh.b[a] && p2 == fh.b[d] && p3 == 0, "guardian: polled in queue order, then 0");
    scan(false);
    CHECK(v.queued == 0 && v.n_leaks == 3 && v.leaked[a] == DIRECT && v.leaked[b] == INDIRECT &&
              v.leaked[d] == DIRECT && !v.leaked[c],
          "guardian: the registration is used up: polled and dropped, a and d are leaks, b indirect");
    /* Registered again: queued again. */
    guard(g, a);
    scan(false);
    CHECK(v.queued == 1 && v.n_leaks == 1 && v.leaked[d] == DIRECT && guardian_poll(g) == fh.b[a],
          "guardian: a re-registered block is queued again");
    guardian_free(g);
    fheap_reset();
}

static void test_two_guardians(void)
{
    fheap_reset();
    uintptr_t g1 = guardian_new(), g2 = guardian_new();
    size_t a = block(), b = block();
    guard(g1, a);
    guard(g2, a);
    guard(g1, b);
    guard(g1, b); /* twice with one guardian: returned twice */
    scan(true);   /* the snapshot path's shared action buffer */
    CHECK(v.err == 0 && v.queued == 2 && v.n_leaks == 0, "guardian: shared buffer scan queues 2");
    uintptr_t x1 = guardian_poll(g1), x2 = guardian_poll(g1), x3 = guardian_poll(g1),
              x4 = guardian_poll(g1), y1 = guardian_poll(g2), y2 = guardian_poll(g2);
    CHECK(x1 == fh.b[a] && x2 == fh.b[b] && x3 == fh.b[b] && x4 == 0 && y1 == fh.b[a] && y2 == 0,
          "guardian: a block on two guardians comes from each; registered twice, returned twice");
    /* Queued on g1, then g1 is freed: back to an ordinary block. */
    guard(g1, a);
    scan(false);
    guardian_free(g1);
    scan(false);
    CHECK(v.queued == 0 && v.n_leaks == 2 && v.leaked[a] && v.leaked[b],
          "guardian_free: its queued blocks become ordinary leaks");
    guardian_free(g2);
    fheap_reset();
}

static void test_forget(void)
{
    fheap_reset();
    uintptr_t g = guardian_new();
    size_t a = block(), b = block(), c = block();
    guard(g, a);
    guard(g, b);
    finalizable(c);
    scan(false);
    CHECK(v.queued == 3 && guardian_pending() == 1, "forget: a, b queued, c pending");
    free_block((void *)fh.b[a]); /* the program freed it through a pointer the scan missed */
    free_block((void *)fh.b[c]);
    CHECK(guardian_pending() == 0, "forget: a pending block freed by the program is dropped");
    uintptr_t first = guardian_poll(g);
    CHECK(first == fh.b[b] && guardian_poll(g) == 0 && drain() == 0,
          "forget: the freed block is never returned; b still is");
    guardian_free(g);
    fheap_reset();
}

static void test_bad_guardians(void)
{
    fheap_reset();
    size_t a = block();
    uintptr_t g = guardian_new();
    uintptr_t bogus = fh.b[a];
    CHECK(guardian_register(bogus, fh.b[a]) == EINVAL && guardian_register(0, fh.b[a]) == EINVAL,
          "guardian_register: a token that is no guardian is EINVAL");
    CHECK(guardian_poll(bogus) == 0 && guardian_poll(0) == 0, "guardian_poll: bogus -> 0");
    guardian_free(bogus);
    guardian_free(0);
    guardian_free(g);
    CHECK(guardian_register(g, fh.b[a]) == EINVAL && guardian_poll(g) == 0,
          "guardian: a freed guardian is refused");
    CHECK(guardian_set_finalizer(fh.b[a], NULL, NULL) == 0,
          "guardian_set_finalizer(NULL) on a block without one is a no-op");
    /* Every slot, then one more; a freed slot is reused under a new token. */
    static uintptr_t all[5000];
    size_t n = 0;
    while (n < GS_ARRAY_LEN(all) && (all[n] = guardian_new()))
        n++;
    uintptr_t old7 = all[7];
    guardian_free(all[7]);
    all[7] = guardian_new();
    CHECK(n == 4096 && all[7] != 0 && all[7] != old7 && !guardian_valid(old7),
          "guardian_new: 4096 guardians, then 0; a freed slot is reused, its old token stays invalid");
    for (size_t k = 0; k < n; k++)
        guardian_free(all[k]);
    fheap_reset();
}

static void test_finalizer_order(void)
{
    fheap_reset();
    /* chain a -> b -> c, all finalizable; s points to itself; x <-> y */
    size_t a = block(), b = block(), c = block(), s = block(), x = block(), y = block();
    size_t p = block(); /* plain, reached only from c */
    link_to(a, 0, b);
    link_to(b, 0, c);
    link_to(c, 5, p);
    link_to(s, 2, s);
    link_to(x, 1, y);
    link_to(y, 1, x);
    size_t fins[] = {a, b, c, s, x, y};
    for (size_t k = 0; k < GS_ARRAY_LEN(fins); k++)
        finalizable(fins[k]);
    scan(false);
    size_t ran = drain();
    CHECK(v.queued == 2 && ran == 2 && fin.self_ok &&
              ((fin.order[0] == a && fin.order[1] == s) || (fin.order[0] == s && fin.order[1] == a)),
          "finalizers: first scan runs a (chain head) and s (self-pointer) only, with their args");
    CHECK(v.n_leaks == 2 && v.leaked[x] && v.leaked[y] && (v.cycle[x] || v.cycle[y]) &&
              !v.leaked[b] && !v.leaked[c] && !v.leaked[p],
          "finalizers: the finalizable cycle is reported (cycle:true); what a reaches stays alive");
    CHECK(!fh.live[a] && !fh.live[s] && fh.live[b], "finalizers: drain freed a and s");
    scan(false);
    ran = drain();
    CHECK(ran == 1 && fin.order[0] == b, "finalizers: second scan runs b");
    scan(false);
    ran = drain();
    CHECK(ran == 1 && fin.order[0] == c, "finalizers: third scan runs c");
    scan(false);
    ran = drain();
    CHECK(ran == 0 && v.n_leaks == 3 && v.leaked[p] == DIRECT && v.leaked[x] && v.leaked[y],
          "finalizers: then p is an ordinary leak; the cycle is never finalized");
    /* A rooted finalizable block is never finalized. */
    size_t r = block();
    finalizable(r);
    fh.roots[0] = fh.b[r];
    scan(false);
    CHECK(drain() == 0 && !v.leaked[r], "finalizers: a rooted block is never finalized");
    fheap_reset();
    drain();
}

/* ---- Random graphs against the driver's own reachability ---- */

struct model {
    size_t n;
    size_t *adj; /* WORDS per block, NO_BLOCK = none */
    uint8_t *reach;
};

/* Marks in `mark` (value `val`) everything reachable from `from` over
 * blocks whose mark is 0, not marking `from` itself. */
static void flood(const struct model *m, uint8_t *mark, size_t from, uint8_t val, size_t *stack)
{
    size_t n = 0;
    stack[n++] = from;
    while (n) {
        size_t x = stack[--n];
        for (unsigned w = 0; w < WORDS; w++) {
            size_t y = m->adj[x * WORDS + w];
            if (y != NO_BLOCK && !mark[y] && !(x == from && y == from)) {
                mark[y] = val;
                stack[n++] = y;
            }
        }
    }
}

static void random_case(uint64_t seed, size_t n, unsigned degree, unsigned roots)
{
    fheap_reset();
    rng_seed(seed);
    uintptr_t g = guardian_new();
    struct model m = {n, xcalloc(n * WORDS, sizeof(size_t)), NULL};
    uint8_t *kind = xcalloc(n, 1); /* 0 plain, 1 guarded, 2 finalizable */
    for (size_t i = 0; i < n; i++)
        block();
    for (size_t i = 0; i < n * WORDS; i++)
        m.adj[i] = NO_BLOCK;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)rng_below(degree + 1);
        for (unsigned k = 0; k < d; k++) {
            unsigned w = (unsigned)rng_below(WORDS);
            size_t to = rng_below(8) == 0 ? i : rng_below(n); /* some self-pointers */
            m.adj[i * WORDS + w] = to;
            link_to(i, w, to);
        }
        unsigned r = (unsigned)rng_below(10);
        kind[i] = r < 2 ? 1 : r < 4 ? 2 : 0;
        if (kind[i] == 1)
            guard(g, i);
        else if (kind[i] == 2)
            finalizable(i);
    }
    size_t *stack = xcalloc(n + 1, sizeof *stack);
    /* R: reachable from the roots. */
    uint8_t *st = xcalloc(n, 1); /* 1 R, 2 kept by a guarded block, 3 blocked, 4 kept by a ready one */
    for (unsigned k = 0; k < roots; k++) {
        size_t r = rng_below(n);
        fh.roots[k] = fh.b[r];
        if (!st[r]) {
            st[r] = 1;
            flood(&m, st, r, 1, stack);
        }
    }
    /* Q: unreachable guarded blocks, kept alive with what they reach. */
    size_t want_queued = 0;
    for (size_t i = 0; i < n; i++)
        if (kind[i] == 1 && !st[i]) {
            want_queued++;
            st[i] = 2;
        }
    for (size_t i = 0; i < n; i++)
        if (st[i] == 2)
            flood(&m, st, i, 2, stack);
    /* Boehm: what an unreachable finalizable block reaches is blocked. */
    uint8_t *blocked = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        if (kind[i] != 2 || st[i])
            continue;
        /* flood over unreached blocks only: seed `blocked` with the rest */
        uint8_t *mark = xcalloc(n, 1);
        for (size_t j = 0; j < n; j++)
            mark[j] = st[j] ? 1 : 0;
        flood(&m, mark, i, 2, stack);
        for (size_t j = 0; j < n; j++)
            blocked[j] |= mark[j] == 2;
        free(mark);
    }
    size_t want_ready = 0;
    bool *ready = xcalloc(n, sizeof *ready);
    for (size_t i = 0; i < n; i++)
        if (kind[i] == 2 && !st[i] && !blocked[i]) {
            ready[i] = true;
            want_ready++;
        }
    for (size_t i = 0; i < n; i++)
        if (ready[i] && !st[i]) {
            st[i] = 4;
            flood(&m, st, i, 4, stack);
        }
    size_t want_leaks = 0;
    for (size_t i = 0; i < n; i++)
        want_leaks += !st[i];

    scan(false);
    bool queued_ok = v.queued == want_queued + want_ready;
    size_t polled = 0;
    uintptr_t q;
    while ((q = guardian_poll(g))) {
        size_t i = index_of(q);
        queued_ok &= i != NO_BLOCK && kind[i] == 1 && st[i] == 2;
        polled++;
    }
    queued_ok &= polled == want_queued;
    size_t ran = drain();
    bool ready_ok = ran == want_ready && fin.self_ok;
    for (size_t k = 0; k < fin.n; k++)
        ready_ok &= ready[fin.order[k]];
    bool leaks_ok = v.err == 0 && v.consistent && v.n_leaks == want_leaks;
    for (size_t i = 0; i < n; i++)
        leaks_ok &= !v.leaked[i] == !!st[i];
    CHECK(queued_ok && ready_ok && leaks_ok,
          "random graph seed %llu, %zu blocks: %zu queued, %zu finalized, %zu leaked as modelled"
          " (got %zu polled, %zu ran, %zu leaks)",
          (unsigned long long)seed, n, want_queued, want_ready, want_leaks, polled, ran, v.n_leaks);
    guardian_free(g);
    fheap_reset();
    drain();
    free(m.adj);
    free(kind);
    free(stack);
    free(st);
    free(blocked);
    free(ready);
}

static void test_random_graphs(void)
{
    random_case(1, 300, 1, 10);
    random_case(2, 1000, 2, 5);
    random_case(3, 2000, 1, 40);
    random_case(4, 500, 3, 2);
    for (uint64_t seed = 10; seed < 30; seed++)
        random_case(seed, 50 + seed * 20, (unsigned)(seed % 4), (unsigned)(seed % 7));
}

int main(int argc, char **argv)
{
    opt_parse(NULL);
    fheap_init();
    static const struct unit_test tests[] = {
        {"queue", test_queue},
        {"two_guardians", test_two_guardians},
        {"forget", test_forget},
        {"bad_guardians", test_bad_guardians},
        {"finalizer_order", test_finalizer_order},
        {"random_graphs", test_random_graphs},
    };
    return harness_main(tests, GS_ARRAY_LEN(tests), argc, argv);
}
