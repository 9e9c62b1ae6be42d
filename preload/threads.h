/* SPDX-License-Identifier: MIT
 * threads.h: the thread registry. Threads started with pthread_create are
 * recorded with their stack range; records of exited threads are kept
 * (marked dead) so the scan can tell a cached, dead stack from a root. */
#ifndef GS_THREADS_H
#define GS_THREADS_H

#include <sys/types.h>

#include "common.h"

struct thread_rec {
    pid_t tid;            /* 0 once the thread exited */
    uintptr_t stack_lo, stack_hi;
};

/* Resolves the real pthread_create. pre: tls.in_shim > 0. */
void threads_init(void);

/* Calls fn for every record, live and dead. locks: registry lock (held
 * across the calls: fn must not take shim locks). */
void threads_for_each(void (*fn)(const struct thread_rec *t, void *ctx), void *ctx);

/* Upper bound on the number of records threads_for_each can visit. */
size_t threads_capacity(void);

void threads_atfork_prepare(void);
void threads_atfork_parent(void);
/* Only the forking thread survives: every other record becomes dead. */
void threads_atfork_child(void);

#endif
