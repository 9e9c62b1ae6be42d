/* SPDX-License-Identifier: MIT
 * lock.c: the slow paths of lock.h (futex sleep and wake).
 * STW: no. allocates: no. */
#include "lock.h"

#include "sys.h"

void lock_wait_futex(atomic_int *v)
{
    /* Sleep while the lock is in the contended state; EAGAIN/EINTR just retry. */
    sys_futex_wait((int *)v, 2, -1);
}

void lock_wake_futex(atomic_int *v) { sys_futex_wake((int *)v, 1); }
