/* SPDX-License-Identifier: MIT
 * misuse.c: detection of heap misuse (misuse.h).
 * locks: handle shards (lookups), check.c's lock for the report.
 * STW: no. allocates: none itself (the report symbolises). */
#define _GNU_SOURCE
#include "misuse.h"

#include <dlfcn.h>
#include <stdlib.h>

#include "check.h"
#include "handle.h"
#include "options.h"
#include "tstate.h"
#include "unwind.h"

#define INTERIOR_PROBE_BYTES 4096
#define STACK_GUESS_BYTES (8ul << 20)
#define SEEN_SLOTS 256

static struct {
    uint64_t seen[SEEN_SLOTS]; /* (kind, misuse stack) already reported */
} mis;

/* True the first time (kind, stack) is seen: each misuse is reported once. */
static bool first_time(enum misuse_kind kind, stack_id where)
{
    uint64_t key = ((uint64_t)where << 8) | (uint64_t)kind | (1ull << 63);
    unsigned i = (unsigned)((key * 0x9E3779B97F4A7C15ull) >> 56);
    for (unsigned k = 0; k < SEEN_SLOTS; k++) {
        uint64_t *slot = &mis.seen[(i + k) % SEEN_SLOTS];
        uint64_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (cur == key)
            return false;
        if (cur == 0 && __atomic_compare_exchange_n(slot, &cur, key, false, __ATOMIC_RELAXED,
                                                    __ATOMIC_RELAXED))
            return true;
    }
    return true; /* table full: report again rather than never */
}

/* The tracked block `p` points inside of, looking back a little. */
static bool containing_block(uintptr_t p, struct handle *out)
{
    uintptr_t start = p & ~(uintptr_t)15;
    for (uintptr_t a = start; a + INTERIOR_PROBE_BYTES > start && a > 0; a -= 16)
        if (handle_lookup(a, out))
            return p >= out->ptr && p < out->ptr + GS_MAX(out->size, 1);
    return false;
}

/* Memory no allocator handed out: a loaded object's image or this stack. */
static bool never_allocated(uintptr_t p)
{
    Dl_info info;
    if (dladdr((void *)p, &info) && info.dli_fbase)
        return true;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    return p >= sp && p - sp < STACK_GUESS_BYTES;
}

bool misuse_check(void *ptr, bool is_realloc, uintptr_t entry, uintptr_t ra0, uintptr_t cfa0)
{
    uintptr_t p = (uintptr_t)ptr;
    struct misuse m = {0};
    m.addr = p;
    struct freed_block fb;
    struct handle h;
    tls.in_shim++;
    if (handle_freed_lookup(p, &fb)) {
        m.kind = is_realloc ? MISUSE_REALLOC_FREED : MISUSE_DOUBLE_FREE;
        m.alloc = fb.stack;
        m.free_pc = fb.free_pc;
        m.block = p;
        m.size = fb.size;
    } else if (containing_block(p, &h)) {
        m.kind = MISUSE_INTERIOR_FREE;
        m.alloc = h.stack;
        m.block = h.ptr;
        m.size = h.size;
    } else if (never_allocated(p)) {
        m.kind = MISUSE_INVALID_FREE;
    } else {
        tls.in_shim--;
        return false; /* unknown to the shim, maybe glibc's: let glibc decide */
    }
    m.where = unwind_stack(entry, ra0, cfa0);
    if (first_time(m.kind, m.where))
        check_report_misuse(&m);
    tls.in_shim--;
    if (opt.abort_on_error)
        abort();
    return true;
}
