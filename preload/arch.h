/* SPDX-License-Identifier: MIT
 * arch.h: the per-architecture piece (x86_64). */
#ifndef GS_ARCH_H
#define GS_ARCH_H

#include "common.h"

/* Pushes the callee-saved registers, then calls fn(sp, arg) with `sp`
 * the address of that register block. Scanning from `sp` upward sees the
 * caller's live registers and frames, and nothing below them: the dead
 * frames of earlier calls are no roots for an on-demand scan. */
uintptr_t arch_call_with_regs_saved(uintptr_t (*fn)(uintptr_t sp, void *arg), void *arg);

#endif
