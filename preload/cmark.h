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
 * Across scans (seed 003: re-use what the last scan proved for blocks on
 * clean pages): with userfaultfd the tracking goes on after a scan, from
 * its pause to the next scan, and the scan keeps what it read of each
 * block it marked (mark.h, struct mark_records). The next scan marks a
 * block from that record, not from its memory, when three things hold: it
 * is the same allocation (HF_SEEN: in the last snapshot, not freed since;
 * a new block at the address lacks it), none of its pages was written
 * since the record was taken (records of blocks on pages a collect
 * reports are dropped; the collects restart tracking, so every write is
 * reported by the first collect after it), and the heap still lies within
 * the records' word range (a word recorded as pointing nowhere could
 * point into a block allocated since: the records hold every word within
 * a margin around the heap, and a heap that left it is read whole). The
 * words are the same, resolved the same way, so the verdict is too; the
 * mark reads a compact record instead of the block's memory.
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
    struct mark_records rec; /* h.rec when records are kept (userfaultfd) */
    size_t vals_cap;         /* rec.vals mapped for this many words */
    size_t stale_pages;      /* written since the last pause: their blocks read again */
    size_t replayed, read;   /* blocks marked from records, from memory (set by cmark_end) */
    bool lost_writes;        /* the catch-up collect failed: the pause judges from scratch */
    /* What the pause did, for verbosity=2 and the benchmarks. */
    size_t caught_up_pages;  /* rescanned before the pause */
    double build_ms, mark_ms; /* the concurrent part: snapshot and index, mark */
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
 * returns: 0, or errno when the written pages are unknown, now or since
 * the catch-up (judge the stopped world from scratch instead, and end the
 * tracking: cmark_end(c, false)). */
int cmark_pause(struct cmark *c, struct roots *roots, const struct world *w, uintptr_t self_sp);

/* World running, gate still open: takes blocks freed or replaced since the
 * snapshot out of the verdict, refreshes the flags of the unreached ones
 * (gs_ignore meanwhile makes a root). returns: 0, or EOVERFLOW when young
 * blocks were missed (discard the verdict). */
int cmark_settle(struct cmark *c);

/* Closes the gate (deferred frees happen now) and frees. `keep` (the scan
 * succeeded incrementally): the tracking goes on and the records stay for
 * the next scan; else both end. */
void cmark_end(struct cmark *c, bool keep);

/* In a fork child: drops what the last scan kept (the child's mappings
 * are not tracked). */
void cmark_atfork_child(void);

#endif
