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

void hotlock_wait(struct hotlock *l)
{
    for (unsigned spins = 0;; spins++) {
        if (hot_trylock(l))
            return;
        if (spins < 200)
            __builtin_ia32_pause();
        else /* the holder may be preempted, or a scan may hold it long */
            sys_futex_wait((int *)&l->v, 1, HOTLOCK_NAP_NS);
    }
}
