/* SPDX-License-Identifier: MIT
 * shm_layout.h: the layout of /dev/shm/guardshim.<pid> (shm_stats=1),
 * shared by the shim (shmstats.c, the writer) and `guardshim stat/top`
 * (the readers). Versioned: readers check magic, version and size first.
 *
 *   +0   magic 'GSHM', version, size of the whole segment, pid
 *   +24  seq: a seqlock; odd while the writer updates, readers retry
 *   ...  counters (copied whole under the seqlock, so never torn)
 *   ...  top allocation sites by live bytes
 * Fields are only ever appended (bump GS_SHM_VERSION when they change). */
#ifndef GS_SHM_LAYOUT_H
#define GS_SHM_LAYOUT_H

#include <stdint.h>

#define GS_SHM_MAGIC 0x4d485347u /* "GSHM" little-endian */
#define GS_SHM_VERSION 1u
#define GS_SHM_SITES 16
#define GS_SHM_NAME_MAX 96

struct gs_shm_site {
    uint64_t live_bytes, live_blocks;
    uint32_t stack_id, line;
    char function[GS_SHM_NAME_MAX];
    char file[GS_SHM_NAME_MAX];
};

struct gs_shm_counters {
    uint64_t live_blocks, live_bytes, total_allocs, total_frees;
    double allocs_per_s, frees_per_s;
    uint64_t scans;
    double last_scan_ms;          /* duration of the last scan */
    uint64_t last_scan_unix_ms;   /* when it ended, 0 = never */
    uint64_t leaked_blocks, leaked_bytes;
    uint64_t updated_unix_ms;
    uint32_t n_sites, reserved;
    struct gs_shm_site sites[GS_SHM_SITES];
};

struct gs_shm_stats {
    uint32_t magic, version;
    uint64_t size;
    int32_t pid, reserved;
    uint64_t seq;
    struct gs_shm_counters c;
};

#endif
