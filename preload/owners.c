/* SPDX-License-Identifier: MIT
 * owners.c: the owner table (owners.h). Ids are dense and never reused;
 * names are copied into the arena (at most 255 bytes, NUL-terminated) and
 * never freed, so a name pointer handed out stays valid. Counters are per
 * owner, one cache line each, so owners used by different threads do not
 * share a line. Leak counts are a tally of the handle table's
 * HF_UNREACHED flags (what the last scan found unreachable), redone at
 * most once per scan, by the first caller that wants them.
 * locks: `own.lock` for creation only (a leaf); the tally takes the handle
 * shard locks one at a time and no lock of its own. STW: no. allocates:
 * arena; sys_map for the tally. */
#include "owners.h"

#include <string.h>

#include "arena.h"
#include "handle.h"
#include "lock.h"
#include "sys.h"

struct owner {
    size_t live_blocks, live_bytes, total_allocs, total_frees;
    size_t leaked_blocks, leaked_bytes; /* of the tally (owners_leaks) */
    const char *name;
} GS_ALIGNED(GS_CACHE_LINE);

static struct {
    struct spinlock lock;
    uint32_t n; /* ids 1..n are in use; published after the name */
    struct owner *table;
    size_t tally_scan; /* the scan the leak counts are of (0 = none) */
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
        id = own.n + 1;
        own.table[id].name = copy;
        /* Readers check the id against n without the lock. */
        __atomic_store_n(&own.n, id, __ATOMIC_RELEASE);
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

struct tally {
    size_t blocks, bytes;
};

static void tally_cb(const struct handle *h, void *arg)
{
    struct tally *t = arg;
    if ((h->flags & HF_UNREACHED) && h->owner && h->owner <= OWNERS_MAX) {
        t[h->owner].blocks++;
        t[h->owner].bytes += h->size;
    }
}

/* One pass over the handle table for every owner. Two callers at once may
 * both count and both publish: the same numbers, give or take a block
 * freed in between, which stats can live with. */
static void tally_leaks(size_t scan_no)
{
    size_t bytes = (OWNERS_MAX + 1) * sizeof(struct tally);
    struct tally *t = sys_map(bytes, false);
    if (!t)
        return; /* the previous counts stay */
    handle_for_each_shard(tally_cb, t);
    uint32_t n = __atomic_load_n(&own.n, __ATOMIC_ACQUIRE);
    for (uint32_t id = 1; id <= n; id++) {
        __atomic_store_n(&own.table[id].leaked_blocks, t[id].blocks, __ATOMIC_RELAXED);
        __atomic_store_n(&own.table[id].leaked_bytes, t[id].bytes, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&own.tally_scan, scan_no, __ATOMIC_RELEASE);
    sys_unmap(t, bytes);
}

void owners_leaks(uint32_t id, size_t scan_no, size_t *blocks, size_t *bytes)
{
    *blocks = *bytes = 0;
    if (!owners_valid(id))
        return;
    if (scan_no && __atomic_load_n(&own.tally_scan, __ATOMIC_ACQUIRE) != scan_no)
        tally_leaks(scan_no);
    *blocks = __atomic_load_n(&own.table[id].leaked_blocks, __ATOMIC_RELAXED);
    *bytes = __atomic_load_n(&own.table[id].leaked_bytes, __ATOMIC_RELAXED);
}

void owners_atfork_prepare(void) { spin_lock(&own.lock); }
void owners_atfork_parent(void) { spin_unlock(&own.lock); }
void owners_atfork_child(void) { spin_reset(&own.lock); }
