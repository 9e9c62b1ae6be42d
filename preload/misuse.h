/* SPDX-License-Identifier: MIT
 * misuse.h: heap misuse by the program: freeing a block twice, freeing
 * memory no allocator handed out (a global, a stack slot), freeing an
 * interior pointer, reallocating a freed block. Each is reported once per
 * call site with the stacks that matter (where it was misused, allocated,
 * freed), and the bad pointer never reaches glibc, so the program goes on
 * (or aborts with abort_on_error=1). A pointer the shim merely does not
 * know (allocated before it started, or while it was re-entered) still
 * goes to glibc: only provable misuse is caught. */
#ifndef GS_MISUSE_H
#define GS_MISUSE_H

#include "depot.h"

enum misuse_kind { MISUSE_DOUBLE_FREE = 0, MISUSE_INVALID_FREE, MISUSE_INTERIOR_FREE,
                   MISUSE_REALLOC_FREED, MISUSE_COUNT };

struct misuse {
    enum misuse_kind kind;
    uintptr_t addr;
    stack_id where;        /* the misusing call */
    stack_id alloc;        /* 0 when unknown */
    uintptr_t free_pc;     /* the earlier free's caller, 0 when unknown */
    uintptr_t block;       /* the block involved (interior: its start) */
    size_t size;
};

/* Called for a pointer that is not the start of a tracked block, from
 * free/delete (`is_realloc` false) or realloc, with the entry point's
 * frame. pre: the shim is ready; tls.in_shim > 0 (the caller's).
 * returns: true when `p` was misuse (reported): do not pass it to glibc. */
bool misuse_check(void *p, bool is_realloc, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

#endif
