/* SPDX-License-Identifier: MIT
 * emit.h: the output formats of `guardshim report` (text, json, sarif,
 * folded, svg) and the per-process summary of `guardshim run`.
 * Each writer gets the merged, filtered records and the loaded set (for
 * the list of processes). Single-threaded tool; writers allocate. */
#ifndef GS_TOOLS_EMIT_H
#define GS_TOOLS_EMIT_H

#include <stdbool.h>
#include <stdio.h>

#include "reports.h"

struct emit_input {
    const struct reportset *set; /* the processes the records came from */
    const struct record *recs;   /* merged, filtered, sorted by bytes */
    size_t n;
    const char *baseline; /* non-NULL: records are marked new/grew against it */
    const char *title;    /* svg: heading; NULL for the default */
};

/* LeakSanitizer's shape (DESIGN §4), records merged over processes. */
void emit_text(FILE *out, const struct emit_input *in);

/* One JSON object like the shim's, "trigger":"merged", one line. */
void emit_json(FILE *out, const struct emit_input *in);

/* SARIF 2.1.0: one result per record, rule ids "guardshim/<kind>-leak". */
void emit_sarif(FILE *out, const struct emit_input *in);

/* `frame;frame;frame bytes` lines, root first (flamegraph.pl input). */
void emit_folded(FILE *out, const struct emit_input *in);

/* A self-contained flame graph of leaked bytes by stack (no script). */
void emit_svg(FILE *out, const struct emit_input *in);

/* The name a flame graph or summary shows for a frame: its function, or
 * module basename+offset. Returns a malloc'ed string. */
char *frame_label(const struct frame *f);

/* `guardshim run`'s per-process summary (to stderr): pid, exe, totals and
 * the `top` largest records with their allocating function file:line. */
void emit_run_summary(FILE *out, const struct proc *p, const struct record *recs, size_t n,
                      size_t top);

#endif
