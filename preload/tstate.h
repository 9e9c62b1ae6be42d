/* SPDX-License-Identifier: MIT
 * tstate.h: the shim's per-thread state, one initial-exec TLS struct (so
 * access is a single %fs-relative load, no __tls_get_addr, no allocation).
 * Only the owning thread writes it, except `inflight`, which the stop
 * handler copies out while the thread is stopped. */
#ifndef GS_TSTATE_H
#define GS_TSTATE_H

#include "common.h"

struct l1_cache;

struct tstate {
    int in_shim;                 /* > 0 while this thread runs shim code: allocations pass through */
    int disabled;                /* gs_disable nesting depth */
    uint32_t owner;              /* current ownership domain */
    struct l1_cache *l1;         /* per-thread stack cache (unwind.c) */
    uintptr_t stack_lo, stack_hi; /* this thread's stack, 0 = unknown (unwind.c) */
    unsigned park_slot;          /* 1 + slot while parked in libunwind (world.c) */
    /* A realloc between glibc's return and the handle update: the new block
     * is not in the table yet, the old handle is stale. The scan treats
     * `inflight_new` as a root range and ignores the old handle. */
    volatile uintptr_t inflight_old, inflight_new;
    volatile size_t inflight_size;
};

extern __thread struct tstate tls __attribute__((tls_model("initial-exec")));

#endif
