/* SPDX-License-Identifier: MIT
 * harness.h: the check harness of the unit drivers test_guardian.c and
 * test_tables.c (header only). Prints one "ok - ..." or "FAIL - ... (file:line)"
 * line per check, the format tests/check-sanitize counts, then
 * "N checks, N failed"; the driver exits 1 on any failure.
 * A driver lists its tests in a `struct unit_test` array and calls
 * harness_main; argv[1], when given and not empty, runs only the tests whose
 * name contains it. */
#ifndef GS_UNIT_HARNESS_H
#define GS_UNIT_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    int failures, checks;
} harness;

#define CHECK(cond, ...) harness_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline void __attribute__((format(printf, 4, 5)))
harness_check(bool ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    harness.checks++;
    printf("%s - ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    if (ok)
        printf("\n");
    else
        printf(" (%s:%d)\n", strrchr(file, '/') ? strrchr(file, '/') + 1 : file, line);
    va_end(ap);
    fflush(stdout);
    if (!ok)
        harness.failures++;
}

struct unit_test {
    const char *name;
    void (*fn)(void);
};

static inline int harness_main(const struct unit_test *tests, size_t n, int argc, char **argv)
{
    const char *filter = argc > 1 && argv[1][0] ? argv[1] : NULL;
    for (size_t i = 0; i < n; i++)
        if (!filter || strstr(tests[i].name, filter))
            tests[i].fn();
    printf("%d checks, %d failed\n", harness.checks, harness.failures);
    return harness.failures ? 1 : 0;
}

/* xorshift64*: deterministic, seeded per test. */
static uint64_t harness_rng_state __attribute__((unused));
static inline void rng_seed(uint64_t s) { harness_rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
static inline uint64_t rng(void)
{
    harness_rng_state ^= harness_rng_state >> 12;
    harness_rng_state ^= harness_rng_state << 25;
    harness_rng_state ^= harness_rng_state >> 27;
    return harness_rng_state * 0x2545F4914F6CDD1Dull;
}
static inline size_t rng_below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        perror("unit test: calloc");
        exit(2);
    }
    return p;
}

#endif
