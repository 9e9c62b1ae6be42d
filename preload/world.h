/* SPDX-License-Identifier: MIT
 * world.h: stop and resume every other thread of the process with a
 * signal (stop_signal, SIGPWR by default), as bdwgc does, never ptrace, so
 * the shim works under gdb and strace and without capabilities.
 * A stopped thread waits in the signal handler; its registers are in the
 * signal frame on its own stack, so scanning [sp, stack top) covers them. */
#ifndef GS_WORLD_H
#define GS_WORLD_H

#include <sys/types.h>

#include "common.h"

struct stopped_thread {
    pid_t tid;
    uintptr_t sp;                 /* the handler's stack pointer */
    uintptr_t tp;                 /* thread pointer (TCB) */
    uintptr_t inflight_old, inflight_new;
    size_t inflight_size;
};

struct world {
    struct stopped_thread *stopped; /* n_stopped entries (memory owned by world.c) */
    unsigned n_stopped;
    pid_t *unstopped;               /* threads that never answered (signal blocked) */
    unsigned n_unstopped;
};

/* Installs the stop handler. returns: 0 or errno. */
int world_init(void);

/* Stops every thread but the caller. pre: no shim lock that a stopped
 * thread could need is free-able only by it (the caller holds the handle
 * locks, so no stopped thread is inside the table). Allocates nothing
 * (buffers are mapped in world_init). Not reentrant: one stop at a time. */
void world_stop(struct world *w);
void world_resume(struct world *w);

/* Parks the calling thread around a call into libunwind, which blocks
 * every signal while it waits for the loader lock a scan may hold: the
 * stopper then takes the thread as stopped at `sp` without waiting for it.
 * That is sound because a parked thread runs no program code until the
 * scan ends: leaving libunwind it unblocks the stop signal, whose handler
 * runs at once and waits for the resume. pre: every callee-saved register
 * and the thread's frames above `sp` stay as they are until world_unpark
 * (arch_call_with_regs_saved spills the registers there).
 * returns: false when no park slot is free (the thread is waited for).
 * signal-safe; no locks. */
bool world_park(uintptr_t sp);
void world_unpark(void);

#endif
