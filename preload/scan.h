/* SPDX-License-Identifier: MIT
 * scan.h: one full leak scan, start to end:
 *   loader lock (dl_iterate_phdr) -> handle locks -> snapshot + index ->
 *   roots gathered -> guardian lock -> stop the world -> mark -> guardians
 *   -> classify -> flag updates -> resume -> guardian queues -> unlock ->
 *   reclaim.
 * Only the steps between stop and resume run while threads are stopped;
 * the report is written by the caller afterwards. */
#ifndef GS_SCAN_H
#define GS_SCAN_H

#include "leaks.h"

struct scan_opts {
    uintptr_t self_sp;   /* the scanning thread's stack is a root from here up */
    bool reclaim;        /* free blocks unreachable in this and the previous scan */
    bool snapshot;       /* judge a copy-on-write child's image (see scan.c) */
    bool incremental;    /* mark concurrently, pause for what changed (cmark.h) */
};

struct scan_stats {
    size_t newly_unreachable; /* blocks unreachable now and not at the previous scan */
    size_t reclaimed_blocks, reclaimed_bytes;
};

/* Runs a scan. On success the caller owns r->leaks and releases it with
 * scan_result_free. pre: tls.in_shim > 0; no shim lock held.
 * returns: 0 or errno. */
int scan_run(struct scan_result *r, const struct scan_opts *o, struct scan_stats *st);
void scan_result_free(struct scan_result *r);

/* Number of scans completed, and the leak totals of the last one. */
size_t scan_count(void);
void scan_last_leaks(size_t *blocks, size_t *bytes);

void scan_atfork_prepare(void);
void scan_atfork_parent(void);
void scan_atfork_child(void);

#endif
