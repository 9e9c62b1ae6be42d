/* SPDX-License-Identifier: MIT
 * cmark.h: a mostly-concurrent mark (scan_mode=incremental), after
 * Boehm, Demers and Shenker's "mostly parallel" collector and seed 003's
 * dirty vector: the heap is marked while the program runs, then the world
 * stops only to re-mark what changed meanwhile: the pages written since
 * the mark began (dirty.h), the roots (stacks, registers, TLS, segments,
 * mappings) and the blocks allocated meanwhile (gate.h). The pause costs
 * what changed, not the heap.
 * Verdict: every block reachable when the world stops is marked (any
 * pointer stored after the concurrent mark read its page is on a dirty
 * page, in a root or in a young block). A block that became unreachable
 * during the concurrent mark may still be marked: it is reported by the
 * next scan. Blocks allocated meanwhile are judged by the next scan too.
 * With no mutation during the scan the verdict equals a stop-the-world
 * scan's (tests/live.bats, "snapshot and incremental scans write the same
 * api and exit reports as full scans on randomly mutated heaps", compares
 * them).
 * Sequence: cmark_begin (world running) -> cmark_pause (world stopped,
 * every shard lock held) -> cmark_settle (world running) -> the usual
 * guardian/classify verdict on c->h -> cmark_end. */
#ifndef GS_CMARK_H
#define GS_CMARK_H

#include "dirty.h"
#include "mark.h"
#include "roots.h"
#include "world.h"

struct cmark {
    struct heap h;
    struct roots roots; /* read with the world running, for the concurrent part */
    struct dirty d;
    /* What the pause did, for verbosity=2 and the benchmarks. */
    size_t caught_up_pages;  /* rescanned before the pause */
    size_t dirty_pages, young;
    double dirty_ms, young_ms, roots_ms, drain_ms;
};

/* Opens the gate, snapshots the table, starts dirty tracking and marks
 * from the roots with the world running (no signal is sent: a sleeping
 * thread sees one EINTR per scan, from the pause). pre: the scanner lock.
 * returns: 0, or errno with everything undone (scan stop-the-world then):
 * ENOTSUP (no dirty tracking here), EAGAIN, ENOSPC, ENOMEM. */
int cmark_begin(struct cmark *c);

/* Finishes the mark. STW; every shard lock held; `roots` read now.
 * returns: 0, or errno when the written pages are unknown (judge the
 * stopped world from scratch instead). */
int cmark_pause(struct cmark *c, struct roots *roots, const struct world *w, uintptr_t self_sp);

/* World running, gate still open: takes blocks freed or replaced since the
 * snapshot out of the verdict, refreshes the flags of the unreached ones
 * (gs_ignore meanwhile makes a root). returns: 0, or EOVERFLOW when young
 * blocks were missed (discard the verdict). */
int cmark_settle(struct cmark *c);

/* Closes the gate (deferred frees happen now), stops tracking, frees. */
void cmark_end(struct cmark *c);

#endif
