/* SPDX-License-Identifier: MIT
 * shmread.h: reads a process's shared-memory stats (shm_stats=1,
 * /dev/shm/guardshim.<pid>, layout in preload/shm_layout.h) without
 * stopping it, for `guardshim stat` and `guardshim top`.
 * Single-threaded tool: no locks; no allocation (one mapping per read). */
#ifndef GS_TOOLS_SHMREAD_H
#define GS_TOOLS_SHMREAD_H

#include <stdbool.h>
#include <sys/types.h>

#include "../preload/shm_layout.h"

/* The reasons a read fails (besides an errno value from open/mmap). */
#define SHM_ENOSTATS (-1) /* no segment for the pid: not running, or without shm_stats=1 */
#define SHM_EBADMAGIC (-2) /* not a guardshim segment, or never initialised */
#define SHM_EVERSION (-3)  /* a layout version or size this tool does not know */
#define SHM_EBUSY (-4)     /* the writer never left its update (seq stayed odd) */

/* Reads one consistent copy of the segment of `pid` into *out: retries
 * until seq is even and unchanged around the copy of the counters.
 * A segment still being created (size 0, magic not yet set) is waited for
 * briefly. returns: 0, a SHM_E* code or a positive errno value. */
int shm_read(pid_t pid, struct gs_shm_stats *out);

/* One line describing a shm_read failure (no trailing newline). */
const char *shm_strerror(int err, pid_t pid);

/* True when a process `pid` exists (kill(pid, 0)); a segment left by a
 * process that ended in _exit or was killed outlives it. */
bool shm_pid_alive(pid_t pid);

/* Parses a PID argument (1..INT32_MAX). returns: true on success. */
bool shm_parse_pid(const char *s, pid_t *pid);

#endif
