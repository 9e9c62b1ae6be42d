/* SPDX-License-Identifier: MIT
 * cmd_report.c: `guardshim report`: reads JSON reports, completes frames
 * that have only module+offset (libdw), merges records across files and
 * processes by identity, keeps what is new or grown since a baseline,
 * filters, and writes text, json, sarif, folded stacks or an SVG flame
 * graph. Order: load, symbolise, demangle, key, merge, baseline, filter,
 * write.
 * locks: none (single-threaded tool). allocates: malloc. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "demangle.h"
#include "emit.h"
#include "filter.h"
#include "reports.h"
#include "symbols.h"
#include "util.h"

static const char usage[] = "guardshim report [OPTIONS] FILE... ('-' = stdin)";

static const char help[] =
    "usage: guardshim report [OPTIONS] FILE...\n"
    "\n"
    "Reads guardshim JSON reports (one object per file, or one per line; '-' reads\n"
    "stdin), merges the records of all files and processes that have the same kind\n"
    "and stack, and writes them sorted by bytes, largest first. Frames that have\n"
    "only a module and an offset are symbolised from the module file (libdw).\n"
    "C++ names are shown demangled (ns::Widget::make()); suppressions match\n"
    "either form.\n"
    "\n"
    "Options:\n"
    "  -f, --format FMT        text (default, LeakSanitizer's shape), json (one\n"
    "                          object in the shim's schema, \"trigger\":\"merged\"),\n"
    "                          sarif (SARIF 2.1.0), folded (flame graph input:\n"
    "                          'root;...;leaf bytes'), svg (a flame graph)\n"
    "  -o, --output FILE       write there instead of stdout\n"
    "      --min-bytes N       only records of at least N bytes (after merging)\n"
    "      --kind LIST         only these kinds: direct,indirect,possible\n"
    "      --suppressions F    drop records matching F's 'leak:PATTERN' lines\n"
    "                          (LeakSanitizer syntax: '*' any run, '^' and '$'\n"
    "                          anchors, else a substring of a frame's function,\n"
    "                          file or module)\n"
    "      --baseline OLD      only records new since OLD (a report file), or\n"
    "                          that grew (more bytes); they are marked as such\n"
    "      --no-symbolize      do not complete frames from the module files\n"
    "                          (C++ names are demangled all the same)\n"
    "      --title TEXT        heading of the svg\n"
    "      --exitcode N        exit with N when any record is written (default 0)\n"
    "  -h, --help              this help\n"
    "\n"
    "Exit status (each error is one line naming the file and the problem):\n"
    "  0  done (or N of --exitcode N when records remain; pick N outside 2..4)\n"
    "  2  bad option or option value\n"
    "  3  a file cannot be read (missing, unreadable; reports, --baseline,\n"
    "     --suppressions) or the output cannot be written\n"
    "  4  input that is not a guardshim report (corrupt or truncated JSON, an\n"
    "     empty file, a record of the wrong shape; the line is named too)\n";

enum { OPT_MIN_BYTES = 256, OPT_KIND, OPT_SUPP, OPT_BASELINE, OPT_NOSYM, OPT_TITLE, OPT_EXIT };

static const struct option long_opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"output", required_argument, NULL, 'o'},
    {"min-bytes", required_argument, NULL, OPT_MIN_BYTES},
    {"kind", required_argument, NULL, OPT_KIND},
    {"suppressions", required_argument, NULL, OPT_SUPP},
    {"baseline", required_argument, NULL, OPT_BASELINE},
    {"no-symbolize", no_argument, NULL, OPT_NOSYM},
    {"title", required_argument, NULL, OPT_TITLE},
    {"exitcode", required_argument, NULL, OPT_EXIT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef void (*emitter)(FILE *, const struct emit_input *);

static const struct {
    const char *name;
    emitter fn;
} formats[] = {
    {"text", emit_text},     {"json", emit_json}, {"sarif", emit_sarif},
    {"folded", emit_folded}, {"svg", emit_svg},
};

struct report_opts {
    emitter emit;
    const char *output, *baseline, *title;
    bool symbolize;
    uint64_t exitcode;
    struct filter filter;
};

/* Loads, symbolises, demangles and keys `paths` into `set`. returns: 0, EXIT_IO or
 * EXIT_MALFORMED (reports_load). */
static int load_all(struct reportset *set, char **paths, int n, bool symbolize)
{
    for (int i = 0; i < n; i++) {
        int rc = reports_load(set, paths[i]);
        if (rc)
            return rc;
    }
    if (symbolize)
        symbols_resolve(set);
    /* Before keys: a name mangled in one report and not in another is one leak. */
    demangle_frames(set);
    reports_set_keys(set);
    return 0;
}

static int parse_args(int argc, char **argv, struct report_opts *o)
{
    o->emit = emit_text;
    o->symbolize = true;
    filter_init(&o->filter);
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "+f:o:h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'f': {
            o->emit = NULL;
            for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
                if (!strcmp(optarg, formats[i].name))
                    o->emit = formats[i].fn;
            if (!o->emit)
                return usage_error("report", usage,
                                   "unknown format '%s' (text, json, sarif, folded, svg)", optarg);
            break;
        }
        case 'o': o->output = optarg; break;
        case OPT_MIN_BYTES:
            if (!util_parse_uint(optarg, UINT64_MAX, &o->filter.min_bytes))
                return usage_error("report", usage, "--min-bytes: not a number: '%s'", optarg);
            break;
        case OPT_KIND:
            if (!filter_set_kinds(&o->filter, optarg))
                return EXIT_USAGE;
            break;
        case OPT_SUPP:
            if (filter_load_suppressions(&o->filter, optarg))
                return EXIT_IO;
            break;
        case OPT_BASELINE: o->baseline = optarg; break;
        case OPT_NOSYM: o->symbolize = false; break;
        case OPT_TITLE: o->title = optarg; break;
        case OPT_EXIT:
            if (!util_parse_uint(optarg, 255, &o->exitcode))
                return usage_error("report", usage, "--exitcode: not a status 0..255: '%s'",
                                   optarg);
            break;
        case 'h': fputs(help, stdout); return -1;
        case ':':
            return usage_error("report", usage, "option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("report", usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("report", usage, "no report file given");
    return 0;
}

int cmd_report(int argc, char **argv)
{
    struct report_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        filter_fini(&o.filter);
        return rc < 0 ? 0 : rc;
    }
    struct reportset set = {0}, base = {0};
    struct record *recs = NULL, *brecs = NULL;
    size_t n = 0, nb = 0;
    rc = load_all(&set, argv + optind, argc - optind, o.symbolize);
    if (!rc && o.baseline) {
        char *paths[] = {(char *)o.baseline};
        rc = load_all(&base, paths, 1, o.symbolize);
    }
    if (rc)
        goto out;
    recs = reports_merge(&set, -1, &n);
    if (o.baseline) {
        brecs = reports_merge(&base, -1, &nb);
        n = records_diff(recs, n, brecs, nb);
    }
    n = filter_apply(&o.filter, recs, n);

    FILE *out = stdout;
    if (o.output && !(out = fopen(o.output, "w"))) {
        tool_error("%s: %s", o.output, strerror(errno));
        rc = EXIT_IO;
        goto out;
    }
    struct emit_input in = {
        .set = &set, .recs = recs, .n = n, .baseline = o.baseline, .title = o.title};
    o.emit(out, &in);
    if (ferror(out) | (out != stdout ? fclose(out) : fflush(out))) {
        tool_error("%s: %s", o.output ? o.output : "<stdout>", strerror(errno));
        rc = EXIT_IO;
        goto out;
    }
    rc = n ? (int)o.exitcode : 0;
out:
    free(recs);
    free(brecs);
    reports_free(&set);
    reports_free(&base);
    symbols_end();
    filter_fini(&o.filter);
    return rc;
}
