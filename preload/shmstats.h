/* SPDX-License-Identifier: MIT
 * shmstats.h: live counters in /dev/shm/guardshim.<pid> (shm_stats=1),
 * layout in shm_layout.h. Written by the checker thread (live.c) about
 * once a second under a seqlock; readers never stop the process. */
#ifndef GS_SHMSTATS_H
#define GS_SHMSTATS_H

#include "leaks.h"

/* Creates the segment (O_EXCL, O_NOFOLLOW, mode 0600). returns: 0 or errno. */
int shmstats_open(void);
/* Copies the current counters into the segment. */
void shmstats_publish(void);
/* After a scan: leak totals, scan time and the named top sites.
 * Under the check lock (it symbolises). */
void shmstats_after_scan(const struct scan_result *r, size_t leaked_blocks, size_t leaked_bytes);
/* Unlinks and unmaps (exit). */
void shmstats_close(void);
/* Fork child: drop the parent's segment, open one for this pid. */
void shmstats_atfork_child(void);
bool shmstats_enabled(void);

#endif
