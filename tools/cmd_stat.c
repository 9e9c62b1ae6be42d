/* SPDX-License-Identifier: MIT
 * cmd_stat.c: `guardshim stat PID`: one consistent snapshot of a running
 * process's shared-memory stats (shm_stats=1) as one JSON object on
 * stdout. Reads under the seqlock (shmread.c); never stops the process.
 * locks: none (single-threaded tool). allocates: malloc (jansson). */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "demangle.h"
#include "shmread.h"
#include "util.h"

static const char usage[] = "guardshim stat [--pretty] PID";

static const char help[] =
    "usage: guardshim stat [--pretty] PID\n"
    "\n"
    "Prints one snapshot of the live counters that a process running under the\n"
    "shim with GUARDSHIM_OPTIONS=shm_stats=1 publishes in /dev/shm/guardshim.PID,\n"
    "as one JSON object on one line: live blocks and bytes, allocations and frees\n"
    "(totals and per second), scans, the last scan's duration and end time, the\n"
    "blocks and bytes the last scan found leaked, and the top allocation sites by\n"
    "live bytes. The process is not stopped; the copy is never torn (seqlock).\n"
    "\"alive\" is false when the segment outlived its process (it ended in _exit\n"
    "or was killed).\n"
    "\n"
    "Options:\n"
    "      --pretty      indent the JSON\n"
    "  -h, --help        this help\n"
    "\n"
    "Exit status: 0; 2 for a bad option or when PID has no stats segment.\n";

static json_t *stats_json(const struct gs_shm_stats *s, bool alive)
{
    const struct gs_shm_counters *c = &s->c;
    json_t *sites = json_array();
    for (unsigned i = 0; i < c->n_sites; i++) {
        const struct gs_shm_site *t = &c->sites[i];
        char *readable = demangle_name(t->function);
        const char *fn = readable ? readable : t->function;
        json_array_append_new(
            sites, json_pack("{s:o, s:o, s:I, s:I, s:I}", "function",
                             fn[0] ? json_string(fn) : json_null(), "file",
                             t->file[0] ? json_string(t->file) : json_null(), "line",
                             (json_int_t)t->line, "live_bytes", (json_int_t)t->live_bytes,
                             "live_blocks", (json_int_t)t->live_blocks));
        free(readable);
    }
    json_t *o = json_object();
    json_object_set_new(o, "tool", json_string("guardshim"));
    json_object_set_new(o, "pid", json_integer(s->pid));
    json_object_set_new(o, "alive", json_boolean(alive));
    json_object_set_new(o, "layout_version", json_integer(s->version));
    json_object_set_new(o, "live_blocks", json_integer((json_int_t)c->live_blocks));
    json_object_set_new(o, "live_bytes", json_integer((json_int_t)c->live_bytes));
    json_object_set_new(o, "total_allocs", json_integer((json_int_t)c->total_allocs));
    json_object_set_new(o, "total_frees", json_integer((json_int_t)c->total_frees));
    json_object_set_new(o, "allocs_per_s", json_real(c->allocs_per_s));
    json_object_set_new(o, "frees_per_s", json_real(c->frees_per_s));
    json_object_set_new(o, "scans", json_integer((json_int_t)c->scans));
    json_object_set_new(o, "last_scan_ms", json_real(c->last_scan_ms));
    json_object_set_new(o, "last_scan_unix_ms", json_integer((json_int_t)c->last_scan_unix_ms));
    json_object_set_new(o, "leaked_blocks", json_integer((json_int_t)c->leaked_blocks));
    json_object_set_new(o, "leaked_bytes", json_integer((json_int_t)c->leaked_bytes));
    json_object_set_new(o, "updated_unix_ms", json_integer((json_int_t)c->updated_unix_ms));
    json_object_set_new(o, "sites", sites);
    return o;
}

static const struct option long_opts[] = {
    {"pretty", no_argument, NULL, 'p'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_stat(int argc, char **argv)
{
    bool pretty = false;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'p': pretty = true; break;
        case 'h': fputs(help, stdout); return 0;
        default: return usage_error("stat", usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("stat", usage, "no PID given");
    if (optind + 1 < argc)
        return usage_error("stat", usage, "one PID only, got also '%s'", argv[optind + 1]);
    pid_t pid;
    if (!shm_parse_pid(argv[optind], &pid))
        return usage_error("stat", usage, "not a process id: '%s'", argv[optind]);

    struct gs_shm_stats s;
    int err = shm_read(pid, &s);
    if (err) {
        tool_error("%s", shm_strerror(err, pid));
        return EXIT_USAGE;
    }
    json_t *o = stats_json(&s, shm_pid_alive(pid));
    char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6) |
                                   (pretty ? JSON_INDENT(2) : JSON_COMPACT));
    json_decref(o);
    if (!text) {
        tool_error("out of memory");
        return EXIT_USAGE;
    }
    puts(text);
    free(text);
    if (fflush(stdout) != 0) {
        tool_error("<stdout>: write error");
        return EXIT_USAGE;
    }
    return 0;
}
