/* SPDX-License-Identifier: MIT
 * check.h: a leak check = a scan plus a report, serialised, with the
 * program's LeakSanitizer default suppressions fed in once. Used by the
 * exit check, gs_check_leaks and the LeakSanitizer entry points. */
#ifndef GS_CHECK_H
#define GS_CHECK_H

#include "report.h"

/* Scans from `self_sp` and writes a report (only leaks not reported
 * before when `only_new`). pre: tls.in_shim > 0.
 * returns: 0 or errno; *tot says what the report held. */
int check_run(enum report_trigger trigger, uintptr_t self_sp, bool only_new,
              struct report_totals *tot);

/* The final check (at exit, or __lsan_do_leak_check): runs once, honours
 * the program's __lsan_is_turned_off, and when leaks were reported ends
 * the process with `exitcode` after flushing stdio. */
void check_final(uintptr_t self_sp);

struct misuse;
/* Writes a heap-misuse report (text, or one JSON line with "errors"),
 * serialised with the leak reports. pre: tls.in_shim > 0. */
void check_report_misuse(const struct misuse *m);

void check_atfork_prepare(void);
void check_atfork_parent(void);
void check_atfork_child(void);

#endif
