/* SPDX-License-Identifier: MIT
 * depot.h: the stack depot. Every distinct allocation stack is stored once
 * and named by a 32-bit `stack_id` (0 = no stack). Each frame keeps its PC
 * and the index of the module (see modules.h) that held the PC when the
 * stack was captured, so a frame stays attributable after dlclose. */
#ifndef GS_DEPOT_H
#define GS_DEPOT_H

#include <stdatomic.h>

#include "common.h"

typedef uint32_t stack_id;

#define DEPOT_MAX_FRAMES 64

/* A stored stack, immutable once published except `slots`, which goes
 * once from NULL to its final value. */
struct depot_stack {
    uint32_t n;
    stack_id id;
    const uintptr_t *pcs;  /* n PCs; pcs[0] is the shim entry point */
    const uint16_t *mods;  /* module index of each PC */
    /* Where each return address lies relative to the caller's CFA at the
     * entry point (unwind.c): pcs[k] was read from cfa0 + slots[k], k >= 1;
     * NULL when the stack crosses a frame of variable size. */
    _Atomic(const int32_t *) slots;
    int32_t max_slot; /* the largest of `slots`, set before `slots` is published */
};

/* Stores the stack (`pcs[0..n)`) if it is new; returns its id (never 0
 * unless the depot could not grow, in which case 0 is returned). `slots`
 * (n entries, may be NULL) is the layout to publish if none is yet.
 * locks: depot lock. May call dl_iterate_phdr (through modules_find) for a
 * new stack. Not async-signal-safe. */
stack_id depot_put_slots(const uintptr_t *pcs, unsigned n, const int32_t *slots);
static inline stack_id depot_put(const uintptr_t *pcs, unsigned n)
{
    return depot_put_slots(pcs, n, NULL);
}

/* The stack named `id`, or NULL. locks: none. */
const struct depot_stack *depot_stack_of(stack_id id);

/* The frames of stack `id`: returns the frame count and points `*pcs` and
 * `*mods` at arrays that stay valid for the life of the process.
 * locks: none (entries are immutable once published). */
unsigned depot_get(stack_id id, const uintptr_t **pcs, const uint16_t **mods);

/* Number of distinct stacks stored and the bytes the depot uses. */
void depot_usage(size_t *stacks, size_t *bytes);

void depot_atfork_prepare(void);
void depot_atfork_parent(void);
void depot_atfork_child(void);

#endif
