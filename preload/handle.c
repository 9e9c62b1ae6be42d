/* SPDX-License-Identifier: MIT
 * handle.c: the sharded handle table (layout in handle.h).
 * Each shard is an open-addressing table with linear probing and
 * backward-shift deletion (no tombstones, so probe lengths stay short
 * under churn), grown x2 past 80% load into a fresh sys_map mapping.
 * locks: one spin lock per shard; shard structs are cache-line aligned.
 * STW: enumeration only (handle_for_each_locked). allocates: sys_map. */
#include "handle.h"

#include <errno.h>
#include <string.h>

#include "lock.h"
#include "sys.h"

#define NSHARDS 64
#define SHARD_SHIFT 26
#define MIN_CAP 1024
#define PTR_MASK 0xfffffffffffull /* 44 bits */

struct slot {
    uint64_t w0, w1;
};

#define FREED_SLOTS 1024

struct freed_slot {
    uint64_t key;        /* key_of(ptr), 0 = empty */
    uintptr_t free_pc;
    uint32_t size;       /* clamped */
    stack_id stack;
};

struct shard {
    struct spinlock lock;
    struct freed_slot *freed; /* FREED_SLOTS entries, mapped on first free */
    uint32_t shift;         /* 64 - log2(cap) */
    size_t cap, count;      /* slots, used slots */
    struct slot *slots;
    size_t live_bytes, allocs, frees;
} GS_ALIGNED(GS_CACHE_LINE);

static struct {
    struct shard shards[NSHARDS];
} table;

static inline struct shard *shard_of(uintptr_t ptr)
{
    return &table.shards[(ptr >> SHARD_SHIFT) & (NSHARDS - 1)];
}

static inline uint64_t key_of(uintptr_t ptr) { return (ptr >> 4) ^ PTR_MASK; }
static inline uintptr_t ptr_of(uint64_t w0) { return ((w0 & PTR_MASK) ^ PTR_MASK) << 4; }

/* Blocks of one 4 KiB page land in one run of slots (the page is hashed,
 * the offset within it is added): allocation and the scan's enumeration
 * walk memory in order, so neighbours share cache lines in the table too. */
static inline size_t home_of(const struct shard *s, uint64_t key)
{
    uint64_t page = key >> 8;
    return (size_t)(((page * 0x9E3779B97F4A7C15ull) >> s->shift) + (key & 0xff)) &
           (s->cap - 1);
}

static inline uint64_t pack_w0(uintptr_t ptr, uint32_t flags, uint32_t owner)
{
    return key_of(ptr) | ((uint64_t)(flags & 0xff) << 44) | ((uint64_t)(owner & 0xfff) << 52);
}

static inline uint64_t pack_w1(size_t size, stack_id stack)
{
    if (size > HANDLE_MAX_SIZE)
        size = HANDLE_MAX_SIZE;
    return (uint64_t)size | ((uint64_t)(stack & HANDLE_MAX_STACK) << 40);
}

static void unpack(const struct slot *sl, struct handle *h)
{
    h->ptr = ptr_of(sl->w0);
    h->flags = (uint32_t)(sl->w0 >> 44) & 0xff;
    h->owner = (uint32_t)(sl->w0 >> 52);
    h->size = (size_t)(sl->w1 & HANDLE_MAX_SIZE);
    h->stack = (stack_id)(sl->w1 >> 40);
}

/* Finds the slot of `key`, or NULL. pre: shard locked. */
static struct slot *find_locked(struct shard *s, uint64_t key)
{
    if (!s->slots)
        return NULL;
    size_t mask = s->cap - 1;
    for (size_t i = home_of(s, key);; i = (i + 1) & mask) {
        struct slot *sl = &s->slots[i];
        if (sl->w0 == 0)
            return NULL;
        if ((sl->w0 & PTR_MASK) == key)
            return sl;
    }
}

static void place_locked(struct shard *s, struct slot v)
{
    size_t mask = s->cap - 1;
    size_t i = home_of(s, v.w0 & PTR_MASK);
    while (s->slots[i].w0 != 0)
        i = (i + 1) & mask;
    s->slots[i] = v;
}

static bool grow_locked(struct shard *s)
{
    size_t ncap = s->cap ? s->cap * 2 : MIN_CAP;
    struct slot *ns = sys_map(ncap * sizeof(struct slot), false);
    if (!ns)
        return false;
    struct slot *old = s->slots;
    size_t ocap = s->cap;
    s->slots = ns;
    s->cap = ncap;
    s->shift = 64 - (uint32_t)__builtin_ctzll(ncap);
    for (size_t i = 0; i < ocap; i++)
        if (old[i].w0)
            place_locked(s, old[i]);
    sys_unmap(old, ocap * sizeof(struct slot));
    return true;
}

static inline struct freed_slot *freed_slot_of(struct shard *s, uint64_t key)
{
    return s->freed ? &s->freed[(key * 0x9E3779B97F4A7C15ull) >> 54] : NULL;
}

bool handle_insert(uintptr_t ptr, size_t size, stack_id stack, uint32_t flags, uint32_t owner)
{
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    struct slot v = {pack_w0(ptr, flags, owner), pack_w1(size, stack)};
    spin_lock(&s->lock);
    struct freed_slot *fs = freed_slot_of(s, key);
    if (fs && fs->key == key)
        fs->key = 0; /* the address is live again: freeing it is no double free */
    struct slot *sl = find_locked(s, key);
    if (sl) {
        /* A stale handle: the block was freed behind the shim's back (a free
         * made while the shim was re-entered). The new block replaces it. */
        s->live_bytes -= (size_t)(sl->w1 & HANDLE_MAX_SIZE);
        s->frees++; /* keeps allocs - frees == live */
        *sl = v;
    } else {
        if ((s->count + 1) * 5 > s->cap * 4 && !grow_locked(s)) {
            spin_unlock(&s->lock);
            return false;
        }
        place_locked(s, v);
        s->count++;
    }
    s->live_bytes += GS_MIN(size, HANDLE_MAX_SIZE); /* what remove will subtract */
    s->allocs++;
    spin_unlock(&s->lock);
    return true;
}

/* Backward-shift deletion: pull later members of the probe run into the hole. */
static void delete_locked(struct shard *s, struct slot *sl)
{
    size_t mask = s->cap - 1;
    size_t hole = (size_t)(sl - s->slots);
    size_t i = hole;
    for (;;) {
        i = (i + 1) & mask;
        struct slot *cur = &s->slots[i];
        if (cur->w0 == 0)
            break;
        size_t home = home_of(s, cur->w0 & PTR_MASK);
        /* cur may move to the hole iff its home is not in (hole, i]. */
        bool stays = (hole <= i) ? (hole < home && home <= i) : (hole < home || home <= i);
        if (!stays) {
            s->slots[hole] = *cur;
            hole = i;
        }
    }
    s->slots[hole].w0 = 0;
    s->slots[hole].w1 = 0;
    s->count--;
}

bool handle_remove(uintptr_t ptr, struct handle *out, uintptr_t free_pc)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    spin_lock(&s->lock);
    struct slot *sl = find_locked(s, key);
    if (!sl) {
        spin_unlock(&s->lock);
        return false;
    }
    unpack(sl, out);
    if (GS_UNLIKELY(!s->freed))
        s->freed = sys_map(FREED_SLOTS * sizeof *s->freed, false);
    struct freed_slot *fs = freed_slot_of(s, key);
    if (fs)
        *fs = (struct freed_slot){key, free_pc, (uint32_t)GS_MIN(out->size, UINT32_MAX),
                                  out->stack};
    s->live_bytes -= out->size;
    s->frees++;
    delete_locked(s, sl);
    spin_unlock(&s->lock);
    return true;
}

bool handle_freed_lookup(uintptr_t ptr, struct freed_block *out)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    spin_lock(&s->lock);
    struct freed_slot *fs = freed_slot_of(s, key);
    bool hit = fs && fs->key == key;
    if (hit)
        *out = (struct freed_block){ptr, fs->free_pc, fs->size, fs->stack};
    spin_unlock(&s->lock);
    return hit;
}

void handle_forget_freed_try(uintptr_t ptr)
{
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    if (!s->freed || !spin_trylock(&s->lock))
        return;
    struct freed_slot *fs = freed_slot_of(s, key);
    if (fs && fs->key == key)
        fs->key = 0;
    spin_unlock(&s->lock);
}

bool handle_lookup(uintptr_t ptr, struct handle *out)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    spin_lock(&s->lock);
    struct slot *sl = find_locked(s, key_of(ptr));
    if (sl)
        unpack(sl, out);
    spin_unlock(&s->lock);
    return sl != NULL;
}

static void update_slot(struct slot *sl, uint32_t set, uint32_t clear, uint32_t owner)
{
    struct handle h;
    unpack(sl, &h);
    h.flags = (h.flags | set) & ~clear;
    if (owner != UINT32_MAX)
        h.owner = owner;
    sl->w0 = pack_w0(h.ptr, h.flags, h.owner);
}

bool handle_update(uintptr_t ptr, uint32_t set, uint32_t clear, uint32_t owner)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    spin_lock(&s->lock);
    struct slot *sl = find_locked(s, key_of(ptr));
    if (sl)
        update_slot(sl, set, clear, owner);
    spin_unlock(&s->lock);
    return sl != NULL;
}

void handle_update_locked(uintptr_t ptr, uint32_t set, uint32_t clear)
{
    struct slot *sl = find_locked(shard_of(ptr), key_of(ptr));
    if (sl)
        update_slot(sl, set, clear, UINT32_MAX);
}

void handle_lock_all(void)
{
    for (int i = 0; i < NSHARDS; i++)
        spin_lock(&table.shards[i].lock);
}

void handle_unlock_all(void)
{
    for (int i = NSHARDS - 1; i >= 0; i--)
        spin_unlock(&table.shards[i].lock);
}

size_t handle_count_locked(void)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++)
        n += table.shards[i].count;
    return n;
}

void handle_for_each_locked(void (*fn)(const struct handle *h, void *ctx), void *ctx)
{
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &table.shards[i];
        for (size_t j = 0; j < s->cap; j++) {
            if (s->slots[j].w0) {
                struct handle h;
                unpack(&s->slots[j], &h);
                fn(&h, ctx);
            }
        }
    }
}

void handle_totals(struct handle_totals *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &table.shards[i];
        t->live_blocks += s->count;
        t->live_bytes += s->live_bytes;
        t->total_allocs += s->allocs;
        t->total_frees += s->frees;
        t->table_bytes += s->cap * sizeof(struct slot);
    }
}

void handle_atfork_prepare(void) { handle_lock_all(); }
void handle_atfork_parent(void) { handle_unlock_all(); }
void handle_atfork_child(void)
{
    for (int i = 0; i < NSHARDS; i++)
        spin_reset(&table.shards[i].lock);
}

bool handle_lookup_locked(uintptr_t ptr, struct handle *out)
{
    if (ptr & 15)
        return false;
    struct slot *sl = find_locked(shard_of(ptr), key_of(ptr));
    if (sl)
        unpack(sl, out);
    return sl != NULL;
}

void handle_for_each_shard(void (*fn)(const struct handle *h, void *ctx), void *ctx)
{
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &table.shards[i];
        spin_lock(&s->lock);
        for (size_t j = 0; j < s->cap; j++) {
            if (s->slots[j].w0) {
                struct handle h;
                unpack(&s->slots[j], &h);
                fn(&h, ctx);
            }
        }
        spin_unlock(&s->lock);
    }
}
