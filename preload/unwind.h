/* SPDX-License-Identifier: MIT
 * unwind.h: allocation stacks. Frame 0 is the shim entry point the program
 * called (malloc, calloc, operator new, ...); frame 1 is its caller.
 *
 * The fast path does not unwind: a stack cache names the stack found last
 * time for this call chain, and it is verified by re-reading the
 * return-address slot of every frame (each must still hold the stored PC,
 * the slots kept relative to the caller's CFA in the depot). Only a miss
 * runs libunwind (its fast trace; DWARF CFI), so stacks stay exact while
 * hot call sites cost a few loads.
 * locks: none on a hit; depot lock on a miss. STW: no. Not signal-safe. */
#ifndef GS_UNWIND_H
#define GS_UNWIND_H

#include "depot.h"

/* Sets libunwind's caching policy and has it create its pthread key now.
 * returns: 0. */
int unwind_init(void);

/* The stack id of the current allocation. `entry` is the address of the
 * exported function, `ra0` its return address, `cfa0` the stack pointer
 * value of its caller at the call (its CFA). pre: tls.in_shim > 0. */
stack_id unwind_stack(uintptr_t entry, uintptr_t ra0, uintptr_t cfa0);

/* Releases the calling thread's cache (thread exit). */
void unwind_thread_exit(void);

#endif
