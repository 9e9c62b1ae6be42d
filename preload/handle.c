/* SPDX-License-Identifier: MIT
 * handle.c: the sharded handle table (layout in handle.h).
 * Each shard is a bucketed cuckoo table: buckets of 4 slots (one cache
 * line), and two buckets a key may live in. The first is chosen by the
 * block's page and its 64-byte line within it, so blocks allocated side
 * by side share a table line; the second by a hash of the whole address.
 * A key goes to its second bucket only when the first is full, and the
 * first bucket then says so (`spilled`), so a lookup or a free reads one
 * line almost always. A free just clears its slot. The table holds up to
 * 95% of its slots and grows by half (bucket counts are not powers of
 * two: a multiply maps a hash onto them), into a fresh sys_map, when
 * fuller or when a cuckoo path runs too long: 16-byte handles at 63-95%
 * load are 17-25 bytes a block, 20 on average.
 * locks: one hotlock (lock.h) per shard; shard structs are cache-line aligned.
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

#define BUCKET_SLOTS 4
#define MAX_KICKS 64

struct shard {
    struct hotlock lock;
    struct freed_slot *freed; /* FREED_SLOTS entries, mapped on first free */
    size_t buckets;         /* cap / BUCKET_SLOTS */
    size_t cap, count;      /* slots, used slots */
    struct slot *slots;     /* cap / BUCKET_SLOTS buckets */
    uint64_t *spilled;      /* bit b: bucket b's keys may have gone to their second bucket */
    size_t live_bytes, allocs, frees;
    unsigned kick;          /* rotates the slot a full bucket gives up */
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

/* A 64-bit hash onto [0, n): the high half of hash * n (Lemire). */
static inline size_t reduce(uint64_t hash, size_t n)
{
    return (size_t)(((unsigned __int128)hash * n) >> 64);
}

/* The first bucket: the page is hashed, its 64-byte line added, so a page
 * maps to a run of buckets and neighbouring blocks share one. */
static inline size_t first_bucket(const struct shard *s, uint64_t key)
{
    uint64_t page = key >> 8;
    size_t b = reduce(page * 0x9E3779B97F4A7C15ull, s->buckets) + ((key & 0xff) >> 2);
    return b < s->buckets ? b : b - s->buckets; /* at most 64 past the end: buckets >= 256 */
}

static inline size_t second_bucket(const struct shard *s, uint64_t key)
{
    return reduce(key * 0xff51afd7ed558ccdull, s->buckets);
}

static inline bool is_spilled(const struct shard *s, size_t b)
{
    return (s->spilled[b / 64] >> (b % 64)) & 1;
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

static struct slot *find_in(struct shard *s, size_t b, uint64_t key)
{
    struct slot *sl = &s->slots[b * BUCKET_SLOTS];
    for (unsigned i = 0; i < BUCKET_SLOTS; i++)
        if ((sl[i].w0 & PTR_MASK) == key && sl[i].w0)
            return &sl[i];
    return NULL;
}

/* Finds the slot of `key`, or NULL. pre: shard locked. */
static struct slot *find_locked(struct shard *s, uint64_t key)
{
    if (!s->slots)
        return NULL;
    size_t b = first_bucket(s, key);
    struct slot *sl = find_in(s, b, key);
    if (sl || !is_spilled(s, b))
        return sl;
    return find_in(s, second_bucket(s, key), key);
}

static struct slot *empty_in(struct shard *s, size_t b)
{
    struct slot *sl = &s->slots[b * BUCKET_SLOTS];
    for (unsigned i = 0; i < BUCKET_SLOTS; i++)
        if (!sl[i].w0)
            return &sl[i];
    return NULL;
}

/* Places a key that is not in the table: into an empty slot of either of
 * its buckets, else it takes a slot of one of them, and the handle thrown
 * out goes on to its other bucket (a random-walk cuckoo insertion).
 * returns: false when the walk ran too long (the table must grow; `v` is
 * then the handle left over, which may be another than the one given). */
static bool place_locked(struct shard *s, struct slot *v)
{
    size_t from = SIZE_MAX; /* the bucket the current handle was thrown out of */
    for (int kicks = 0; kicks < MAX_KICKS; kicks++) {
        uint64_t key = v->w0 & PTR_MASK;
        size_t b1 = first_bucket(s, key), b2 = second_bucket(s, key);
        struct slot *sl = empty_in(s, b1);
        if (!sl && (sl = empty_in(s, b2)))
            s->spilled[b1 / 64] |= 1ull << (b1 % 64);
        if (sl) {
            *sl = *v;
            return true;
        }
        size_t target = from == b1 ? b2 : from == b2 ? b1 : (s->kick & 4) ? b2 : b1;
        if (target == b2)
            s->spilled[b1 / 64] |= 1ull << (b1 % 64);
        struct slot *victim = &s->slots[target * BUCKET_SLOTS + (s->kick++ % BUCKET_SLOTS)];
        struct slot out = *victim;
        *victim = *v;
        *v = out;
        from = target;
    }
    return false;
}

/* Rehashes into `ncap` slots. returns: false (table unchanged) when out
 * of memory or when a cuckoo path ran too long. */
static bool rehash_locked(struct shard *s, size_t ncap)
{
    size_t nbuckets = ncap / BUCKET_SLOTS;
    size_t spill_bytes = (nbuckets + 63) / 64 * sizeof(uint64_t);
    struct slot *ns = sys_map_filled(ncap * sizeof(struct slot));
    uint64_t *nsp = sys_map(spill_bytes, false);
    if (!ns || !nsp) {
        sys_unmap(ns, ncap * sizeof(struct slot));
        sys_unmap(nsp, spill_bytes);
        return false;
    }
    struct shard old = *s;
    s->slots = ns;
    s->spilled = nsp;
    s->cap = ncap;
    s->buckets = nbuckets;
    bool ok = true;
    for (size_t i = 0; i < old.cap && ok; i++) {
        struct slot v = old.slots[i];
        if (v.w0)
            ok = place_locked(s, &v);
    }
    struct slot *drop = ok ? old.slots : ns;
    uint64_t *drop_spilled = ok ? old.spilled : nsp;
    size_t drop_cap = ok ? old.cap : ncap;
    if (!ok) {
        s->slots = old.slots;
        s->spilled = old.spilled;
        s->cap = old.cap;
        s->buckets = old.buckets;
    }
    sys_unmap(drop, drop_cap * sizeof(struct slot));
    sys_unmap(drop_spilled, (drop_cap / BUCKET_SLOTS + 63) / 64 * sizeof(uint64_t));
    return ok;
}

/* Grows by half; a rehash whose cuckoo path runs too long (not seen at
 * the new table's 63% load) retries at twice the size. */
static bool grow_locked(struct shard *s)
{
    if (!s->cap)
        return rehash_locked(s, MIN_CAP);
    size_t half = (s->cap + s->cap / 2 + BUCKET_SLOTS - 1) / BUCKET_SLOTS * BUCKET_SLOTS;
    return rehash_locked(s, half) || rehash_locked(s, 2 * s->cap);
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
    /* The recently-freed memory is not cleared here: a free of a tracked
     * block finds it in the table and never asks. Only an untracked block
     * at that address (handle_forget_freed_try) must clear it. */
    hot_lock(&s->lock);
    /* One pass over the first bucket finds a stale handle of this address
     * or the empty slot the new one goes to; only a spilled bucket makes
     * the second worth a look. */
    struct slot *sl = NULL, *empty = NULL;
    size_t b1 = s->slots ? first_bucket(s, key) : 0;
    if (s->slots) {
        struct slot *bk = &s->slots[b1 * BUCKET_SLOTS];
        for (unsigned i = 0; i < BUCKET_SLOTS; i++) {
            uint64_t w0 = bk[i].w0;
            if (!w0)
                empty = empty ? empty : &bk[i];
            else if ((w0 & PTR_MASK) == key)
                sl = &bk[i];
        }
        if (!sl && is_spilled(s, b1))
            sl = find_in(s, second_bucket(s, key), key);
    }
    if (sl) {
        /* A stale handle: the block was freed behind the shim's back (a free
         * made while the shim was re-entered). The new block replaces it. */
        s->live_bytes -= (size_t)(sl->w1 & HANDLE_MAX_SIZE);
        s->frees++; /* keeps allocs - frees == live */
        *sl = v;
    } else if (empty && GS_LIKELY((s->count + 1) * 20 <= s->cap * 19)) {
        *empty = v;
        s->count++;
    } else {
        if ((s->count + 1) * 20 > s->cap * 19 && !grow_locked(s)) {
            hot_unlock(&s->lock);
            return false;
        }
        /* A too long cuckoo path leaves some handle over: grow, place it. */
        while (!place_locked(s, &v)) {
            if (!grow_locked(s)) {
                hot_unlock(&s->lock);
                return false; /* the handle left over is lost; the shim degrades */
            }
        }
        s->count++;
    }
    s->live_bytes += GS_MIN(size, HANDLE_MAX_SIZE); /* what remove will subtract */
    s->allocs++;
    hot_unlock(&s->lock);
    return true;
}

static void delete_locked(struct shard *s, struct slot *sl)
{
    sl->w0 = 0;
    sl->w1 = 0;
    s->count--;
}

bool handle_remove(uintptr_t ptr, struct handle *out, uintptr_t free_pc)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    hot_lock(&s->lock);
    struct slot *sl = find_locked(s, key);
    if (!sl) {
        hot_unlock(&s->lock);
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
    hot_unlock(&s->lock);
    return true;
}

void handle_prefetch(uintptr_t ptr)
{
    /* Unlocked: a torn read during a growth only prefetches a wrong line. */
    const struct shard *s = shard_of(ptr);
    const struct slot *slots = s->slots;
    if (slots)
        __builtin_prefetch(&slots[first_bucket(s, key_of(ptr)) * BUCKET_SLOTS]);
}

bool handle_freed_lookup(uintptr_t ptr, struct freed_block *out)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    hot_lock(&s->lock);
    struct freed_slot *fs = freed_slot_of(s, key);
    bool hit = fs && fs->key == key;
    if (hit)
        *out = (struct freed_block){ptr, fs->free_pc, fs->size, fs->stack};
    hot_unlock(&s->lock);
    return hit;
}

void handle_forget_freed_try(uintptr_t ptr)
{
    struct shard *s = shard_of(ptr);
    uint64_t key = key_of(ptr);
    if (!s->freed || !hot_trylock(&s->lock))
        return;
    struct freed_slot *fs = freed_slot_of(s, key);
    if (fs && fs->key == key)
        fs->key = 0;
    hot_unlock(&s->lock);
}

bool handle_lookup(uintptr_t ptr, struct handle *out)
{
    if (ptr & 15)
        return false;
    struct shard *s = shard_of(ptr);
    hot_lock(&s->lock);
    struct slot *sl = find_locked(s, key_of(ptr));
    if (sl)
        unpack(sl, out);
    hot_unlock(&s->lock);
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
    hot_lock(&s->lock);
    struct slot *sl = find_locked(s, key_of(ptr));
    if (sl)
        update_slot(sl, set, clear, owner);
    hot_unlock(&s->lock);
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
        hot_lock(&table.shards[i].lock);
}

void handle_unlock_all(void)
{
    for (int i = NSHARDS - 1; i >= 0; i--)
        hot_unlock(&table.shards[i].lock);
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
        hot_reset(&table.shards[i].lock);
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

/* One shard lock at a time; `seen`: sets HF_SEEN on every handle visited
 * (after fn saw its flags as they were). */
static void for_each_shard(void (*fn)(const struct handle *h, void *ctx), void *ctx, bool seen)
{
    for (int i = 0; i < NSHARDS; i++) {
        struct shard *s = &table.shards[i];
        hot_lock(&s->lock);
        for (size_t j = 0; j < s->cap; j++) {
            if (s->slots[j].w0) {
                struct handle h;
                unpack(&s->slots[j], &h);
                fn(&h, ctx);
                if (seen)
                    s->slots[j].w0 |= (uint64_t)HF_SEEN << 44;
            }
        }
        hot_unlock(&s->lock);
    }
}

void handle_for_each_shard(void (*fn)(const struct handle *h, void *ctx), void *ctx)
{
    for_each_shard(fn, ctx, false);
}

void handle_for_each_shard_seen(void (*fn)(const struct handle *h, void *ctx), void *ctx)
{
    for_each_shard(fn, ctx, true);
}
