/* SPDX-License-Identifier: MIT
 * owners.c: the owner table (owners.h). Ids are dense and never reused;
 * names are copied into the arena. Counters are per owner, one cache line
 * each, so owners used by different threads do not share a line.
 * locks: `own.lock` for creation only. STW: no. allocates: arena. */
#include "owners.h"

#include <string.h>

#include "arena.h"
#include "lock.h"

struct owner {
    size_t live_blocks, live_bytes, total_allocs, total_frees;
    const char *name;
} GS_ALIGNED(GS_CACHE_LINE);

static struct {
    struct spinlock lock;
    uint32_t n; /* ids 1..n are in use */
    struct owner *table;
} own;

uint32_t owners_new(const char *name)
{
    size_t len = strnlen(name, 255);
    char *copy = arena_alloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, name, len);
    spin_lock(&own.lock);
    if (!own.table)
        own.table = arena_alloc((OWNERS_MAX + 1) * sizeof *own.table);
    uint32_t id = 0;
    if (own.table && own.n < OWNERS_MAX) {
        id = ++own.n;
        own.table[id].name = copy;
    }
    spin_unlock(&own.lock);
    if (!id)
        arena_free(copy, len + 1);
    return id;
}

bool owners_valid(uint32_t id) { return id >= 1 && id <= __atomic_load_n(&own.n, __ATOMIC_ACQUIRE); }

const char *owners_name(uint32_t id) { return owners_valid(id) ? own.table[id].name : NULL; }

void owners_on_alloc(uint32_t id, size_t size)
{
    if (!owners_valid(id))
        return;
    struct owner *o = &own.table[id];
    __atomic_add_fetch(&o->live_blocks, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&o->live_bytes, size, __ATOMIC_RELAXED);
    __atomic_add_fetch(&o->total_allocs, 1, __ATOMIC_RELAXED);
}

void owners_on_free(uint32_t id, size_t size)
{
    if (!owners_valid(id))
        return;
    struct owner *o = &own.table[id];
    __atomic_sub_fetch(&o->live_blocks, 1, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&o->live_bytes, size, __ATOMIC_RELAXED);
    __atomic_add_fetch(&o->total_frees, 1, __ATOMIC_RELAXED);
}

void owners_counts(uint32_t id, struct owner_counts *out)
{
    memset(out, 0, sizeof *out);
    if (!owners_valid(id))
        return;
    const struct owner *o = &own.table[id];
    out->live_blocks = __atomic_load_n(&o->live_blocks, __ATOMIC_RELAXED);
    out->live_bytes = __atomic_load_n(&o->live_bytes, __ATOMIC_RELAXED);
    out->total_allocs = __atomic_load_n(&o->total_allocs, __ATOMIC_RELAXED);
    out->total_frees = __atomic_load_n(&o->total_frees, __ATOMIC_RELAXED);
}

void owners_atfork_prepare(void) { spin_lock(&own.lock); }
void owners_atfork_parent(void) { spin_unlock(&own.lock); }
void owners_atfork_child(void) { spin_reset(&own.lock); }
