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

/* Records this scan's reachable bytes per site. After the mark (block
 * states final); world may run, handle locks held (the heap is stable). */
void sites_observe(const struct heap *h, double now_ms);

/* Sites found growing since the last call, each once. returns: count. */
size_t sites_growing(struct growth_site *out, size_t cap);

/* The `n` sites with most live bytes (reachable or not) at the last scan.
 * returns: count. */
size_t sites_top(struct growth_site *out, size_t n);

#endif
