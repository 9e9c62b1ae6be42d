/* SPDX-License-Identifier: MIT
 * leakhist.c: reported leak groups (leakhist.h), a uthash table in the
 * shim's arena; bounded by the number of distinct leaking stacks.
 * locks: none (callers serialise). STW: no. allocates: arena. */
#include "leakhist.h"

#include "arena.h"

#define uthash_malloc(sz) arena_alloc(sz)
#define uthash_free(p, sz) arena_free((p), (sz))
#define uthash_nonfatal_oom(e) hist.oom = true
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

struct hist_key {
    uint32_t stack, owner;
    uint32_t kind;
};

struct hist_entry {
    struct hist_key key;
    uint64_t bytes, blocks;
    UT_hash_handle hh;
};

static struct {
    struct hist_entry *table;
    bool oom;
} hist;

enum leak_news leakhist_note(uint8_t kind, stack_id stack, uint32_t owner, uint64_t bytes,
                             uint64_t blocks)
{
    struct hist_key k = {stack, owner, kind};
    struct hist_entry *e;
    HASH_FIND(hh, hist.table, &k, sizeof k, e);
    if (e) {
        if (bytes <= e->bytes && blocks <= e->blocks)
            return NEWS_SAME;
        e->bytes = bytes;
        e->blocks = blocks;
        return NEWS_GROWN;
    }
    e = arena_alloc(sizeof *e);
    if (e) {
        e->key = k;
        e->bytes = bytes;
        e->blocks = blocks;
        hist.oom = false;
        HASH_ADD(hh, hist.table, key, sizeof e->key, e);
        if (hist.oom)
            arena_free(e, sizeof *e);
    }
    return NEWS_NEW;
}
