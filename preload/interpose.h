/* SPDX-License-Identifier: MIT
 * interpose.h: set-up of the malloc wrappers. */
#ifndef GS_INTERPOSE_H
#define GS_INTERPOSE_H

#include "common.h"

/* Resolves glibc's malloc_usable_size. pre: tls.in_shim > 0 (dlsym may allocate). */
void interpose_init(void);

/* Runs libc(a, b) and records the block of `size` bytes it returns (NULL
 * passes through). `entry` names frame 0, `ra0`/`cfa0` are the entry
 * point's return address and its caller's CFA. Preserves errno. */
void *interpose_alloc(void *(*libc)(size_t, size_t), size_t a, size_t b, size_t size,
                      uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

/* free() and operator delete: untrack, check a pointer the shim does not
 * know for misuse, hand the rest to glibc. */
void interpose_free(void *p, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

/* Frees a tracked block on the shim's behalf (reclaim, drain), filling it
 * with `poison` first. Works while tls.in_shim > 0. returns: its size, or 0
 * when `p` is not tracked (then nothing is freed). */
size_t interpose_free_tracked(void *p, int poison);

/* Removes the handles of blocks freed while a fork was in progress. */
void interpose_apply_deferred_frees(void);

#define INTERPOSE_CALLER_RA ((uintptr_t)__builtin_return_address(0))
#define INTERPOSE_CALLER_CFA ((uintptr_t)__builtin_frame_address(0) + 16)

#endif
