/* SPDX-License-Identifier: MIT
 * leaks.h: what a scan hands to the reporter. The scanner (classify.c)
 * fills one `struct leak_block` per unreachable block into memory mapped
 * before the world was stopped; report.c groups, symbolises and writes
 * them after the world resumes. */
#ifndef GS_LEAKS_H
#define GS_LEAKS_H

#include "common.h"
#include "depot.h"

enum leak_kind { KIND_DIRECT = 0, KIND_INDIRECT, KIND_POSSIBLE, KIND_COUNT };

enum report_trigger { TRIGGER_EXIT = 0, TRIGGER_API, TRIGGER_INTERVAL, TRIGGER_SIGNAL };

struct leak_block {
    uintptr_t addr;      /* block start (the report never dereferences it) */
    size_t size;         /* requested size in bytes */
    stack_id stack;      /* allocation stack */
    uint32_t owner;      /* ownership domain, 0 = none */
    uint8_t kind;        /* enum leak_kind */
    bool cycle;          /* direct record chosen as the entry of a leaked cycle */
};

/* An allocation site whose reachable bytes keep growing (sites.h). */
struct growth_site {
    stack_id stack;
    uint64_t bytes, blocks;   /* live at the last scan */
    double bytes_per_s;       /* growth over the observation window */
};

#define SCAN_MAX_GROWING 64

struct scan_result {
    struct leak_block *leaks;   /* n_leaks entries, any order */
    size_t n_leaks;
    size_t leaks_cap_bytes;     /* size of the mapping behind `leaks` (scan.c) */
    size_t reachable_bytes, reachable_blocks;
    double scan_ms;             /* wall time of the scan, world stopped or not */
    double pause_ms;            /* how long the program's threads were stopped */
    double stop_ms;             /* of which: stopping them (signal to last acknowledgement) */
    struct growth_site growing[SCAN_MAX_GROWING]; /* new growing sites (live reports) */
    size_t n_growing;
};

#endif
