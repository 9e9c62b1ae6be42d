/* SPDX-License-Identifier: MIT
 * arena.h: the shim's own allocator for its metadata (depot entries, hash
 * buckets, per-thread caches, guardians). Backed by sys_map, never by the
 * interposed malloc. Memory is zeroed. Thread-safe (arena lock). */
#ifndef GS_ARENA_H
#define GS_ARENA_H

#include "common.h"

/* returns: zeroed memory aligned to 16, or NULL. */
void *arena_alloc(size_t size);
/* `size` must be the size given to arena_alloc. */
void arena_free(void *p, size_t size);
/* Bytes obtained from the OS for arena use. */
size_t arena_bytes(void);

void arena_atfork_prepare(void);
void arena_atfork_parent(void);
void arena_atfork_child(void);

#endif
