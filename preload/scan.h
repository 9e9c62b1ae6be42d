/* SPDX-License-Identifier: MIT
 * scan.h: one full leak scan, start to end:
 *   loader lock (dl_iterate_phdr) -> handle locks -> snapshot + index ->
 *   roots gathered -> stop the world -> mark -> classify -> resume ->
 *   unlock.
 * Only roots -> mark -> classify run while threads are stopped; the
 * report is written by the caller afterwards. */
#ifndef GS_SCAN_H
#define GS_SCAN_H

#include "leaks.h"

/* Runs a scan. `self_sp`: the trigger's caller stack pointer; the scanning
 * thread's stack below it is not a root. On success the caller owns
 * r->leaks and releases it with scan_result_free.
 * pre: tls.in_shim > 0; no shim lock held. returns: 0 or errno. */
int scan_run(struct scan_result *r, uintptr_t self_sp);
void scan_result_free(struct scan_result *r);

/* Number of scans completed. */
size_t scan_count(void);

#endif
