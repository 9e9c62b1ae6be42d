/* SPDX-License-Identifier: MIT
 * shmstats.h: live counters in /dev/shm/guardshim.<pid> (shm_stats=1),
 * layout in shm_layout.h. Written under a seqlock by the checker thread
 * (live.c) about once a second and after every check; writers are
 * serialised by a leaf lock of this module, readers never stop the
 * process. Only the process that loaded the shim publishes: a fork child
 * publishes nothing until it execs (then the new program publishes its
 * own), so a child ending in _exit leaves no file behind. */
#ifndef GS_SHMSTATS_H
#define GS_SHMSTATS_H

#include "leaks.h"

/* Creates the segment (O_EXCL, O_NOFOLLOW, mode 0600). returns: 0 or errno. */
int shmstats_open(void);
/* Copies the current counters into the segment. Thread-safe.
 * locks: the shm writer lock (a leaf). */
void shmstats_publish(void);
/* After a scan: leak totals, scan time and the named top sites.
 * pre: the check lock (it symbolises, outside the writer lock). */
void shmstats_after_scan(const struct scan_result *r, size_t leaked_blocks, size_t leaked_bytes);
/* Unlinks and unmaps (exit); a publish racing with it is skipped. */
void shmstats_close(void);
/* Fork child: drops the parent's segment and publishes nothing more. */
void shmstats_atfork_child(void);
bool shmstats_enabled(void);

#endif
