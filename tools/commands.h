/* SPDX-License-Identifier: MIT
 * commands.h: the subcommands of `guardshim`, one file each
 * (`cmd_<name>.c`), dispatched by guardshim.c. Each takes its own argv
 * (argv[0] = the subcommand name) and returns the process exit status.
 * Single-threaded tool. */
#ifndef GS_TOOLS_COMMANDS_H
#define GS_TOOLS_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* Prints "guardshim CMD: MSG; usage: USAGE (see guardshim CMD --help)"
 * on stderr. returns: EXIT_USAGE. */
int usage_error(const char *cmd, const char *usage, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
