/* SPDX-License-Identifier: MIT
 * handle.h: the handle table, one handle per live tracked block.
 *
 * Layout of a handle (16 bytes, a slot of an open-addressing table):
 *   w0: bits  0..43  (block address >> 4) XOR 0xfffffffffff  (hidden; 0 = empty slot)
 *       bits 44..51  flags (HF_*)
 *       bits 52..63  owner (ownership domain, 0 = none)
 *   w1: bits  0..39  requested size (clamped to 2^40-1)
 *       bits 40..63  stack id
 * Blocks are 16-byte aligned (glibc guarantees it on x86_64); a block that
 * is not is simply not tracked. The table is split into shards chosen by
 * address >> 26, so each glibc arena (64 MiB heaps) lands on its own shard
 * and two threads do not share a lock or a cache line on the fast path. */
#ifndef GS_HANDLE_H
#define GS_HANDLE_H

#include "depot.h"

enum handle_flag {
    HF_IGNORED = 1 << 0,     /* gs_ignore / gs_disable / __lsan_ignore_object: never reported */
    HF_ROOT = 1 << 1,        /* allocated by ld.so (dtv, dynamic TLS): a root, never reported */
    HF_FINALIZER = 1 << 2,   /* has a finalizer (guardian.c) */
    HF_GUARDED = 1 << 3,     /* registered with at least one guardian (guardian.c) */
    HF_UNREACHED = 1 << 4,   /* found unreachable by the last scan (reclaim, "new" leaks) */
    HF_SEEN = 1 << 5,        /* in the snapshot of an incremental scan: the same allocation
                              * since then (a new block at the address has it clear), so
                              * what that scan read of it still applies (cmark.h) */
};

#define HANDLE_MAX_OWNER 4095u
#define HANDLE_MAX_STACK 0xffffffu
#define HANDLE_MAX_SIZE ((1ull << 40) - 1)

struct handle {
    uintptr_t ptr;
    size_t size;
    stack_id stack;
    uint32_t flags;
    uint32_t owner;
};

/* Inserts a handle for a new block (replacing a stale one at that address).
 * returns: false when the table could not grow (the caller degrades).
 * locks: the block's shard. */
bool handle_insert(uintptr_t ptr, size_t size, stack_id stack, uint32_t flags, uint32_t owner);

/* Removes the handle of `ptr` into *out, and remembers the block as
 * recently freed by code at `free_pc` (double-free detection). returns:
 * false if `ptr` is not the start of a tracked block. locks: its shard. */
bool handle_remove(uintptr_t ptr, struct handle *out, uintptr_t free_pc);

/* Starts loading the table line that `ptr`'s handle would be in, so that
 * the miss overlaps other work. No lock, no effect on the table. */
void handle_prefetch(uintptr_t ptr);

/* A recently freed block (one slot per address hash per shard, so old
 * entries are overwritten; reallocation at the address clears it). */
struct freed_block {
    uintptr_t ptr, free_pc;
    size_t size;
    stack_id stack;
};
bool handle_freed_lookup(uintptr_t ptr, struct freed_block *out);
/* Drops `ptr` from the recently-freed memory if its shard lock is free
 * right now (an untracked block now lives there). Never waits. */
void handle_forget_freed_try(uintptr_t ptr);

/* Copies the handle of `ptr`. returns: false if not tracked. */
bool handle_lookup(uintptr_t ptr, struct handle *out);

/* Sets then clears flag bits, and sets the owner if `owner` is not
 * UINT32_MAX. returns: false if `ptr` is not tracked. */
bool handle_update(uintptr_t ptr, uint32_t set, uint32_t clear, uint32_t owner);

/* Takes (and releases) every shard lock, in index order: while held no
 * thread can insert or remove, so enumeration sees a frozen table. */
void handle_lock_all(void);
void handle_unlock_all(void);

/* pre: handle_lock_all held. */
size_t handle_count_locked(void);
/* Calls fn for every handle. pre: handle_lock_all held. STW-safe. */
void handle_for_each_locked(void (*fn)(const struct handle *h, void *ctx), void *ctx);
/* The same, one shard lock at a time (the world keeps running): a block
 * allocated or freed meanwhile may or may not be visited. */
void handle_for_each_shard(void (*fn)(const struct handle *h, void *ctx), void *ctx);
/* The same, setting HF_SEEN on each handle once fn has seen it. */
void handle_for_each_shard_seen(void (*fn)(const struct handle *h, void *ctx), void *ctx);
/* handle_lookup for a caller holding every shard lock (handle_lock_all). */
bool handle_lookup_locked(uintptr_t ptr, struct handle *out);
/* Sets/clears flag bits on a handle. pre: handle_lock_all held. STW-safe. */
void handle_update_locked(uintptr_t ptr, uint32_t set, uint32_t clear);

struct handle_totals {
    size_t live_blocks, live_bytes, total_allocs, total_frees, table_bytes;
};
/* Sums the shards' counters (racy but each counter is exact under its lock). */
void handle_totals(struct handle_totals *t);

void handle_atfork_prepare(void);
void handle_atfork_parent(void);
void handle_atfork_child(void);

#endif
