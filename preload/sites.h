/* SPDX-License-Identifier: MIT
 * sites.h: live bytes per allocation site (stack) across scans: the top
 * sites for shared-memory stats, and sites whose reachable bytes grow
 * steadily, which no exit check can see (a cache that never shrinks).
 * "Steadily": more reachable bytes at each of the last SITES_WINDOW scans,
 * by at least SITES_MIN_GROWTH bytes in all. Serialised by the scan lock. */
#ifndef GS_SITES_H
#define GS_SITES_H

#include "leaks.h"
#include "mark.h"

#define SITES_WINDOW 4
#define SITES_MIN_GROWTH 4096

/* Live and reachable totals of one site in one scan. */
struct site_agg {
    uint64_t live_bytes, live_blocks, reach_bytes, reach_blocks;
};

/* Sums the snapshot per site into agg[stack id] (zeroed by the caller,
 * `cap` entries; ids beyond are skipped). After the mark. STW-safe. */
void sites_aggregate(const struct heap *h, struct site_agg *agg, size_t cap);

/* Records one scan's totals (agg as filled above). */
void sites_observe(const struct site_agg *agg, size_t cap, double now_ms);

/* Sites found growing since the last call, each once. returns: count. */
size_t sites_growing(struct growth_site *out, size_t cap);

/* The `n` sites with most live bytes (reachable or not) at the last scan.
 * returns: count. */
size_t sites_top(struct growth_site *out, size_t n);

#endif
