/* SPDX-License-Identifier: MIT
 * guardshim.c: the `guardshim` command: global options (--help,
 * --version) and dispatch to the subcommands of commands.h by name. A new
 * subcommand (e.g. `top`, `stat` for the shared-memory stats) is one line
 * in `commands[]` and one `cmd_<name>.c`.
 * locks: none (single-threaded tool). allocates: no (subcommands do). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

#ifndef GS_VERSION_STRING
#define GS_VERSION_STRING "0.0.0"
#endif

static const struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a program under the shim and summarise its leaks"},
    {"report", cmd_report, "merge, filter, diff and convert JSON reports"},
    {"stat", cmd_stat, "print a running process's live counters as JSON (shm_stats=1)"},
    {"top", cmd_top, "watch a running process's live counters, like top (shm_stats=1)"},
};

static const char usage[] = "guardshim [--help | --version] COMMAND [ARGS...]";

static void print_help(void)
{
    printf("usage: %s\n\n"
           "guardshim finds memory leaks in C and C++ programs by preloading\n"
           "libguardshim.so. Commands:\n\n",
           usage);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        printf("  %-8s %s\n", commands[i].name, commands[i].summary);
    printf("\n"
           "'guardshim COMMAND --help' describes a command; 'man guardshim' all of them.\n"
           "Everyday use:\n"
           "  guardshim run -- ./app args          # run, summarise leaks, exit 23 if any\n"
           "  guardshim run --json r.json -- ./app # also keep every process's report\n"
           "  guardshim report r.json              # full stacks, LeakSanitizer's shape\n"
           "  guardshim report -f sarif -o leaks.sarif r.json\n"
           "  guardshim report -f svg -o leaks.svg r.json\n"
           "  GUARDSHIM_OPTIONS=shm_stats=1:scan_interval=60 guardshim run -- ./server &\n"
           "  guardshim top PID                    # live heap, rates, scans, top sites\n"
           "  guardshim stat PID                   # the same once, as JSON\n");
}

int usage_error(const char *cmd, const char *use, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "guardshim %s: %s; usage: %s (see guardshim %s --help)\n", cmd, msg, use,
                cmd);
    else
        fprintf(stderr, "guardshim: %s; usage: %s (see guardshim --help)\n", msg, use);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error(NULL, usage, "no command given");
    const char *a = argv[1];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
        print_help();
        return 0;
    }
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        printf("guardshim %s\n", GS_VERSION_STRING);
        return 0;
    }
    /* `guardshim help CMD` is `guardshim CMD --help`. */
    if (!strcmp(a, "help")) {
        if (argc < 3) {
            print_help();
            return 0;
        }
        char *sub[] = {argv[2], (char *)"--help", NULL};
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            if (!strcmp(argv[2], commands[i].name))
                return commands[i].fn(2, sub);
        return usage_error(NULL, usage, "unknown command '%s'", argv[2]);
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(a, commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    if (a[0] == '-')
        return usage_error(NULL, usage, "unknown option '%s'", a);
    return usage_error(NULL, usage, "unknown command '%s'", a);
}
