/* SPDX-License-Identifier: MIT
 * init.h: the shim's lifecycle: preinit -> bootstrap -> ready, and
 * degraded (pass-through) on any internal failure. */
#ifndef GS_INIT_H
#define GS_INIT_H

#include <stdatomic.h>

#include "common.h"

enum shim_state { ST_PREINIT = 0, ST_BOOTSTRAP, ST_READY, ST_DEGRADED };

extern atomic_int shim_state;

/* Set while a fork runs its atfork handlers: the forking thread holds every
 * shim lock, and a thread interrupted inside glibc's malloc (holding an
 * arena lock the fork waits for) may run a signal handler that allocates.
 * The malloc path then waits for the fork a bounded time, after which
 * allocations pass through and frees are deferred (interpose.c), so no
 * thread waits forever for a shim lock while the fork waits for glibc's. */
extern atomic_int shim_forking;

/* Threads inside the loader's lock on the shim's behalf (libunwind and
 * modules.c call dl_iterate_phdr from malloc). glibc does not reset that
 * lock in a fork child, so the fork waits until none is inside. */
extern atomic_int shim_loader_users;
static inline void init_loader_enter(void) { atomic_fetch_add(&shim_loader_users, 1); }
static inline void init_loader_exit(void) { atomic_fetch_sub(&shim_loader_users, 1); }

/* True when allocations are to be tracked; initialises on first use.
 * While one thread initialises, others pass through untracked. */
bool init_ensure_slow(void);
static inline bool init_ready(void)
{
    int s = atomic_load_explicit(&shim_state, memory_order_acquire);
    if (GS_LIKELY(s == ST_READY))
        return true;
    return s == ST_PREINIT && init_ensure_slow();
}

/* Switches to pass-through for good and prints one line. Thread-safe. */
void init_degrade(const char *reason);

/* True when `pc` lies in the dynamic loader's code (ld.so allocations are
 * roots: the dtv is reached only through an interior pointer). */
bool init_pc_in_ldso(uintptr_t pc);

#endif
