/* SPDX-License-Identifier: MIT
 * cmd_top.c: `guardshim top PID [-d SECONDS] [-n ITERATIONS] [-b]`: a
 * terminal view of a running process's shared-memory stats, refreshed like
 * top(1): ANSI clear (not with -b), header lines (process, live heap, rates,
 * scans, leaks of the last scan), then a table of the top allocation sites
 * by live bytes. Ends when the process is gone (segment removed at its
 * exit, or the process no longer exists: status 0) or after -n frames.
 * locks: none (single-threaded tool). allocates: no. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "demangle.h"
#include "shmread.h"
#include "util.h"

static const char usage[] = "guardshim top [-d SECONDS] [-n ITERATIONS] [-b] PID";

static const char help[] =
    "usage: guardshim top [-d SECONDS] [-n ITERATIONS] [-b] PID\n"
    "\n"
    "Shows the live counters of a process running under the shim with\n"
    "GUARDSHIM_OPTIONS=shm_stats=1 (/dev/shm/guardshim.PID), refreshed like top:\n"
    "live blocks and bytes, allocations and frees per second, scans and the last\n"
    "scan's duration, what the last scan found leaked, and the allocation sites\n"
    "holding the most live bytes. The process is never stopped. The shim\n"
    "publishes about once a second and after every scan.\n"
    "\n"
    "Options:\n"
    "  -d, --delay SECONDS       between refreshes (default 1; fractions allowed)\n"
    "  -n, --iterations N        stop after N refreshes (default: until the\n"
    "                            process exits)\n"
    "  -b, --batch               no screen clearing: frames follow each other\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit status: 0 after N refreshes or when the process has exited; 2 for a bad\n"
    "option or when PID has no stats segment to begin with.\n";

static const struct option long_opts[] = {
    {"delay", required_argument, NULL, 'd'},
    {"iterations", required_argument, NULL, 'n'},
    {"batch", no_argument, NULL, 'b'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "12.3 MiB" style, into buf. */
static const char *human_bytes(char *buf, size_t n, double v)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    while (v >= 1024 && u + 1 < sizeof unit / sizeof *unit) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%.0f B", v);
    else
        snprintf(buf, n, "%.1f %s", v, unit[u]);
    return buf;
}

static const char *clock_time(char *buf, size_t n, uint64_t unix_ms)
{
    if (!unix_ms) {
        snprintf(buf, n, "never");
        return buf;
    }
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, n, "%H:%M:%S", &tm);
    return buf;
}

static void read_comm(pid_t pid, char *buf, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    buf[0] = 0;
    if (f) {
        if (fgets(buf, (int)n, f))
            buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
    if (!buf[0])
        snprintf(buf, n, "?");
}

static void draw(const struct gs_shm_stats *s, pid_t pid, bool clear, bool alive)
{
    const struct gs_shm_counters *c = &s->c;
    char comm[64], b1[32], b2[32], t1[16], t2[16];
    read_comm(pid, comm, sizeof comm);
    if (clear)
        fputs("\033[H\033[2J", stdout); /* home, clear screen */
    printf("guardshim top - pid %d (%s)%s, updated %s\n", (int)pid, comm,
           alive ? "" : " [exited]", clock_time(t1, sizeof t1, c->updated_unix_ms));
    printf("Heap:   %" PRIu64 " live blocks, %s live; %" PRIu64 " allocs, %" PRIu64 " frees\n",
           c->live_blocks, human_bytes(b1, sizeof b1, (double)c->live_bytes), c->total_allocs,
           c->total_frees);
    printf("Rate:   %.1f allocs/s, %.1f frees/s\n", c->allocs_per_s, c->frees_per_s);
    printf("Scans:  %" PRIu64 ", last took %.2f ms, ended %s\n", c->scans, c->last_scan_ms,
           clock_time(t2, sizeof t2, c->last_scan_unix_ms));
    printf("Leaked: %" PRIu64 " blocks, %s (at the last scan)\n", c->leaked_blocks,
           human_bytes(b2, sizeof b2, (double)c->leaked_bytes));
    printf("\n%12s %10s  %-32s %s\n", "LIVE BYTES", "BLOCKS", "FUNCTION", "FILE:LINE");
    for (unsigned i = 0; i < c->n_sites; i++) {
        const struct gs_shm_site *t = &c->sites[i];
        char where[GS_SHM_NAME_MAX + 16];
        if (t->file[0])
            snprintf(where, sizeof where, "%s:%u", t->file, t->line);
        else
            snprintf(where, sizeof where, "?");
        char *readable = demangle_name(t->function);
        const char *fn = readable ? readable : t->function;
        printf("%12" PRIu64 " %10" PRIu64 "  %-32s %s\n", t->live_bytes, t->live_blocks,
               fn[0] ? fn : "?", where);
        free(readable);
    }
    if (!c->n_sites)
        printf("%12s %10s  (no scan yet: sites appear after the first scan)\n", "-", "-");
    fflush(stdout);
}

static void sleep_s(double secs)
{
    time_t whole = (time_t)secs;
    struct timespec ts = {whole, (long)((secs - (double)whole) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int cmd_top(int argc, char **argv)
{
    double delay = 1.0;
    uint64_t iterations = 0;
    bool batch = false;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+d:n:bh", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': {
            char *end;
            errno = 0;
            delay = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(delay >= 0.01) || delay > 86400)
                return usage_error("top", usage, "-d: not a delay of 0.01..86400 s: '%s'",
                                   optarg);
            break;
        }
        case 'n':
            if (!util_parse_uint(optarg, UINT32_MAX, &iterations) || iterations == 0)
                return usage_error("top", usage, "-n: not a positive count: '%s'", optarg);
            break;
        case 'b': batch = true; break;
        case 'h': fputs(help, stdout); return 0;
        case ':':
            return usage_error("top", usage, "option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("top", usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("top", usage, "no PID given");
    if (optind + 1 < argc)
        return usage_error("top", usage, "one PID only, got also '%s'", argv[optind + 1]);
    pid_t pid;
    if (!shm_parse_pid(argv[optind], &pid))
        return usage_error("top", usage, "not a process id: '%s'", argv[optind]);

    for (uint64_t frame = 0;; frame++) {
        struct gs_shm_stats s;
        int err = shm_read(pid, &s);
        if (err == SHM_ENOSTATS && frame > 0) {
            printf("guardshim top: process %d exited\n", (int)pid);
            return 0;
        }
        if (err) {
            tool_error("%s", shm_strerror(err, pid));
            return EXIT_USAGE;
        }
        bool alive = shm_pid_alive(pid);
        if (batch && frame)
            putchar('\n');
        draw(&s, pid, !batch, alive);
        if (!alive) { /* the segment outlived it (_exit, killed): nothing more to come */
            printf("guardshim top: process %d exited\n", (int)pid);
            return 0;
        }
        if (iterations && frame + 1 >= iterations)
            return 0;
        sleep_s(delay);
    }
}
