/* SPDX-License-Identifier: MIT
 * options.h: the parsed GUARDSHIM_OPTIONS. `opt` is written once, by
 * opt_parse() during initialisation, and only read afterwards. */
#ifndef GS_OPTIONS_H
#define GS_OPTIONS_H

#include "common.h"

#define OPT_STR_MAX 512

struct options {
#define OPT_STR(name, def, help) char name[OPT_STR_MAX];
#define OPT_INT(name, def, lo, hi, help) int name;
#define OPT_ENUM(name, def, values, help) int name;
#define OPT_SIGNAL(name, def, help) int name;
#include "options.def"
#undef OPT_STR
#undef OPT_INT
#undef OPT_ENUM
#undef OPT_SIGNAL
};

enum { FORMAT_TEXT = 0, FORMAT_JSON = 1 };
enum { SCAN_MODE_AUTO = 0, SCAN_MODE_FULL, SCAN_MODE_SNAPSHOT, SCAN_MODE_INCREMENTAL };

extern struct options opt;

/* Sets defaults, then applies `spec` (may be NULL). Each bad key or value
 * prints one line on stderr naming the key and keeps that key's default.
 * returns: the number of bad entries. May not allocate (runs in init). */
int opt_parse(const char *spec);

/* Parses a signal name ("SIGUSR2", "USR2") or number; -1 when unknown,
 * 0 for "none"/"0". */
int opt_signal_number(const char *name);

#endif
