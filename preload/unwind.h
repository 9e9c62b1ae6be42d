/* SPDX-License-Identifier: MIT
 * unwind.h: allocation stacks. Frame 0 is the shim entry point the program
 * called (malloc, calloc, operator new, ...); frame 1 is its caller.
 *
 * The fast path does not unwind: a per-thread cache maps (entry, return
 * address, caller's CFA) to the stack id found last time, and verifies it
 * by re-reading the return-address slot of every cached frame (each must
 * still hold the cached PC). Only a miss runs libunwind (DWARF CFI), so
 * stacks stay exact while hot call sites cost a few loads.
 * locks: none on a hit; depot lock on a miss. STW: no. Not signal-safe. */
#ifndef GS_UNWIND_H
#define GS_UNWIND_H

#include "depot.h"

/* Sets libunwind's caching policy. returns: 0. */
int unwind_init(void);

/* The stack id of the current allocation. `entry` is the address of the
 * exported function, `ra0` its return address, `cfa0` the stack pointer
 * value of its caller at the call (its CFA). pre: tls.in_shim > 0. */
stack_id unwind_stack(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

/* Releases the calling thread's cache (thread exit). */
void unwind_thread_exit(void);

#endif
