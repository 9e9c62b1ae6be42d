/* SPDX-License-Identifier: MIT
 * arena.c: metadata allocator. Small requests come from power-of-two size
 * classes (16 B .. 64 KiB) carved out of 1 MiB chunks, with a free list
 * per class; larger ones are their own sys_map mapping. Chunks are never
 * returned: the shim's metadata is bounded by the number of distinct
 * stacks and threads, not by the number of allocations.
 * locks: `arena.lock`. STW: no. allocates: from the OS only. */
#include "arena.h"

#include <string.h>

#include "lock.h"
#include "sys.h"

#define CLASS_MIN_SHIFT 4
#define CLASS_MAX_SHIFT 16
#define NCLASSES (CLASS_MAX_SHIFT - CLASS_MIN_SHIFT + 1)
#define CHUNK_SIZE (1u << 20)

struct free_node {
    struct free_node *next;
};

static struct {
    struct spinlock lock;
    struct free_node *free[NCLASSES];
    char *bump, *bump_end;
    size_t os_bytes;
} arena;

static int size_class(size_t size)
{
    int shift = CLASS_MIN_SHIFT;
    while (((size_t)1 << shift) < size)
        shift++;
    return shift - CLASS_MIN_SHIFT;
}

void *arena_alloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > ((size_t)1 << CLASS_MAX_SHIFT)) {
        void *p = sys_map(size, false);
        if (p)
            __atomic_add_fetch(&arena.os_bytes, size, __ATOMIC_RELAXED);
        return p;
    }
    int c = size_class(size);
    size_t csize = (size_t)1 << (c + CLASS_MIN_SHIFT);
    spin_lock(&arena.lock);
    struct free_node *n = arena.free[c];
    if (n) {
        arena.free[c] = n->next;
        spin_unlock(&arena.lock);
        memset(n, 0, csize);
        return n;
    }
    if ((size_t)(arena.bump_end - arena.bump) < csize) {
        char *chunk = sys_map(CHUNK_SIZE, false);
        if (!chunk) {
            spin_unlock(&arena.lock);
            return NULL;
        }
        arena.os_bytes += CHUNK_SIZE;
        /* The tail of the old chunk is abandoned: at most one class size. */
        arena.bump = chunk;
        arena.bump_end = chunk + CHUNK_SIZE;
    }
    void *p = arena.bump;
    arena.bump += csize;
    spin_unlock(&arena.lock);
    return p; /* fresh chunk memory is already zero */
}

void arena_free(void *p, size_t size)
{
    if (!p)
        return;
    if (size == 0)
        size = 1;
    if (size > ((size_t)1 << CLASS_MAX_SHIFT)) {
        sys_unmap(p, size);
        __atomic_sub_fetch(&arena.os_bytes, size, __ATOMIC_RELAXED);
        return;
    }
    int c = size_class(size);
    struct free_node *n = p;
    spin_lock(&arena.lock);
    n->next = arena.free[c];
    arena.free[c] = n;
    spin_unlock(&arena.lock);
}

size_t arena_bytes(void) { return __atomic_load_n(&arena.os_bytes, __ATOMIC_RELAXED); }

void arena_atfork_prepare(void) { spin_lock(&arena.lock); }
void arena_atfork_parent(void) { spin_unlock(&arena.lock); }
void arena_atfork_child(void) { spin_reset(&arena.lock); }
