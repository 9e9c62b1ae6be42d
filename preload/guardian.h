/* SPDX-License-Identifier: MIT
 * guardian.h: guardians and finalizers (DESIGN §6). The side table keyed
 * by block address holds, for blocks with HF_FINALIZER or HF_GUARDED, the
 * finalizer and the guardians the block is registered with. */
#ifndef GS_GUARDIAN_H
#define GS_GUARDIAN_H

#include "common.h"

/* Drops every guardian registration and finalizer of a block the program
 * freed. locks: guardian lock. */
void guardian_forget(uintptr_t block);

#endif
