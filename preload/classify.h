/* SPDX-License-Identifier: MIT
 * classify.h: sort the blocks a mark left unreached into direct leaks
 * (no leaked block points to them), indirect leaks (reached from a direct
 * leak) and leaked cycles (one entry block per cycle becomes direct with
 * `cycle` set, chosen from a source component so it reaches the rest);
 * blocks the mark reached only "possibly" become possible leaks. STW. */
#ifndef GS_CLASSIFY_H
#define GS_CLASSIFY_H

#include "leaks.h"
#include "mark.h"

/* Writes one leak_block per leaked block into out (capacity h->n) and
 * fills the reachable totals. returns: 0 or ENOMEM. STW, allocation via
 * sys_map only. */
int classify_all(struct heap *h, struct scan_result *out);

#endif
