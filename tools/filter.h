/* SPDX-License-Identifier: MIT
 * filter.h: which records a report shows: `--min-bytes`, `--kind` and
 * LeakSanitizer-style suppressions (`leak:PATTERN`).
 * Single-threaded tool: no locks; allocates with malloc. */
#ifndef GS_TOOLS_FILTER_H
#define GS_TOOLS_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "reports.h"

struct filter {
    uint64_t min_bytes;
    bool kinds[KIND_COUNT]; /* all true by default (filter_init) */
    char **patterns;        /* suppression templates */
    size_t npatterns;
};

void filter_init(struct filter *f);
void filter_fini(struct filter *f);

/* Parses "direct,indirect,possible" (any subset). returns: false on an
 * unknown kind (after printing). */
bool filter_set_kinds(struct filter *f, const char *list);

/* Reads a suppressions file: `leak:PATTERN` lines, `#` comments and blank
 * lines; other types (LSan's `called_from_lib:`) are ignored.
 * returns: 0, or EXIT_IO after printing (missing or unreadable file). */
int filter_load_suppressions(struct filter *f, const char *path);

/* LSan's template match: `*` is any run, `^`/`$` anchor, else substring. */
bool filter_template_match(const char *t, const char *s);

/* True when `r` is kept. */
bool filter_keep(const struct filter *f, const struct record *r);

/* Keeps the records that pass, in order. returns: the new count. */
size_t filter_apply(const struct filter *f, struct record *recs, size_t n);

#endif
