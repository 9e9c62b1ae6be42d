/* SPDX-License-Identifier: MIT
 * guardian.c: guardians and finalizers (guardian.h).
 * locks: `guard.lock`. STW: no. allocates: arena. */
#include "guardian.h"

#include "lock.h"

static struct {
    struct spinlock lock;
} guard;

void guardian_forget(uintptr_t block)
{
    (void)block;
    spin_lock(&guard.lock);
    spin_unlock(&guard.lock);
}
