/* SPDX-License-Identifier: MIT
 * guardian.h: guardians and finalizers (DESIGN §6).
 *
 * A side table keyed by block address (hidden) holds, for each block that
 * has them, its finalizer and the guardians it is registered with. A scan
 * (STW) decides, guardian_apply (after the world resumed) acts:
 *  - every registered block found unreachable is queued on each of its
 *    guardians (unordered, as in Chez Scheme) and kept alive;
 *  - an unreachable finalizable block that no other unreachable
 *    finalizable block reaches is queued for finalization (Boehm's
 *    topological order); one that such a block reaches waits for a later
 *    scan; a cycle of finalizable blocks is never finalized and stays a
 *    leak the report shows;
 *  - queued blocks are roots until the program polls or drains them, and
 *    a block whose finalizer runs is one until the finalizer returns.
 * Invariant: one scan queues a block on its guardians or for
 * finalization, never both (guarded blocks are kept alive first).
 * Guardians are named by tokens, never by addresses (guardian.c).
 * locks: `guard.lock`, taken after the handle locks by the scan, and
 * never while holding a handle lock elsewhere; no handle lock is taken
 * under it except by guardian_prepare, whose caller holds them all. */
#ifndef GS_GUARDIAN_H
#define GS_GUARDIAN_H

#include "mark.h"

typedef void (*guardian_fn)(void *block, void *arg);

enum guard_action_kind { GA_QUEUE = 1, GA_FINALIZE = 2 };

struct guard_action {
    uintptr_t block;
    enum guard_action_kind kind;
};

struct guard_actions {
    struct guard_action *a;
    size_t n, cap;
};

/* Guardians are named by tokens (guardian.c): opaque, never addresses, and
 * a freed guardian's token is never valid again.
 * returns: a new token, or 0 when MAX_GUARDIANS exist. */
uintptr_t guardian_new(void);
/* Whether `token` names a guardian that exists now. */
bool guardian_valid(uintptr_t token);
/* returns: 0, EINVAL (bad guardian), ENOMEM. pre: `block` is the start
 * of a live block. post (on 0): the caller sets HF_GUARDED on its handle,
 * or calls guardian_forget if it cannot. */
int guardian_register(uintptr_t token, uintptr_t block);
/* returns: a block address, or 0 (none, or a bad guardian). */
uintptr_t guardian_poll(uintptr_t token);
/* A bad token is ignored. */
void guardian_free(uintptr_t token);
/* fn == NULL clears. returns: 0 or ENOMEM. pre: `block` is live. post
 * (fn != NULL, on 0): the caller sets HF_FINALIZER on its handle, or calls
 * guardian_forget if it cannot. Flags whose role ended are cleared by the
 * next scan (guardian_prepare), which is when reclaim sees them. */
int guardian_set_finalizer(uintptr_t block, guardian_fn fn, void *arg);

/* Runs the pending finalizers on this thread, then frees their blocks
 * through `free_block`. returns: the number run. */
size_t guardian_drain(void (*free_block)(void *));
size_t guardian_pending(void);

/* Drops everything about a block the program freed. */
void guardian_forget(uintptr_t block);

/* Scan protocol, in this order: prepare (world running, every handle lock
 * held; takes guard.lock, clears the HF_GUARDED / HF_FINALIZER flags of
 * blocks no longer guarded or finalizable, maps the action buffer), scan (STW, after the root
 * mark), apply (after resume; releases guard.lock). */
int guardian_prepare(struct guard_actions *out, bool shared);
void guardian_scan(struct heap *h, struct guard_actions *out);
void guardian_apply(struct guard_actions *acts);
/* A snapshot scan lets the program use guardians while its child judges:
 * release after the clone, relock before apply (entries that went away
 * meanwhile are skipped by apply). */
void guardian_release(void);
void guardian_relock(void);

void guardian_atfork_prepare(void);
void guardian_atfork_parent(void);
void guardian_atfork_child(void);

#endif
