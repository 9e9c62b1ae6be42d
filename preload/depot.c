/* SPDX-License-Identifier: MIT
 * depot.c: hash-consed allocation stacks. A stack is stored once, keyed by
 * its PC array in a uthash table (buckets from the shim's arena, never the
 * interposed malloc), and named by a dense 32-bit id so a handle needs
 * only 24 bits for it. Ids index a two-level directory that readers use
 * without the lock: an entry is fully written before its pointer is
 * published with a release store, and never changes afterwards.
 * locks: `depot.lock` for insertion; never held while calling modules.c.
 * STW: depot_get only. allocates: arena. */
#include "depot.h"

#include <string.h>

#include "arena.h"
#include "handle.h"
#include "lock.h"
#include "modules.h"

#define uthash_malloc(sz) arena_alloc(sz)
#define uthash_free(p, sz) arena_free((p), (sz))
#define uthash_nonfatal_oom(e) depot.oom = true
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#define DIR_CHUNK 65536u
#define DIR_CHUNKS ((HANDLE_MAX_STACK + 1) / DIR_CHUNK)

/* One allocation: the entry, then n PCs, n slot offsets, n module indices. */
struct depot_entry {
    struct depot_stack st;
    UT_hash_handle hh;
    int32_t *slot_store;
    uintptr_t pcs[];
};

static struct {
    struct spinlock lock;
    struct depot_entry *head;
    stack_id next_id;
    bool oom;
    size_t bytes;
    struct depot_entry **dir[DIR_CHUNKS];
} depot;

static struct depot_entry *entry_of(stack_id id)
{
    struct depot_entry **chunk = __atomic_load_n(&depot.dir[id / DIR_CHUNK], __ATOMIC_ACQUIRE);
    if (!chunk)
        return NULL;
    return __atomic_load_n(&chunk[id % DIR_CHUNK], __ATOMIC_ACQUIRE);
}

static bool publish_locked(struct depot_entry *e)
{
    unsigned c = e->st.id / DIR_CHUNK;
    if (!depot.dir[c]) {
        struct depot_entry **chunk = arena_alloc(DIR_CHUNK * sizeof *chunk);
        if (!chunk)
            return false;
        depot.bytes += DIR_CHUNK * sizeof *chunk;
        __atomic_store_n(&depot.dir[c], chunk, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&depot.dir[c][e->st.id % DIR_CHUNK], e, __ATOMIC_RELEASE);
    return true;
}

/* Publishes the slot layout of `e` if it has none. pre: depot lock. */
static void set_slots_locked(struct depot_entry *e, const int32_t *slots)
{
    if (!slots || atomic_load_explicit(&e->st.slots, memory_order_relaxed))
        return;
    memcpy(e->slot_store, slots, e->st.n * sizeof(int32_t));
    e->st.max_slot = 0;
    for (unsigned k = 1; k < e->st.n; k++)
        e->st.max_slot = GS_MAX(e->st.max_slot, slots[k]);
    atomic_store_explicit(&e->st.slots, e->slot_store, memory_order_release);
}

stack_id depot_put_slots(const uintptr_t *pcs, unsigned n, const int32_t *slots)
{
    if (n == 0)
        return 0;
    if (n > DEPOT_MAX_FRAMES)
        n = DEPOT_MAX_FRAMES;
    size_t keylen = n * sizeof(uintptr_t);
    struct depot_entry *e;
    spin_lock(&depot.lock);
    HASH_FIND(hh, depot.head, pcs, keylen, e);
    stack_id found = e ? e->st.id : 0;
    if (e)
        set_slots_locked(e, slots);
    spin_unlock(&depot.lock);
    if (found)
        return found;
    /* Resolve modules before taking the lock again: modules_find may take the
     * loader lock, which a thread in dlopen holds while it calls malloc. */
    uint16_t mods_now[DEPOT_MAX_FRAMES];
    modules_refresh();
    for (unsigned i = 0; i < n; i++)
        mods_now[i] = modules_find(pcs[i]);
    spin_lock(&depot.lock);
    HASH_FIND(hh, depot.head, pcs, keylen, e);
    if (e) {
        stack_id id = e->st.id;
        set_slots_locked(e, slots);
        spin_unlock(&depot.lock);
        return id;
    }
    if (depot.next_id >= HANDLE_MAX_STACK) {
        spin_unlock(&depot.lock);
        return 0;
    }
    size_t sz = sizeof *e + keylen + n * sizeof(int32_t) + n * sizeof(uint16_t);
    e = arena_alloc(sz);
    if (!e) {
        spin_unlock(&depot.lock);
        return 0;
    }
    memcpy(e->pcs, pcs, keylen);
    e->slot_store = (int32_t *)(e->pcs + n);
    uint16_t *mods = (uint16_t *)(e->slot_store + n);
    memcpy(mods, mods_now, n * sizeof(uint16_t));
    e->st = (struct depot_stack){n, ++depot.next_id, e->pcs, mods, NULL, 0};
    set_slots_locked(e, slots);
    depot.oom = false;
    HASH_ADD_KEYPTR(hh, depot.head, e->pcs, keylen, e);
    if (depot.oom || !publish_locked(e)) {
        if (!depot.oom)
            HASH_DELETE(hh, depot.head, e);
        depot.next_id--;
        spin_unlock(&depot.lock);
        arena_free(e, sz);
        return 0;
    }
    depot.bytes += sz;
    stack_id id = e->st.id;
    spin_unlock(&depot.lock);
    return id;
}

const struct depot_stack *depot_stack_of(stack_id id)
{
    struct depot_entry *e = id ? entry_of(id) : NULL;
    return e ? &e->st : NULL;
}

unsigned depot_get(stack_id id, const uintptr_t **pcs, const uint16_t **mods)
{
    struct depot_entry *e = id ? entry_of(id) : NULL;
    if (!e) {
        *pcs = NULL;
        *mods = NULL;
        return 0;
    }
    *pcs = e->st.pcs;
    *mods = e->st.mods;
    return e->st.n;
}

void depot_usage(size_t *stacks, size_t *bytes)
{
    *stacks = __atomic_load_n(&depot.next_id, __ATOMIC_RELAXED);
    *bytes = __atomic_load_n(&depot.bytes, __ATOMIC_RELAXED);
}

void depot_atfork_prepare(void) { spin_lock(&depot.lock); }
void depot_atfork_parent(void) { spin_unlock(&depot.lock); }
void depot_atfork_child(void) { spin_reset(&depot.lock); }
