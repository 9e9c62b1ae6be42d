/* SPDX-License-Identifier: MIT
 * interpose.h: set-up of the malloc wrappers. */
#ifndef GS_INTERPOSE_H
#define GS_INTERPOSE_H

#include "common.h"

/* Resolves glibc's malloc_usable_size. pre: tls.in_shim > 0 (dlsym may allocate). */
void interpose_init(void);

/* Records a block fresh from glibc (NULL passes through). `entry` names
 * frame 0, `ra0`/`cfa0` are the entry point's return address and its
 * caller's CFA. Preserves errno. returns: p. */
void *interpose_track(void *p, size_t size, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

enum untrack { UNTRACK_DONE, UNTRACK_UNKNOWN, UNTRACK_SKIPPED };

/* Forgets a block about to be freed by code at `free_pc`. returns: DONE,
 * UNKNOWN (not the start of a tracked block) or SKIPPED (the shim is not
 * tracking now: not ready, or re-entered). */
enum untrack interpose_untrack(void *p, uintptr_t free_pc);

/* free() and operator delete: untrack, check a pointer the shim does not
 * know for misuse, hand the rest to glibc. */
void interpose_free(void *p, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

/* Frees a tracked block on the shim's behalf (reclaim, drain), filling it
 * with `poison` first. Works while tls.in_shim > 0. returns: its size, or 0
 * when `p` is not tracked (then nothing is freed). */
size_t interpose_free_tracked(void *p, int poison);

#define INTERPOSE_CALLER_RA ((uintptr_t)__builtin_return_address(0))
#define INTERPOSE_CALLER_CFA ((uintptr_t)__builtin_frame_address(0) + 16)

#endif
