/* SPDX-License-Identifier: MIT
 * test_core.c: unit test of the shim's allocation-free core (handle.c,
 * mark.c, classify.c, glibc.c, options.c, depot.c, modules.c, arena.c,
 * sys.c, lock.c, log.c) linked as plain objects, without interpose.c, so
 * it can run under AddressSanitizer and UBSan (`make check-sanitize`).
 * Proves: the handle table keeps every field and its counters exact through
 * growth to 1M entries, random churn and threads; the options parser takes
 * every key of options.def and rejects bad values with one line each; the
 * depot round-trips and dedups stacks; mark + classify on synthetic heaps
 * give reached / possible / direct / indirect / cycle exactly as the
 * driver's own reachability computes them.
 * Heap blocks come from the driver's own mmap'd arena laid out like glibc's
 * main arena (a 16-byte chunk header before each block: prev_size, then
 * size|PREV_INUSE; the user block overlaps the next chunk's prev_size), so
 * the real glibc.c is linked and exercised, not stubbed.
 * Usage: test_core [NAME-SUBSTRING]; prints ok/FAIL lines, exits 1 on any
 * failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "classify.h"
#include "depot.h"
#include "glibc.h"
#include "handle.h"
#include "mark.h"
#include "modules.h"
#include "options.h"


static struct {
    int failures, checks;
    const char *filter;
} t;

/* modules.c counts the threads it has inside the loader lock in init.c's
 * shim_loader_users (a fork waits for them); init.c exports malloc and is
 * not linked here. Weak, so a link that has init.c keeps its own. */
__attribute__((weak)) atomic_int shim_loader_users;

/* ---- Harness ---- */

#define CHECK(cond, ...) check(!!(cond), __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 3, 4))) check(bool ok, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t.checks++;
    printf("%s - ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf(ok ? "\n" : " (test_core.c:%d)\n", line);
    va_end(ap);
    fflush(stdout);
    if (!ok)
        t.failures++;
}

/* A check that fails because of a known, reported shim bug: printed as
 * "xfail", not counted; when it starts to pass it prints "XPASS" and counts
 * as a failure, so the marker is removed together with the fix. */
#define CHECK_XFAIL(bug, cond, ...) check_xfail(!!(cond), __LINE__, bug, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
check_xfail(bool ok, int line, const char *bug, const char *fmt, ...) __attribute__((unused));
static void check_xfail(bool ok, int line, const char *bug, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t.checks++;
    printf("%s - ", ok ? "XPASS (remove the xfail marker)" : "xfail");
    vprintf(fmt, ap);
    printf(" [known shim bug: %s] (test_core.c:%d)\n", bug, line);
    va_end(ap);
    fflush(stdout);
    if (ok)
        t.failures++;
}

/* xorshift64*: deterministic, seeded per test. */
static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static size_t rng_below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        perror("test_core: calloc");
        exit(2);
    }
    return p;
}

/* ---- stderr capture (the shim's log lines) ----
 * log.c writes each line with one write(2) to fd 2. This driver defines
 * write() itself, so while a capture is on those lines land in a buffer.
 * The sanitizer runtimes write their reports with raw syscalls and stdio
 * uses glibc's internal entry, so nothing else is ever swallowed. */

static struct {
    bool on;
    size_t len;
    char buf[1 << 20];
} captured;

ssize_t write(int fd, const void *buf, size_t n)
{
    if (fd == STDERR_FILENO && captured.on) {
        size_t k = GS_MIN(n, sizeof captured.buf - 1 - captured.len);
        memcpy(captured.buf + captured.len, buf, k);
        captured.len += k;
        captured.buf[captured.len] = 0;
        return (ssize_t)n;
    }
    return syscall(SYS_write, fd, buf, n);
}

static void capture_begin(void)
{
    captured.len = 0;
    captured.buf[0] = 0;
    captured.on = true;
}

/* Stops capturing; returns what log.c wrote meanwhile. */
static const char *capture_end(void)
{
    captured.on = false;
    return captured.buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- Handle table ---- */

/* Synthetic block addresses: id -> a 16-aligned address below 2^44, a
 * bijection (odd multiplier mod 2^40) that scatters ids over all shards. */
#define ADDR_MUL 0x9E3779B97Full
#define ADDR_MASK ((1ull << 40) - 1)
static uint64_t addr_mul_inv;

static uintptr_t id_addr(size_t id) { return (uintptr_t)(((id * ADDR_MUL) & ADDR_MASK) << 4); }
static size_t addr_id(uintptr_t a) { return (size_t)(((a >> 4) * addr_mul_inv) & ADDR_MASK); }

struct hmodel {
    size_t n;
    uint8_t *live, *flags;
    uint16_t *owner;
    uint32_t *stack;
    size_t *size;
    size_t live_blocks, live_bytes, allocs, frees;
};

static void hmodel_init(struct hmodel *m, size_t n)
{
    m->n = n;
    m->live = xcalloc(n, 1);
    m->flags = xcalloc(n, 1);
    m->owner = xcalloc(n, sizeof *m->owner);
    m->stack = xcalloc(n, sizeof *m->stack);
    m->size = xcalloc(n, sizeof *m->size);
    m->live_blocks = m->live_bytes = m->allocs = m->frees = 0;
}

static void hmodel_free(struct hmodel *m)
{
    free(m->live);
    free(m->flags);
    free(m->owner);
    free(m->stack);
    free(m->size);
}

/* Counters as totals should show them, relative to a baseline. */
static bool totals_match(const struct hmodel *m, const struct handle_totals *base, char *why,
                         size_t whylen)
{
    struct handle_totals tt;
    handle_totals(&tt);
    size_t lb = tt.live_blocks - base->live_blocks, by = tt.live_bytes - base->live_bytes;
    size_t al = tt.total_allocs - base->total_allocs, fr = tt.total_frees - base->total_frees;
    snprintf(why, whylen, "live %zu/%zu bytes %zu/%zu allocs %zu/%zu frees %zu/%zu", lb,
             m->live_blocks, by, m->live_bytes, al, m->allocs, fr, m->frees);
    return lb == m->live_blocks && by == m->live_bytes && al == m->allocs && fr == m->frees &&
           tt.total_allocs - tt.total_frees == tt.live_blocks;
}

static bool hmodel_insert(struct hmodel *m, size_t id)
{
    size_t size = rng_below(8) == 0 ? rng_below(1ull << 32) : rng_below(4096);
    uint32_t stack = (uint32_t)rng_below(HANDLE_MAX_STACK + 1);
    uint8_t flags = (uint8_t)rng_below(256);
    uint16_t owner = (uint16_t)rng_below(HANDLE_MAX_OWNER + 1);
    if (!handle_insert(id_addr(id), size, stack, flags, owner))
        return false;
    if (m->live[id]) { /* stale handle replaced: counts as a free */
        m->live_bytes -= m->size[id];
        m->frees++;
    } else {
        m->live_blocks++;
    }
    m->live[id] = 1;
    m->size[id] = size;
    m->stack[id] = stack;
    m->flags[id] = flags;
    m->owner[id] = owner;
    m->live_bytes += size;
    m->allocs++;
    return true;
}

static bool handle_is(const struct hmodel *m, size_t id, const struct handle *h)
{
    return h->ptr == id_addr(id) && h->size == m->size[id] && h->stack == m->stack[id] &&
           h->flags == m->flags[id] && h->owner == m->owner[id];
}

/* Checks every id's lookup against the model; returns the mismatch count. */
static size_t hmodel_verify(const struct hmodel *m)
{
    size_t bad = 0;
    for (size_t id = 0; id < m->n; id++) {
        struct handle h;
        bool found = handle_lookup(id_addr(id), &h);
        if (found != (bool)m->live[id] || (found && !handle_is(m, id, &h))) {
            if (bad++ < 5)
                printf("# id %zu: found %d live %d\n", id, found, m->live[id]);
        }
    }
    return bad;
}

struct enum_ctx {
    const struct hmodel *m;
    size_t seen, bad, bytes;
};

static void enum_cb(const struct handle *h, void *p)
{
    struct enum_ctx *c = p;
    size_t id = addr_id(h->ptr);
    c->seen++;
    c->bytes += h->size;
    if (id >= c->m->n || !c->m->live[id] || !handle_is(c->m, id, h))
        c->bad++;
}

static void remove_all(struct hmodel *m)
{
    for (size_t id = 0; id < m->n; id++) {
        if (m->live[id]) {
            struct handle h;
            handle_remove(id_addr(id), &h, 0);
            m->live[id] = 0;
        }
    }
}

static void test_handle_growth_churn(void)
{
    const size_t N = 1000000, IDS = 1500000;
    struct hmodel m;
    struct handle_totals base;
    char why[256];
    hmodel_init(&m, IDS);
    handle_totals(&base);
    rng_seed(1);

    bool all_in = true;
    for (size_t id = 0; id < N; id++)
        all_in &= hmodel_insert(&m, id);
    CHECK(all_in, "handle: 1M inserts succeed (table grows from empty)");
    CHECK(totals_match(&m, &base, why, sizeof why), "handle: totals after 1M inserts (%s)", why);
    size_t bad = hmodel_verify(&m);
    CHECK(bad == 0, "handle: lookup of 1.5M ids matches after growth (%zu mismatches)", bad);

    struct handle h;
    CHECK(!handle_lookup(id_addr(3) + 8, &h) && !handle_lookup(id_addr(3) + 16, &h) &&
              !handle_remove(id_addr(3) + 4, &h, 0) && !handle_update(id_addr(3) + 1, 1, 0, 0),
          "handle: unaligned and interior addresses are not handles");

    /* Random churn: insert (fresh or replacing a stale handle), remove,
     * update, remove-of-missing, freed-block lookup right after removal. */
    size_t ops = 2000000, remove_bad = 0, freed_bad = 0, update_bad = 0, missing_bad = 0;
    for (size_t k = 0; k < ops; k++) {
        size_t id = rng_below(IDS);
        unsigned what = (unsigned)rng_below(10);
        if (!m.live[id]) {
            if (what < 8) {
                /* The freed record may outlive a reinsertion: a free finds
                 * the live handle first and never asks for it. */
                hmodel_insert(&m, id);
            } else if (handle_remove(id_addr(id), &h, 1) || handle_update(id_addr(id), 1, 0, 0)) {
                missing_bad++;
            }
        } else if (what < 5) {
            uintptr_t pc = 0x400000 + k;
            if (!handle_remove(id_addr(id), &h, pc) || !handle_is(&m, id, &h))
                remove_bad++;
            struct freed_block fb;
            if (!handle_freed_lookup(id_addr(id), &fb) || fb.ptr != id_addr(id) ||
                fb.free_pc != pc || fb.size != GS_MIN(m.size[id], UINT32_MAX) ||
                fb.stack != m.stack[id])
                freed_bad++;
            m.live[id] = 0;
            m.live_blocks--;
            m.live_bytes -= m.size[id];
            m.frees++;
        } else if (what < 8) {
            uint32_t set = (uint32_t)rng_below(256), clear = (uint32_t)rng_below(256);
            uint32_t owner = rng_below(2) ? UINT32_MAX : (uint32_t)rng_below(HANDLE_MAX_OWNER + 1);
            if (!handle_update(id_addr(id), set, clear, owner))
                update_bad++;
            m.flags[id] = (uint8_t)((m.flags[id] | set) & ~clear);
            if (owner != UINT32_MAX)
                m.owner[id] = (uint16_t)owner;
        } else {
            hmodel_insert(&m, id); /* stale replacement */
        }
    }
    CHECK(remove_bad == 0 && update_bad == 0 && missing_bad == 0,
          "handle: 2M churn ops: removes return the stored handle, updates hit, missing ids miss "
          "(%zu/%zu/%zu)",
          remove_bad, update_bad, missing_bad);
    CHECK(freed_bad == 0, "handle: freed-block lookup right after a free (%zu)",
          freed_bad);
    CHECK(totals_match(&m, &base, why, sizeof why), "handle: totals after churn (%s)", why);
    bad = hmodel_verify(&m);
    CHECK(bad == 0, "handle: lookup of every id matches after churn (%zu mismatches)", bad);

    handle_lock_all();
    size_t count = handle_count_locked();
    struct enum_ctx ec = {&m, 0, 0, 0};
    handle_for_each_locked(enum_cb, &ec);
    handle_unlock_all();
    CHECK(count == m.live_blocks + base.live_blocks && ec.seen == count && ec.bad == 0 &&
              ec.bytes == m.live_bytes,
          "handle: locked count and enumeration see exactly the live handles (%zu/%zu, %zu bad)",
          ec.seen, m.live_blocks, ec.bad);

    /* The fork handlers leave the table usable. */
    handle_atfork_prepare();
    handle_atfork_parent();
    handle_atfork_prepare();
    handle_atfork_child();
    CHECK(handle_lookup(id_addr(0), &h) == (bool)m.live[0], "handle: atfork prepare/parent/child");

    remove_all(&m);
    m.live_blocks = m.live_bytes = 0;
    struct handle_totals after;
    handle_totals(&after);
    CHECK(after.live_blocks == base.live_blocks && after.live_bytes == base.live_bytes,
          "handle: empty again after removing everything (%zu blocks, %zu bytes)",
          after.live_blocks, after.live_bytes);
    hmodel_free(&m);
}

/* Sizes beyond the 40-bit field are clamped; the byte counter must not
 * drift when such a block is removed or replaced. */
static void test_handle_clamp(void)
{
    struct handle_totals base, tt;
    struct handle h;
    uintptr_t p = id_addr(7777777);
    handle_totals(&base);
    size_t huge = HANDLE_MAX_SIZE + 4096;
    CHECK(handle_insert(p, huge, HANDLE_MAX_STACK, 0xff, HANDLE_MAX_OWNER),
          "handle: insert of a block larger than 2^40 bytes");
    CHECK(handle_lookup(p, &h) && h.size == HANDLE_MAX_SIZE && h.stack == HANDLE_MAX_STACK &&
              h.flags == 0xff && h.owner == HANDLE_MAX_OWNER,
          "handle: size clamps to 2^40-1, stack/flags/owner keep their maxima");
    handle_remove(p, &h, 0);
    handle_totals(&tt);
    CHECK(tt.live_bytes == base.live_bytes,
          "handle: live_bytes back to its value after removing a clamped block (off by %zd)",
          (ssize_t)(tt.live_bytes - base.live_bytes));
    /* An owner above 12 bits is truncated by the packing, not spread into
     * other fields. */
    handle_insert(p, 32, 5, 1, HANDLE_MAX_OWNER + 2);
    CHECK(handle_lookup(p, &h) && h.size == 32 && h.stack == 5 && h.flags == 1 && h.owner == 1,
          "handle: an owner wider than 12 bits is truncated to its low bits, other fields intact");
    handle_remove(p, &h, 0);
}

struct churn_arg {
    size_t first, n;
    uint64_t seed;
    size_t allocs, frees, live, bytes;
};

static void *churn_thread(void *p)
{
    struct churn_arg *a = p;
    uint64_t s = a->seed;
    uint8_t *live = xcalloc(a->n, 1);
    size_t *size = xcalloc(a->n, sizeof *size);
    for (int k = 0; k < 300000; k++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        size_t i = (size_t)(s % a->n);
        uintptr_t addr = id_addr(a->first + i);
        struct handle h;
        if (live[i]) {
            if (handle_remove(addr, &h, 0) && h.size == size[i]) {
                a->frees++;
                a->live--;
                a->bytes -= size[i];
            }
            live[i] = 0;
        } else {
            size[i] = (size_t)(s >> 40) & 0xffff;
            if (handle_insert(addr, size[i], 1, 0, 0)) {
                a->allocs++;
                a->live++;
                a->bytes += size[i];
                live[i] = 1;
            }
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        struct handle h;
        if (live[i] && handle_remove(id_addr(a->first + i), &h, 0)) {
            a->frees++;
            a->live--;
            a->bytes -= size[i];
        }
    }
    free(live);
    free(size);
    return NULL;
}

static void test_handle_threads(void)
{
    enum { T = 4 };
    struct churn_arg a[T];
    pthread_t th[T];
    struct handle_totals base, tt;
    handle_totals(&base);
    for (int i = 0; i < T; i++) {
        a[i] = (struct churn_arg){3000000 + (size_t)i * 50000, 50000, 88172645463325252ull + i, 0,
                                  0, 0, 0};
        pthread_create(&th[i], NULL, churn_thread, &a[i]);
    }
    size_t allocs = 0, frees = 0, live = 0, bytes = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        allocs += a[i].allocs;
        frees += a[i].frees;
        live += a[i].live;
        bytes += a[i].bytes;
    }
    handle_totals(&tt);
    CHECK(live == 0 && bytes == 0 && allocs == frees &&
              tt.total_allocs - base.total_allocs == allocs &&
              tt.total_frees - base.total_frees == frees && tt.live_blocks == base.live_blocks &&
              tt.live_bytes == base.live_bytes,
          "handle: 4 threads x 300k insert/remove on shared shards: every op succeeds, counters "
          "exact (%zu allocs)",
          allocs);
}

/* ---- Options ---- */

static int parse_quiet(const char *spec, const char **err)
{
    capture_begin();
    int bad = opt_parse(spec);
    *err = capture_end();
    return bad;
}

static bool set_ok;
static bool bad_ok;

static void opt_int(const char *key, const int *field, int def, long lo, long hi)
{
    char spec[256];
    const char *e;
    int b = parse_quiet(NULL, &e);
    bool defaults = b == 0 && *field == def && !*e;
    long goods[] = {lo, hi, (lo + hi) / 2};
    for (size_t i = 0; i < GS_ARRAY_LEN(goods); i++) {
        snprintf(spec, sizeof spec, "%s=%ld", key, goods[i]);
        b = parse_quiet(spec, &e);
        set_ok &= b == 0 && *field == goods[i] && !*e;
    }
    snprintf(spec, sizeof spec, "%s=%012ld", key, hi); /* leading zeros, 12 chars */
    b = parse_quiet(spec, &e);
    set_ok &= b == 0 && *field == hi;
    char below[32], above[32];
    snprintf(below, sizeof below, "=%ld", lo - 1);
    snprintf(above, sizeof above, "=%ld", hi + 1);
    const char *bads[] = {below, above, "=", "", "=1x", "=x1", "=-", "= 1", "=+1", "=0x1",
                          "=9999999999999", "=1.0"};
    for (size_t i = 0; i < GS_ARRAY_LEN(bads); i++) {
        snprintf(spec, sizeof spec, "%s%s", key, bads[i]);
        b = parse_quiet(spec, &e);
        char quoted[80];
        snprintf(quoted, sizeof quoted, "'%s'", key);
        bool good = b == 1 && *field == def && count_lines(e) == 1 && strstr(e, quoted);
        if (!good)
            printf("# '%s': bad=%d value=%d stderr=%s\n", spec, b, *field, e);
        bad_ok &= good;
    }
    char longv[200000];
    int n = snprintf(longv, 64, "%s=", key);
    memset(longv + n, '7', sizeof longv - (size_t)n - 1);
    longv[sizeof longv - 1] = 0;
    b = parse_quiet(longv, &e);
    bad_ok &= b == 1 && *field == def && count_lines(e) == 1;
    CHECK(defaults, "options: %s defaults to %d", key, def);
}

static void opt_str(const char *key, const char *field, const char *def)
{
    static char spec[OPT_STR_MAX + 256];
    const char *e;
    int b = parse_quiet(NULL, &e);
    CHECK(b == 0 && !strcmp(field, def), "options: %s defaults to \"%s\"", key, def);
    snprintf(spec, sizeof spec, "%s=/tmp/x=y%%p", key);
    b = parse_quiet(spec, &e);
    set_ok &= b == 0 && !strcmp(field, "/tmp/x=y%p");
    snprintf(spec, sizeof spec, "%s=", key);
    b = parse_quiet(spec, &e);
    set_ok &= b == 0 && field[0] == 0;
    /* 511 bytes fit, 512 do not. */
    for (size_t len = OPT_STR_MAX - 1; len <= OPT_STR_MAX; len++) {
        int n = snprintf(spec, sizeof spec, "%s=", key);
        memset(spec + n, 'a', len);
        spec[(size_t)n + len] = 0;
        b = parse_quiet(spec, &e);
        if (len < OPT_STR_MAX)
            set_ok &= b == 0 && strlen(field) == len;
        else
            bad_ok &= b == 1 && !strcmp(field, def) && count_lines(e) == 1 && strstr(e, key);
    }
    snprintf(spec, sizeof spec, "%s", key); /* no '=' */
    b = parse_quiet(spec, &e);
    bad_ok &= b == 1 && !strcmp(field, def) && count_lines(e) == 1;
}

static void opt_enum(const char *key, const int *field, int def, const char *values)
{
    char spec[256];
    const char *e;
    int b = parse_quiet(NULL, &e);
    CHECK(b == 0 && *field == def, "options: %s defaults to index %d of %s", key, def, values);
    int idx = 0;
    for (const char *p = values;; idx++) {
        size_t n = strcspn(p, "|");
        snprintf(spec, sizeof spec, "%s=%.*s", key, (int)n, p);
        b = parse_quiet(spec, &e);
        set_ok &= b == 0 && *field == idx;
        /* A prefix, a longer word and another case are not values. */
        snprintf(spec, sizeof spec, "%s=%.*s", key, (int)n - 1, p);
        b = parse_quiet(spec, &e);
        bad_ok &= b == 1 && *field == def && count_lines(e) == 1 && strstr(e, key);
        snprintf(spec, sizeof spec, "%s=%.*sx", key, (int)n, p);
        b = parse_quiet(spec, &e);
        bad_ok &= b == 1 && *field == def;
        if (!p[n])
            break;
        p += n + 1;
    }
    snprintf(spec, sizeof spec, "%s=%s", key, values); /* the whole "a|b" list */
    b = parse_quiet(spec, &e);
    bad_ok &= b == 1 && *field == def;
    snprintf(spec, sizeof spec, "%s", key);
    b = parse_quiet(spec, &e);
    bad_ok &= b == 1 && *field == def;
}

static void opt_signal(const char *key, const int *field, int def)
{
    char spec[256];
    const char *e;
    bool is_stop = !strcmp(key, "stop_signal");
    int b = parse_quiet(NULL, &e);
    CHECK(b == 0 && *field == def, "options: %s defaults to %d", key, def);
    struct {
        const char *v;
        int sig;
    } goods[] = {{"SIGUSR2", SIGUSR2}, {"USR2", SIGUSR2}, {"12", 12},         {"SIGPWR", SIGPWR},
                 {"HUP", SIGHUP},      {"RTMIN+0", SIGRTMIN}, {"SIGRTMIN+3", SIGRTMIN + 3},
                 {"64", 64}};
    for (size_t i = 0; i < GS_ARRAY_LEN(goods); i++) {
        snprintf(spec, sizeof spec, "%s=%s", key, goods[i].v);
        b = parse_quiet(spec, &e);
        set_ok &= b == 0 && *field == goods[i].sig;
        if (!(b == 0 && *field == goods[i].sig))
            printf("# '%s': bad=%d got %d\n", spec, b, *field);
    }
    const char *bads[] = {"SIGFOO", "SIG", "65", "-1", "RTMIN+31", "RTMIN+", "usr2", "SIGKILL",
                          "SIGSTOP", ""};
    for (size_t i = 0; i < GS_ARRAY_LEN(bads); i++) {
        snprintf(spec, sizeof spec, "%s=%s", key, bads[i]);
        b = parse_quiet(spec, &e);
        bool good = b == 1 && *field == def && count_lines(e) == 1 && strstr(e, key);
        if (!good)
            printf("# '%s': bad=%d got %d stderr=%s\n", spec, b, *field, e);
        bad_ok &= good;
    }
    /* "none" and 0 turn a trigger signal off; the stop signal cannot be off,
     * nor one that cannot be caught. */
    const char *offs[] = {"none", "0", "9", "19"};
    for (size_t i = 0; i < GS_ARRAY_LEN(offs); i++) {
        snprintf(spec, sizeof spec, "%s=%s", key, offs[i]);
        b = parse_quiet(spec, &e);
        if (is_stop)
            bad_ok &= b == 1 && *field == SIGPWR && count_lines(e) == 1 && strstr(e, key);
        else
            set_ok &= b == 0 && *field == (i < 2 ? 0 : atoi(offs[i]));
    }
}

static void test_options(void)
{
    set_ok = bad_ok = true;
#define OPT_STR(name, def, help) opt_str(#name, opt.name, def);
#define OPT_INT(name, def, lo, hi, help) opt_int(#name, &opt.name, def, lo, hi);
#define OPT_ENUM(name, def, values, help) opt_enum(#name, &opt.name, def, values);
#define OPT_SIGNAL(name, def, help) opt_signal(#name, &opt.name, def);
#include "options.def"
#undef OPT_STR
#undef OPT_INT
#undef OPT_ENUM
#undef OPT_SIGNAL
    CHECK(set_ok, "options: every key takes its good values (bounds, enum words, signal names, "
                  "511-byte strings, '=' inside a value)");
    CHECK(bad_ok, "options: every key rejects bad values (out of range, empty, no '=', junk, "
                  "long) with one stderr line naming it, keeping the default");

    const char *e;
    int b = parse_quiet("format=json:verbosity=2,exitcode=0::,,log_path=/tmp/r.%p:", &e);
    CHECK(b == 0 && opt.format == FORMAT_JSON && opt.verbosity == 2 && opt.exitcode == 0 &&
              !strcmp(opt.log_path, "/tmp/r.%p") && !*e,
          "options: ':' and ',' both separate, empty entries are skipped");
    b = parse_quiet("verbosity=1:verbosity=2", &e);
    CHECK(b == 0 && opt.verbosity == 2, "options: the last of a repeated key wins");
    b = parse_quiet("verbosity=2", &e);
    b = parse_quiet("", &e);
    CHECK(b == 0 && opt.verbosity == 0 && !*e, "options: every parse starts from the defaults");
    b = parse_quiet("nosuch=1:FORMAT=json:format_=json:forma=json:=json:=", &e);
    CHECK(b == 6 && count_lines(e) == 6 && strstr(e, "unknown option 'nosuch'") &&
              strstr(e, "'FORMAT'") && opt.format == FORMAT_TEXT,
          "options: unknown keys (other case, prefix, suffix, empty key) are one line each (%d)", b);

    static char big[300000];
    size_t n = 0;
    memset(big, 'k', 100000); /* one 100,000-byte unknown key */
    n = 100000;
    n += (size_t)snprintf(big + n, sizeof big - n, "=1:");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s:", i % 2 ? "exitcode=7" : "exitcode=300");
    b = parse_quiet(big, &e);
    const char *first_nl = strchr(e, '\n');
    CHECK(b == 1001 && count_lines(e) == 1001 && first_nl && first_nl - e < 1024 &&
              opt.exitcode == 7,
          "options: a 100 KB key and 2,000 entries: 1,001 bad lines, each bounded (%d)", b);

    CHECK(opt_signal_number("SIGTERM") == SIGTERM && opt_signal_number("none") == 0 &&
              opt_signal_number("") == -1 && opt_signal_number("RTMIN+30") == SIGRTMIN + 30 &&
              opt_signal_number("RTMIN+30") <= SIGRTMAX,
          "options: opt_signal_number names, none, empty, RTMIN+30");
    opt_parse(NULL);
}

/* ---- Depot ---- */

/* Made-up PCs in the kernel's half of the address space, where no module
 * can be (spread over user space, 1 in 4 runs had one land in a library). */
static void fill_stack(uintptr_t *pcs, unsigned n, uint64_t seed)
{
    for (unsigned i = 0; i < n; i++)
        pcs[i] = (uintptr_t)((seed * 0x9E3779B97F4A7C15ull + i * 0xBF58476D1CE4E5B9ull) >> 16) |
                 0xffff800000000000ull;
}

static void test_depot(void)
{
    uintptr_t pcs[DEPOT_MAX_FRAMES + 8];
    const uintptr_t *gp;
    const uint16_t *gm;
    size_t stacks0, bytes0;
    depot_usage(&stacks0, &bytes0);

    CHECK(depot_put(pcs, 0) == 0 && depot_get(0, &gp, &gm) == 0 && gp == NULL,
          "depot: an empty stack is id 0, and id 0 has no frames");

    enum { NS = 20000 };
    stack_id *ids = xcalloc(NS, sizeof *ids);
    bool ok = true, distinct = true;
    for (unsigned s = 0; s < NS; s++) {
        unsigned n = 1 + s % DEPOT_MAX_FRAMES;
        fill_stack(pcs, n, s);
        ids[s] = depot_put(pcs, n);
        ok &= ids[s] != 0;
        if (s && ids[s] == ids[s - 1])
            distinct = false;
    }
    CHECK(ok && distinct, "depot: 20,000 distinct stacks get distinct non-zero ids");
    bool same = true, round = true;
    for (unsigned s = 0; s < NS; s++) {
        unsigned n = 1 + s % DEPOT_MAX_FRAMES;
        fill_stack(pcs, n, s);
        same &= depot_put(pcs, n) == ids[s];
        unsigned got = depot_get(ids[s], &gp, &gm);
        round &= got == n && !memcmp(gp, pcs, n * sizeof *pcs);
        for (unsigned i = 0; i < got; i++)
            round &= gm[i] == MODULE_NONE; /* made-up PCs are in no module */
    }
    CHECK(same, "depot: putting the same stacks again returns the same ids (dedup)");
    CHECK(round, "depot: get returns each stack's frames, unknown PCs map to no module");
    size_t stacks1, bytes1;
    depot_usage(&stacks1, &bytes1);
    CHECK(stacks1 - stacks0 == NS && bytes1 > bytes0, "depot: usage counts %zu new stacks",
          stacks1 - stacks0);

    /* A prefix is a different stack; more than 64 frames keep the first 64. */
    fill_stack(pcs, DEPOT_MAX_FRAMES + 8, 424242);
    stack_id full = depot_put(pcs, DEPOT_MAX_FRAMES);
    stack_id longer = depot_put(pcs, DEPOT_MAX_FRAMES + 8);
    stack_id prefix = depot_put(pcs, DEPOT_MAX_FRAMES - 1);
    CHECK(full && longer == full && prefix && prefix != full &&
              depot_get(longer, &gp, &gm) == DEPOT_MAX_FRAMES,
          "depot: a 72-frame stack is stored as its first 64; a prefix is its own stack");

    /* Real PCs resolve to this executable's module. */
    pcs[0] = (uintptr_t)&test_depot;
    pcs[1] = (uintptr_t)&fill_stack + 1;
    pcs[2] = (uintptr_t)&printf;
    stack_id real = depot_put(pcs, 3);
    unsigned got = depot_get(real, &gp, &gm);
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = 0;
    const struct module *m0 = got == 3 && gm[0] != MODULE_NONE ? modules_get(gm[0]) : NULL;
    const struct module *m2 = got == 3 && gm[2] != MODULE_NONE ? modules_get(gm[2]) : NULL;
    CHECK(m0 && gm[1] == gm[0] && !strcmp(m0->path, exe) && m0->lo <= pcs[0] && pcs[0] < m0->hi &&
              !m0->unloaded,
          "depot: PCs of this program map to its module %s", m0 ? m0->path : "(none)");
    CHECK(m2 && m2 != m0 && m2->lo <= pcs[2] && pcs[2] < m2->hi,
          "depot: a shared library's PC (printf) maps to another module %s", m2 ? m2->path : "(none)");
    CHECK(modules_find((uintptr_t)&test_depot) == gm[0] && modules_find(16) == MODULE_NONE,
          "modules: find by PC");
    free(ids);
}

struct depot_arg {
    stack_id ids[2000];
};

static void *depot_thread(void *p)
{
    struct depot_arg *a = p;
    uintptr_t pcs[8];
    for (unsigned s = 0; s < 2000; s++) {
        fill_stack(pcs, 8, 1000000 + s);
        a->ids[s] = depot_put(pcs, 8);
    }
    return NULL;
}

static void test_depot_threads(void)
{
    enum { T = 4 };
    static struct depot_arg a[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++)
        pthread_create(&th[i], NULL, depot_thread, &a[i]);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    bool same = true;
    for (unsigned s = 0; s < 2000; s++)
        for (int i = 1; i < T; i++)
            same &= a[i].ids[s] == a[0].ids[s] && a[0].ids[s] != 0;
    CHECK(same, "depot: 4 threads putting the same 2,000 stacks at once agree on every id");
}

/* ---- Synthetic glibc-style heap ---- */

#define GIB (1ul << 30)

struct fblock {
    uintptr_t p;
    size_t size, csize;
};

#define ROOTS_BYTES (1u << 20)

static struct {
    char *map;
    size_t map_len;
    uintptr_t base, bump, end;
    struct fblock *b;
    size_t n, cap;
    uintptr_t *roots; /* root words (ROOTS_BYTES) */
    size_t n_roots;
} fh;

static void fheap_init(void)
{
    /* The arena straddles a 1 GiB boundary, so blocks land in two regions
     * of mark.c's index and one block spans both. */
    fh.map_len = 2 * GIB;
    fh.map = mmap(NULL, fh.map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (fh.map == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    uintptr_t boundary = ((uintptr_t)fh.map + GIB) & ~(GIB - 1);
    fh.base = boundary - (8ul << 20);
    fh.end = boundary + (120ul << 20);
    fh.bump = fh.base;
    fh.cap = 1 << 18;
    fh.b = xcalloc(fh.cap, sizeof *fh.b);
    fh.roots = mmap(NULL, ROOTS_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* glibc: chunk size = max(32, request + 8 rounded up to 16); the user
 * pointer is chunk + 16; the block's last 8 bytes overlap the next chunk's
 * prev_size. */
static uintptr_t fheap_alloc(size_t size, stack_id stack, uint32_t flags, uint32_t owner)
{
    size_t csize = GS_MAX((size_t)32, (size + 8 + 15) & ~(size_t)15);
    uintptr_t chunk = fh.bump;
    if (chunk + csize + 32 > fh.end || fh.n == fh.cap) {
        fprintf(stderr, "test_core: synthetic heap full\n");
        exit(2);
    }
    fh.bump += csize;
    ((size_t *)chunk)[1] = csize | 1; /* PREV_INUSE */
    ((size_t *)fh.bump)[1] = 32 | 1;  /* the next chunk's (top's) header */
    uintptr_t p = chunk + 16;
    fh.b[fh.n++] = (struct fblock){p, size, csize};
    if (!handle_insert(p, size, stack, flags, owner)) {
        fprintf(stderr, "test_core: handle_insert failed\n");
        exit(2);
    }
    return p;
}

static void fheap_reset(void)
{
    for (size_t i = 0; i < fh.n; i++) {
        struct handle h;
        handle_remove(fh.b[i].p, &h, 0);
    }
    memset((void *)fh.base, 0, fh.bump + 32 - fh.base);
    fh.bump = fh.base;
    fh.n = 0;
    memset(fh.roots, 0, 4096);
    fh.n_roots = 0;
}

static void root_add(uintptr_t v)
{
    if (fh.n_roots < ROOTS_BYTES / sizeof *fh.roots)
        fh.roots[fh.n_roots++] = v;
}

static size_t block_index(uintptr_t p)
{
    size_t lo = 0, hi = fh.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (fh.b[mid].p < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < fh.n && fh.b[lo].p == p ? lo : SIZE_MAX;
}

struct scan {
    struct heap h;
    struct scan_result res;
    int build_err, classify_err;
    size_t by_kind[KIND_COUNT], cycles, reached, possible;
    uint8_t *kind;  /* per block: KIND_* or 0xff = reachable */
    uint8_t *cycle; /* per block */
    bool consistent; /* every block once, fields copied */
};

/* Builds the heap from the handle table, marks from the root page (and
 * root_block, if not SIZE_MAX), classifies. */
static void scan_run(struct scan *s, size_t root_block)
{
    memset(s, 0, sizeof *s);
    handle_lock_all();
    s->build_err = heap_build(&s->h);
    handle_unlock_all();
    if (s->build_err)
        return;
    s->res.leaks = xcalloc(s->h.n, sizeof *s->res.leaks);
    mark_range(&s->h, (uintptr_t)fh.roots, (uintptr_t)(fh.roots + fh.n_roots));
    if (root_block != SIZE_MAX)
        mark_block_root(&s->h, root_block);
    mark_drain_all(&s->h); /* with a second marker once enough is queued */
    for (size_t i = 0; i < s->h.n; i++) {
        s->reached += s->h.state[i] == BS_REACHED;
        s->possible += s->h.state[i] == BS_POSSIBLE;
    }
    s->classify_err = classify_all(&s->h, &s->res);
    s->kind = xcalloc(fh.n, 1);
    s->cycle = xcalloc(fh.n, 1);
    memset(s->kind, 0xff, fh.n);
    s->consistent = s->h.n == fh.n;
    for (size_t i = 0; i < s->h.n && s->consistent; i++)
        s->consistent &= s->h.blocks[i].start == fh.b[i].p && s->h.blocks[i].size == fh.b[i].size;
    for (size_t k = 0; k < s->res.n_leaks; k++) {
        const struct leak_block *l = &s->res.leaks[k];
        size_t i = block_index(l->addr);
        struct handle hd;
        if (i == SIZE_MAX || s->kind[i] != 0xff || l->kind >= KIND_COUNT ||
            !handle_lookup(l->addr, &hd) || hd.size != l->size || hd.stack != l->stack ||
            hd.owner != l->owner) {
            s->consistent = false;
            continue;
        }
        s->kind[i] = l->kind;
        s->cycle[i] = l->cycle;
        s->by_kind[l->kind]++;
        s->cycles += l->cycle;
    }
    size_t rb = 0, rbytes = 0;
    for (size_t i = 0; i < fh.n; i++) {
        if (s->kind[i] == 0xff) {
            rb++;
            rbytes += fh.b[i].size;
        }
    }
    s->consistent &= rb == s->res.reachable_blocks && rbytes == s->res.reachable_bytes &&
                     rb == s->reached && s->res.n_leaks + rb == fh.n;
}

static void scan_free(struct scan *s)
{
    heap_free(&s->h);
    free(s->res.leaks);
    free(s->kind);
    free(s->cycle);
}

/* A list of n 32-byte nodes, next at offset 0; returns the head. */
static uintptr_t make_list(size_t n, stack_id stack)
{
    uintptr_t head = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = fheap_alloc(32, stack, 0, 3);
        ((uintptr_t *)p)[1] = 0x1234; /* junk that points nowhere */
        if (prev)
            *(uintptr_t *)prev = p;
        else
            head = p;
        prev = p;
    }
    return head;
}

static void test_glibc_layout(void)
{
    fheap_reset();
    uintptr_t a = fheap_alloc(24, 1, 0, 0), b = fheap_alloc(100, 1, 0, 0);
    uintptr_t lo, hi;
    CHECK(glibc_next_chunk(a) == b - 16 && glibc_next_chunk(b) == b - 16 + 112 &&
              !glibc_block_extent(a, &lo, &hi),
          "glibc: next chunk of a main-arena block, no extent");
    /* An mmapped chunk: prev_size = offset from the mapping, flag 2. */
    size_t *mm = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t chunk = (uintptr_t)mm + 32;
    ((size_t *)chunk)[0] = 32;
    ((size_t *)chunk)[1] = (3 * 4096 - 32) | 2;
    CHECK(glibc_block_extent(chunk + 16, &lo, &hi) && lo == (uintptr_t)mm &&
              hi == (uintptr_t)mm + 3 * 4096 && glibc_next_chunk(chunk + 16) == 0,
          "glibc: an mmapped chunk's extent is its whole mapping");
    munmap(mm, 3 * 4096);
    /* A non-main arena heap: 64 MiB aligned, heap_info at its start. */
    size_t span = 128ul << 20;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    uintptr_t heap = ((uintptr_t)m + (64ul << 20) - 1) & ~((64ul << 20) - 1);
    ((size_t *)heap)[2] = 1 << 20; /* heap_info.size */
    uintptr_t c2 = heap + 4096;
    ((size_t *)c2)[1] = 48 | 4 | 1;
    CHECK(glibc_block_extent(c2 + 16, &lo, &hi) && lo == heap && hi == heap + (1 << 20) &&
              glibc_next_chunk(c2 + 16) == c2 + 48,
          "glibc: a non-main-arena block's extent is its heap");
    ((size_t *)heap)[2] = 1ul << 40; /* a corrupt size is capped at HEAP_MAX_SIZE */
    CHECK(glibc_block_extent(c2 + 16, &lo, &hi) && hi == heap + (64ul << 20),
          "glibc: a corrupt heap_info size is capped at 64 MiB");
    munmap(m, span);
    fheap_reset();
}

static void test_heap_find(void)
{
    fheap_reset();
    uintptr_t z = fheap_alloc(0, 1, 0, 0);
    uintptr_t a = fheap_alloc(24, 1, 0, 0);
    /* Push the next blocks across the 1 GiB boundary. */
    while (fh.bump + 4096 < fh.base + (8ul << 20) - 8192)
        fheap_alloc(4000, 1, 0, 0);
    uintptr_t big = fheap_alloc(1 << 20, 1, 0, 0); /* spans the boundary */
    uintptr_t after = fheap_alloc(40, 1, 0, 0);
    struct scan s;
    scan_run(&s, SIZE_MAX);
    long iz = (long)block_index(z), ia = (long)block_index(a), ib = (long)block_index(big),
         ic = (long)block_index(after);
    const struct heap *h = &s.h;
    CHECK(s.build_err == 0 && s.consistent, "heap: %zu blocks snapshot sorted by address", h->n);
    CHECK(heap_find(h, z) == iz && heap_find(h, z + 1) == -1 && heap_find(h, a) == ia &&
              heap_find(h, a + 23) == ia && heap_find(h, a + 24) == -1 && heap_find(h, a - 8) == -1,
          "heap_find: a 0-byte block owns only its start; one past the end is no block");
    uintptr_t boundary = (big + GIB) & ~(GIB - 1);
    CHECK(big < boundary && boundary < big + (1 << 20) && heap_find(h, big) == ib &&
              heap_find(h, boundary - 1) == ib && heap_find(h, boundary) == ib &&
              heap_find(h, big + (1 << 20) - 1) == ib && heap_find(h, after + 39) == ic &&
              heap_find(h, after + 40) == -1,
          "heap_find: a block spanning two 1 GiB regions is found from both");
    CHECK(heap_find(h, 0) == -1 && heap_find(h, UINTPTR_MAX) == -1 && heap_find(h, z - 16) == -1,
          "heap_find: addresses outside the heap");
    CHECK(s.res.n_leaks == fh.n && s.by_kind[KIND_DIRECT] == fh.n,
          "classify: no roots -> every unconnected block is one direct leak");
    scan_free(&s);
    fheap_reset();
}

/* mark_rescan_range: a pointer written into an already scanned block is
 * found by rescanning just the written words; unmarked blocks are left to
 * be scanned whole if ever reached; a possibly-reached block rescans
 * weakly; a block spanning two 1 GiB regions is found from its far part.
 * heap_erase takes a block out of the verdict. */
static void test_rescan(void)
{
    fheap_reset();
    uintptr_t a = fheap_alloc(4000, 1, 0, 0), b = fheap_alloc(4000, 1, 0, 0);
    uintptr_t x = fheap_alloc(32, 2, 0, 0), y = fheap_alloc(32, 2, 0, 0);
    uintptr_t u = fheap_alloc(64, 3, 0, 0), pz = fheap_alloc(64, 3, 0, 0);
    uintptr_t w = fheap_alloc(32, 2, 0, 0);
    while (fh.bump + 4096 < fh.base + (8ul << 20) - 8192)
        fheap_alloc(4000, 1, 0, 0);
    uintptr_t big = fheap_alloc(1 << 20, 1, 0, 0); /* spans the 1 GiB boundary */
    uintptr_t v = fheap_alloc(32, 2, 0, 0);
    root_add(a);
    root_add(b);
    root_add(big);
    root_add(pz + 8 + 16); /* interior: pz is only possibly reached */
    struct heap h;
    handle_lock_all();
    int err = heap_build(&h);
    handle_unlock_all();
    CHECK(err == 0, "rescan: heap built");
    if (err)
        return;
    mark_range(&h, (uintptr_t)fh.roots, (uintptr_t)(fh.roots + fh.n_roots));
    mark_drain(&h);
#define STATE(p) h.state[heap_find(&h, (p))]
    CHECK(STATE(a) == BS_REACHED && STATE(x) == BS_UNREACHED && STATE(pz) == BS_POSSIBLE,
          "rescan: before the writes, a is reached, x not, pz possibly");
    /* Written after the mark read them: x into b's word 300, y into u
     * (unreached), w into pz (possible), v into the far part of big. */
    ((uintptr_t *)b)[300] = x;
    ((uintptr_t *)u)[2] = y;
    ((uintptr_t *)pz)[3] = w;
    uintptr_t far = ((big + GIB) & ~(GIB - 1)) + 4096;
    *(uintptr_t *)far = v;
    mark_rescan_range(&h, b + 8 * 290, b + 8 * 300); /* misses the word */
    mark_drain(&h);
    CHECK(STATE(x) == BS_UNREACHED, "rescan: words outside the range are not read again");
    mark_rescan_range(&h, b + 8 * 300, b + 8 * 301);
    mark_rescan_range(&h, u, u + 64);
    mark_rescan_range(&h, pz, pz + 64);
    mark_rescan_range(&h, far & ~(uintptr_t)4095, (far & ~(uintptr_t)4095) + 4096);
    mark_drain(&h);
    CHECK(STATE(x) == BS_REACHED, "rescan: a pointer written into a scanned block is found");
    CHECK(STATE(y) == BS_UNREACHED, "rescan: an unreached block is not rescanned");
    CHECK(STATE(w) == BS_POSSIBLE, "rescan: a possibly reached block rescans weakly");
    CHECK(STATE(v) == BS_REACHED, "rescan: the far part of a block spanning two regions");
    size_t i = (size_t)heap_find(&h, u);
    heap_erase(&h, i);
    CHECK(h.state[i] == BS_REACHED && h.blocks[i].size == 0 &&
              h.blocks[i].stack == STACK_ID_ERASED && h.n_erased == 1,
          "heap_erase: reached, size 0, no site, counted");
#undef STATE
    heap_free(&h);
    fheap_reset();
}

static void test_list(void)
{
    const size_t N = 1000;
    fheap_reset();
    uintptr_t head = make_list(N, 9);
    root_add(head);
    struct scan s;
    scan_run(&s, SIZE_MAX);
    CHECK(s.build_err == 0 && s.classify_err == 0 && s.consistent && s.res.n_leaks == 0 &&
              s.res.reachable_blocks == N && s.res.reachable_bytes == N * 32,
          "mark: a %zu-node list whose head is in a root range is all reachable", N);
    scan_free(&s);

    fh.roots[0] = 0;
    scan_run(&s, SIZE_MAX);
    size_t hi = block_index(head);
    CHECK(s.consistent && s.by_kind[KIND_DIRECT] == 1 && s.kind[hi] == KIND_DIRECT &&
              !s.cycle[hi] && s.by_kind[KIND_INDIRECT] == N - 1 && s.cycles == 0 &&
              s.res.reachable_blocks == 0,
          "classify: root cleared -> head direct, %zu nodes indirect", N - 1);
    scan_free(&s);

    /* A root block (ld.so's, an ignored one) reaches what it points to. */
    scan_run(&s, hi);
    CHECK(s.consistent && s.res.n_leaks == 0 && s.reached == N,
          "mark: mark_block_root on the head reaches the whole list");
    scan_free(&s);

    /* The head pointer one word in, or tagged in its low bits, is still a start pointer. */
    fh.roots[0] = head + 8;
    fh.roots[1] = head + 3;
    fh.n_roots = 2;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 0, "mark: head+8 and head|3 in roots are start pointers");
    scan_free(&s);
    fheap_reset();
}

static void test_cycle(void)
{
    fheap_reset();
    uintptr_t a = fheap_alloc(40, 2, 0, 0), b = fheap_alloc(40, 2, 0, 0),
              c = fheap_alloc(40, 2, 0, 0);
    *(uintptr_t *)a = b;
    *(uintptr_t *)b = c;
    *(uintptr_t *)c = a;
    struct scan s;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 3 && s.by_kind[KIND_DIRECT] == 1 && s.cycles == 1 &&
              s.by_kind[KIND_INDIRECT] == 2 &&
              s.cycle[block_index(a)] + s.cycle[block_index(b)] + s.cycle[block_index(c)] == 1,
          "classify: a leaked 3-cycle is one direct (cycle) + 2 indirect");
    scan_free(&s);
    root_add(b);
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 0, "mark: a root into the 3-cycle keeps all of it");
    scan_free(&s);

    /* A self-pointing block is an ordinary direct leak, not a cycle. */
    fheap_reset();
    uintptr_t self = fheap_alloc(16, 2, 0, 0);
    *(uintptr_t *)self = self;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 1 && s.by_kind[KIND_DIRECT] == 1 && s.cycles == 0,
          "classify: a block pointing to itself is direct without cycle");
    scan_free(&s);
    fheap_reset();
}

static void test_possible(void)
{
    fheap_reset();
    uintptr_t a = fheap_alloc(64, 4, 0, 0);
    uintptr_t child = fheap_alloc(32, 4, 0, 0);
    *(uintptr_t *)a = child;
    root_add(a + 24);
    struct scan s;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 2 && s.by_kind[KIND_POSSIBLE] == 2 &&
              s.kind[block_index(a)] == KIND_POSSIBLE && s.kind[block_index(child)] == KIND_POSSIBLE,
          "mark: a block reached only through an interior pointer is possible, and so is its child");
    scan_free(&s);
    fh.roots[1] = a;
    fh.n_roots = 2;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 0, "mark: adding a start pointer makes both reachable");
    scan_free(&s);
    fh.roots[0] = fh.roots[1] = 0;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.by_kind[KIND_DIRECT] == 1 && s.by_kind[KIND_INDIRECT] == 1,
          "classify: with no pointer at all the pair is direct + indirect");
    scan_free(&s);

    /* glibc's next-chunk header inside a block's last word is not a pointer
     * into that block (arena top and bins name it). */
    fheap_reset();
    uintptr_t small = fheap_alloc(24, 4, 0, 0);
    root_add(glibc_next_chunk(small)); /* p+16: the next chunk's header */
    root_add(small + 17);               /* a real interior pointer */
    scan_run(&s, SIZE_MAX);
    CHECK(glibc_next_chunk(small) == small + 16 && s.consistent &&
              s.kind[block_index(small)] == KIND_POSSIBLE,
          "mark: an interior pointer next to glibc's next-chunk header is possible");
    scan_free(&s);
    fh.roots[1] = 0;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.kind[block_index(small)] == KIND_DIRECT,
          "mark: a root naming only the next chunk's header does not reach the block");
    scan_free(&s);
    fheap_reset();
}

static void test_wide(void)
{
    /* 100,000 children of one block: the mark stack outgrows its first
     * mapping (65,536 entries) and the flood stack of classify is full. */
    const size_t N = 100000;
    fheap_reset();
    uintptr_t parent = fheap_alloc(N * 8, 5, 0, 0);
    for (size_t i = 0; i < N; i++)
        ((uintptr_t *)parent)[i] = fheap_alloc(16, 5, 0, 0);
    root_add(parent);
    struct scan s;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.res.n_leaks == 0 && s.reached == N + 1,
          "mark: a block with 100,000 children: all reached (mark stack grows)");
    scan_free(&s);
    fh.roots[0] = 0;
    scan_run(&s, SIZE_MAX);
    CHECK(s.consistent && s.by_kind[KIND_DIRECT] == 1 && s.by_kind[KIND_INDIRECT] == N,
          "classify: the same unrooted: 1 direct + 100,000 indirect");
    scan_free(&s);
    fheap_reset();
}

/* ---- Random graphs checked against the driver's own reachability ---- */

struct edge {
    size_t to;
    bool strong;
};

struct graph {
    size_t n;
    struct edge **out;
    size_t *n_out;
    struct edge *roots;
    size_t n_root_edges;
};

static void graph_add(struct graph *g, size_t from, size_t to, bool strong, size_t cap)
{
    if (g->n_out[from] < cap)
        g->out[from][g->n_out[from]++] = (struct edge){to, strong};
}

/* A pointer value into block j and whether the mark takes it as a start
 * pointer; never glibc's next-chunk word (the directed tests cover it). */
static uintptr_t pointer_into(size_t j, bool *strong)
{
    const struct fblock *b = &fh.b[j];
    unsigned r = (unsigned)rng_below(10);
    if (r < 6 || b->size <= 16) {
        *strong = true;
        return b->p + (r == 0 && b->size ? rng_below(GS_MIN(b->size, 8)) : 0);
    }
    if (r < 7) {
        *strong = true;
        return b->p + 8;
    }
    uintptr_t off;
    do
        off = 16 + rng_below(b->size - 16);
    while (off == b->csize - 16);
    *strong = false;
    return b->p + off;
}

struct edge_ctx {
    size_t *got, n;
};

static void edge_cb(void *p, size_t j)
{
    struct edge_ctx *c = p;
    if (c->n < 64)
        c->got[c->n++] = j;
}

static void sort_sizes(size_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0 && a[k] < a[k - 1]; k--) {
            size_t tmp = a[k];
            a[k] = a[k - 1];
            a[k - 1] = tmp;
        }
}

static size_t pick_target(size_t n)
{
    return rng_below(n);
}

static void random_graph_case(uint64_t seed, size_t n, unsigned max_deg, size_t n_roots)
{
    fheap_reset();
    rng_seed(seed);
    struct graph g = {n, xcalloc(n, sizeof(struct edge *)), xcalloc(n, sizeof(size_t)), NULL, 0};
    for (size_t i = 0; i < n; i++) {
        size_t size = rng_below(12) == 0 ? 0 : 8 * (1 + rng_below(12)) - rng_below(2) * 4;
        fheap_alloc(size, (stack_id)(1 + i % 50), 0, (uint32_t)(i % 7));
        g.out[i] = xcalloc(size / 8 + 1, sizeof(struct edge));
    }
    for (size_t i = 0; i < n; i++) {
        const struct fblock *b = &fh.b[i];
        size_t words = b->size / 8;
        unsigned deg = (unsigned)rng_below(max_deg + 1);
        for (size_t w = 0; w < words; w++) {
            uintptr_t *slot = (uintptr_t *)b->p + w;
            if (w < deg) {
                /* Mostly near neighbours (long chains and cycles), some far. */
                size_t j = rng_below(4) ? (i + n - 3 + rng_below(7)) % n : pick_target(n);
                bool strong;
                *slot = pointer_into(j, &strong);
                graph_add(&g, i, j, strong, words);
            } else if (rng_below(3) == 0) {
                *slot = rng_below(2) && b->size ? b->p + b->size : rng_below(1 << 20);
            }
        }
        /* Shuffle the words so pointers are not all at the front. */
        for (size_t w = words; w > 1; w--) {
            size_t k = rng_below(w);
            uintptr_t tmp = ((uintptr_t *)b->p)[w - 1];
            ((uintptr_t *)b->p)[w - 1] = ((uintptr_t *)b->p)[k];
            ((uintptr_t *)b->p)[k] = tmp;
        }
    }
    g.roots = xcalloc(n_roots, sizeof *g.roots);
    for (size_t r = 0; r < n_roots; r++) {
        size_t j = pick_target(n);
        bool strong;
        root_add(pointer_into(j, &strong));
        g.roots[g.n_root_edges++] = (struct edge){j, strong};
    }
    root_add(fh.b[0].p - 16); /* a chunk header: no block */

    /* Expected mark: REACHED = closure of start pointers from roots through
     * reached blocks; POSSIBLE = reachable through any pointers, not reached. */
    uint8_t *st = xcalloc(n, 1);
    size_t *stack = xcalloc(n + n_roots + 1, sizeof *stack), sp = 0;
    for (size_t r = 0; r < g.n_root_edges; r++)
        if (g.roots[r].strong && st[g.roots[r].to] != BS_REACHED) {
            st[g.roots[r].to] = BS_REACHED;
            stack[sp++] = g.roots[r].to;
        }
    while (sp) {
        size_t x = stack[--sp];
        for (size_t k = 0; k < g.n_out[x]; k++) {
            const struct edge *e = &g.out[x][k];
            if (e->strong && st[e->to] != BS_REACHED) {
                st[e->to] = BS_REACHED;
                stack[sp++] = e->to;
            }
        }
    }
    uint8_t *any = xcalloc(n, 1);
    for (size_t r = 0; r < g.n_root_edges; r++)
        if (!any[g.roots[r].to]) {
            any[g.roots[r].to] = 1;
            stack[sp++] = g.roots[r].to;
        }
    while (sp) {
        size_t x = stack[--sp];
        for (size_t k = 0; k < g.n_out[x]; k++)
            if (!any[g.out[x][k].to]) {
                any[g.out[x][k].to] = 1;
                stack[sp++] = g.out[x][k].to;
            }
    }
    for (size_t i = 0; i < n; i++)
        if (any[i] && st[i] != BS_REACHED)
            st[i] = BS_POSSIBLE;

    struct scan s;
    scan_run(&s, SIZE_MAX);
    size_t state_bad = 0, n_reached = 0, n_possible = 0;
    for (size_t i = 0; i < n && s.consistent; i++) {
        state_bad += s.h.state[i] != st[i];
        n_reached += st[i] == BS_REACHED;
        n_possible += st[i] == BS_POSSIBLE;
    }

    /* mark_for_each_edge lists exactly the model's edges of each block. */
    size_t edge_bad = 0;
    struct edge_ctx ec = {xcalloc(64, sizeof(size_t)), 0};
    for (size_t i = 0; i < n && s.consistent; i++) {
        ec.n = 0;
        mark_for_each_edge(&s.h, i, edge_cb, &ec);
        size_t want[64], nw = g.n_out[i];
        for (size_t k = 0; k < nw; k++)
            want[k] = g.out[i][k].to;
        sort_sizes(want, nw); /* compare as multisets */
        sort_sizes(ec.got, ec.n);
        if (ec.n != nw || memcmp(want, ec.got, nw * sizeof *want))
            edge_bad++;
    }
    free(ec.got);

    /* Expected classification of the unreached blocks U (neither reached
     * nor possible): direct = no parent in U other than itself; indirect =
     * reachable from a direct block; the rest R forms components with
     * parents only in R: exactly one cycle-direct per source SCC of R. */
    uint8_t *parent = xcalloc(n, 1), *claimed = xcalloc(n, 1);
    for (size_t i = 0; i < n; i++)
        if (st[i] == BS_UNREACHED)
            for (size_t k = 0; k < g.n_out[i]; k++)
                if (g.out[i][k].to != i && st[g.out[i][k].to] == BS_UNREACHED)
                    parent[g.out[i][k].to] = 1;
    size_t direct_bad = 0, n_direct = 0;
    for (size_t i = 0; i < n; i++) {
        if (st[i] != BS_UNREACHED || parent[i])
            continue;
        n_direct++;
        if (!claimed[i]) {
            claimed[i] = 1;
            stack[sp++] = i;
        }
        while (sp) {
            size_t x = stack[--sp];
            for (size_t k = 0; k < g.n_out[x]; k++) {
                size_t y = g.out[x][k].to;
                if (st[y] == BS_UNREACHED && !claimed[y]) {
                    claimed[y] = 1;
                    stack[sp++] = y;
                }
            }
        }
        direct_bad += !(s.kind[i] == KIND_DIRECT && !s.cycle[i]);
    }
    /* SCCs of R (unreached, unclaimed) by Kosaraju, iteratively. */
    size_t *order = xcalloc(n, sizeof *order), n_order = 0, *pos = xcalloc(n, sizeof *pos);
    uint8_t *vis = xcalloc(n, 1);
    size_t *comp = xcalloc(n, sizeof *comp);
    size_t **in = xcalloc(n, sizeof *in), *n_in = xcalloc(n, sizeof *n_in);
    bool in_r_any = false;
    for (size_t i = 0; i < n; i++) {
        if (st[i] != BS_UNREACHED || claimed[i])
            continue;
        in_r_any = true;
        for (size_t k = 0; k < g.n_out[i]; k++) {
            size_t y = g.out[i][k].to;
            if (st[y] == BS_UNREACHED && !claimed[y]) {
                in[y] = realloc(in[y], (n_in[y] + 1) * sizeof **in);
                in[y][n_in[y]++] = i;
            }
        }
    }
    for (size_t u = 0; u < n; u++) {
        if (st[u] != BS_UNREACHED || claimed[u] || vis[u])
            continue;
        sp = 0;
        vis[u] = 1;
        stack[sp] = u;
        pos[sp++] = 0;
        while (sp) {
            size_t x = stack[sp - 1];
            if (pos[sp - 1] < g.n_out[x]) {
                size_t y = g.out[x][pos[sp - 1]++].to;
                if (st[y] == BS_UNREACHED && !claimed[y] && !vis[y]) {
                    vis[y] = 1;
                    stack[sp] = y;
                    pos[sp++] = 0;
                }
            } else {
                order[n_order++] = x;
                sp--;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        comp[i] = SIZE_MAX;
    size_t n_comp = 0;
    for (size_t k = n_order; k-- > 0;) {
        size_t u = order[k];
        if (comp[u] != SIZE_MAX)
            continue;
        sp = 0;
        stack[sp++] = u;
        comp[u] = n_comp;
        while (sp) {
            size_t x = stack[--sp];
            for (size_t e = 0; e < n_in[x]; e++)
                if (comp[in[x][e]] == SIZE_MAX) {
                    comp[in[x][e]] = n_comp;
                    stack[sp++] = in[x][e];
                }
        }
        n_comp++;
    }
    uint8_t *has_in = xcalloc(n_comp + 1, 1);
    size_t *cyc_in = xcalloc(n_comp + 1, sizeof *cyc_in);
    for (size_t i = 0; i < n; i++)
        if (comp[i] != SIZE_MAX)
            for (size_t e = 0; e < n_in[i]; e++)
                if (comp[in[i][e]] != comp[i])
                    has_in[comp[i]] = 1;
    size_t kind_bad = 0, n_sources = 0;
    for (size_t i = 0; i < n; i++) {
        if (st[i] == BS_REACHED) {
            kind_bad += s.kind[i] != 0xff;
        } else if (st[i] == BS_POSSIBLE) {
            kind_bad += s.kind[i] != KIND_POSSIBLE || s.cycle[i];
        } else if (comp[i] != SIZE_MAX) {
            if (s.cycle[i]) {
                cyc_in[comp[i]]++;
                kind_bad += s.kind[i] != KIND_DIRECT;
            } else {
                kind_bad += s.kind[i] != KIND_INDIRECT;
            }
        } else if (parent[i]) {
            kind_bad += s.kind[i] != KIND_INDIRECT || s.cycle[i];
        }
    }
    size_t cycle_bad = 0;
    for (size_t c = 0; c < n_comp; c++) {
        n_sources += !has_in[c];
        cycle_bad += cyc_in[c] != (has_in[c] ? 0u : 1u);
    }
    (void)in_r_any;
    CHECK(s.build_err == 0 && s.classify_err == 0 && s.consistent && state_bad == 0 &&
              edge_bad == 0,
          "random graph seed %llu, %zu blocks: mark states (%zu reached, %zu possible) and edges "
          "match the driver's (%zu/%zu wrong)",
          (unsigned long long)seed, n, n_reached, n_possible, state_bad, edge_bad);
    CHECK(s.consistent && direct_bad == 0 && kind_bad == 0 && cycle_bad == 0 &&
              s.by_kind[KIND_DIRECT] == n_direct + n_sources && s.cycles == n_sources,
          "random graph seed %llu: %zu direct, %zu cycle entries (one per source component), "
          "%zu indirect, %zu possible as computed (%zu/%zu/%zu wrong)",
          (unsigned long long)seed, n_direct, n_sources, s.by_kind[KIND_INDIRECT],
          s.by_kind[KIND_POSSIBLE], direct_bad, kind_bad, cycle_bad);

    scan_free(&s);
    for (size_t i = 0; i < n; i++) {
        free(g.out[i]);
        free(in[i]);
    }
    free(g.out);
    free(g.n_out);
    free(g.roots);
    free(st);
    free(any);
    free(stack);
    free(parent);
    free(claimed);
    free(order);
    free(pos);
    free(vis);
    free(comp);
    free(in);
    free(n_in);
    free(has_in);
    free(cyc_in);
    fheap_reset();
}

static void test_random_graphs(void)
{
    /* Sparse graphs (many leaked components and cycles) and dense ones
     * (most reached, long possible chains). */
    random_graph_case(1, 3000, 1, 20);
    random_graph_case(2, 3000, 2, 5);
    random_graph_case(3, 4000, 3, 40);
    random_graph_case(4, 2000, 2, 0);
    random_graph_case(5, 5000, 4, 10);
    random_graph_case(6, 3000, 8, 300);
    for (uint64_t seed = 10; seed < 20; seed++)
        random_graph_case(seed, 200 + seed * 37, (unsigned)(seed % 4), seed % 5);
    /* Large enough that mark_drain_all starts its second marker. */
    random_graph_case(30, 60000, 3, 20);
    random_graph_case(31, 120000, 4, 200);
    random_graph_case(32, 80000, 4, 30000);
}

/* ---- Main ---- */

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"handle_growth_churn", test_handle_growth_churn},
    {"handle_clamp", test_handle_clamp},
    {"handle_threads", test_handle_threads},
    {"options", test_options},
    {"depot", test_depot},
    {"depot_threads", test_depot_threads},
    {"glibc_layout", test_glibc_layout},
    {"heap_find", test_heap_find},
    {"list", test_list},
    {"cycle", test_cycle},
    {"possible", test_possible},
    {"wide", test_wide},
    {"random_graphs", test_random_graphs},
    {"rescan", test_rescan},
};

int main(int argc, char **argv)
{
    t.filter = argc > 1 && argv[1][0] ? argv[1] : NULL;
    addr_mul_inv = ADDR_MUL;
    for (int i = 0; i < 6; i++)
        addr_mul_inv *= 2 - ADDR_MUL * addr_mul_inv;
    opt_parse(NULL);
    fheap_init();
    for (size_t i = 0; i < GS_ARRAY_LEN(tests); i++)
        if (!t.filter || strstr(tests[i].name, t.filter))
            tests[i].fn();
    printf("%d checks, %d failed\n", t.checks, t.failures);
    return t.failures ? 1 : 0;
}
