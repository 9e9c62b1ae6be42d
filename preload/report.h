/* SPDX-License-Identifier: MIT
 * report.h: turn a scan result into a leak report (DESIGN §4): group by
 * (kind, stack, owner), drop suppressed groups, sort by bytes (largest
 * first), symbolise, write text or JSON to `log_path` (or stderr).
 * Runs after the world resumed; may call libc and libdw (their allocations
 * go to glibc untracked because the caller is inside the shim). */
#ifndef GS_REPORT_H
#define GS_REPORT_H

#include "leaks.h"

struct report_totals {
    size_t records;        /* leak records written (after suppression) */
    size_t leaked_bytes, leaked_blocks; /* direct + indirect + possible */
};

/* Writes one report. With format=text nothing is written when no record
 * survives suppression (unless verbosity >= 1); with format=json a report
 * is always written. `only_news`: keep only groups no earlier such report
 * showed, or that grew since (marked "grown"). returns: 0, or an errno
 * value when the report could not be written (totals are still filled). */
int report_write(const struct scan_result *r, enum report_trigger trigger, bool only_news,
                 struct report_totals *totals);

struct misuse;
/* Writes one heap-misuse report (misuse.h) to the same destination, in the
 * same format. The caller serialises. */
void report_misuse(const struct misuse *m);

#endif
