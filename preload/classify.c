/* SPDX-License-Identifier: MIT
 * classify.c: direct / indirect / cycle / possible (classify.h).
 * Cycles: the unreached blocks left after flooding from every parentless
 * block form strongly connected components with no outside parent plus
 * what hangs below them. A DFS finishing order over them (Kosaraju's
 * first pass) lists a source component's member first in reverse order;
 * flooding from it claims its component and everything below, so each
 * leaked structure gets exactly one direct record.
 * locks: none. STW: yes. allocates: sys_map. */
#include "classify.h"

#include <errno.h>
#include <string.h>

#include "handle.h"
#include "sys.h"

enum {
    C_PARENT = 1,   /* some other unreached block points here */
    C_DONE = 2,     /* classified */
    C_VISITED = 4,  /* DFS scratch */
    C_DIRECT = 8,
    C_CYCLE = 16,
};

struct ctx {
    struct heap *h;
    uint8_t *cls;
    size_t *stack; /* flood stack, then DFS stack pairs */
    size_t n;
    size_t self;   /* block whose edges are being visited */
};

static inline bool unreached(const struct ctx *c, size_t j)
{
    return c->h->state[j] == BS_UNREACHED;
}

static void parent_cb(void *p, size_t j)
{
    struct ctx *c = p;
    if (j != c->self && unreached(c, j))
        c->cls[j] |= C_PARENT;
}

static void flood_cb(void *p, size_t j)
{
    struct ctx *c = p;
    if (unreached(c, j) && !(c->cls[j] & C_DONE)) {
        c->cls[j] |= C_DONE;
        c->stack[c->n++] = j;
    }
}

/* Claims everything reachable from root (already classified) as indirect. */
static void flood(struct ctx *c, size_t root)
{
    c->n = 0;
    c->stack[c->n++] = root;
    while (c->n) {
        size_t x = c->stack[--c->n];
        c->self = x;
        mark_for_each_edge(c->h, x, flood_cb, c);
    }
}

/* Next unreached, unclassified, unvisited block that word `*pos` onward of
 * block i points to, or -1. Advances *pos past the word returned. */
static long next_edge(const struct ctx *c, size_t i, uintptr_t *pos)
{
    const struct sblock *b = &c->h->blocks[i];
    uintptr_t hi = b->start + b->size;
    for (; *pos + 8 <= hi; *pos += 8) {
        uintptr_t v = *(const uintptr_t *)*pos;
        if (v < c->h->lo || v > c->h->hi)
            continue;
        long j = heap_find(c->h, v);
        if (j >= 0 && unreached(c, (size_t)j) && !(c->cls[j] & (C_DONE | C_VISITED))) {
            *pos += 8;
            return j;
        }
    }
    return -1;
}

/* Kosaraju pass 1 over unclassified blocks; order[] receives finish order. */
static size_t finish_order(struct ctx *c, size_t *order, uintptr_t *pos)
{
    size_t k = 0;
    for (size_t u = 0; u < c->h->n; u++) {
        if (!unreached(c, u) || (c->cls[u] & (C_DONE | C_VISITED)))
            continue;
        size_t sp = 0;
        c->cls[u] |= C_VISITED;
        c->stack[sp] = u;
        pos[sp++] = (c->h->blocks[u].start + 7) & ~(uintptr_t)7;
        while (sp) {
            size_t x = c->stack[sp - 1];
            long j = next_edge(c, x, &pos[sp - 1]);
            if (j >= 0) {
                c->cls[j] |= C_VISITED;
                c->stack[sp] = (size_t)j;
                pos[sp++] = (c->h->blocks[j].start + 7) & ~(uintptr_t)7;
            } else {
                order[k++] = x;
                sp--;
            }
        }
    }
    return k;
}

int classify_all(struct heap *h, struct scan_result *out)
{
    size_t n = h->n ? h->n : 1;
    struct ctx c = {h, NULL, NULL, 0, 0};
    c.cls = sys_map(n, false);
    c.stack = sys_map(n * sizeof(size_t), false);
    size_t *order = sys_map(n * sizeof(size_t), false);
    uintptr_t *pos = sys_map(n * sizeof(uintptr_t), false);
    int err = 0;
    if (!c.cls || !c.stack || !order || !pos) {
        err = ENOMEM;
        goto done;
    }
    for (size_t u = 0; u < h->n; u++) {
        if (unreached(&c, u)) {
            c.self = u;
            mark_for_each_edge(h, u, parent_cb, &c);
        }
    }
    for (size_t u = 0; u < h->n; u++) {
        if (unreached(&c, u) && !(c.cls[u] & (C_PARENT | C_DONE))) {
            c.cls[u] |= C_DONE | C_DIRECT;
            flood(&c, u);
        }
    }
    size_t k = finish_order(&c, order, pos);
    while (k--) {
        size_t u = order[k];
        if (!(c.cls[u] & C_DONE)) {
            c.cls[u] |= C_DONE | C_DIRECT | C_CYCLE;
            flood(&c, u);
        }
    }
    out->n_leaks = 0;
    out->reachable_bytes = out->reachable_blocks = 0;
    for (size_t u = 0; u < h->n; u++) {
        const struct sblock *b = &h->blocks[u];
        if (h->state[u] == BS_REACHED) {
            out->reachable_bytes += b->size;
            out->reachable_blocks++;
            continue;
        }
        uint8_t kind = h->state[u] == BS_POSSIBLE ? KIND_POSSIBLE
                       : (c.cls[u] & C_DIRECT)    ? KIND_DIRECT
                                                  : KIND_INDIRECT;
        out->leaks[out->n_leaks++] = (struct leak_block){
            b->start, b->size, b->stack, b->owner, kind, (c.cls[u] & C_CYCLE) != 0};
    }
done:
    sys_unmap(c.cls, n);
    sys_unmap(c.stack, n * sizeof(size_t));
    sys_unmap(order, n * sizeof(size_t));
    sys_unmap(pos, n * sizeof(uintptr_t));
    return err;
}
