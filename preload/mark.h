/* SPDX-License-Identifier: MIT
 * mark.h: the scan's view of the heap and the conservative mark.
 *
 * `struct heap` is a snapshot of the handle table sorted by address, plus
 * a page-granular index ("segment vector", seed 003): for every 256-byte
 * granule of each 1 GiB region that holds blocks, the index of the first
 * block that may contain an address in it. "Does word v point into a
 * block" is then a range check, a region lookup, one load and a short
 * forward search: O(1), no hashing of the table.
 * A pointer to a block's start reaches it; any other interior pointer
 * reaches it only "possibly" (but see is_start_pointer in mark.c).
 * Memory comes from sys_map only, by the scanning thread (which holds the
 * mapping table through the stop); the marking itself, on either marker
 * thread, maps nothing. STW-safe. */
#ifndef GS_MARK_H
#define GS_MARK_H

#include "depot.h"

enum block_state {
    BS_UNREACHED = 0,
    BS_REACHED,     /* through start pointers from a root */
    BS_POSSIBLE,    /* only through a chain with an interior pointer */
    BS_FINREACHED,  /* scratch of guardian.c: reached from a finalizable block */
};

/* A block of the snapshot, sorted by start. Its mark state is kept apart
 * (`heap.state`), as are the compact bounds the mark reads (`heap.span`):
 * the mark touches 9 bytes a block, not these 24. */
struct sblock {
    uintptr_t start;
    size_t size;
    stack_id stack;
    uint16_t owner;
    uint8_t flags;
};

/* A word that passed the range filter, waiting for its index lookup. */
struct candidate {
    uintptr_t v;          /* the word; tagged: a record's resolved word */
    const uint32_t *slot; /* its granule's index entry (tagged: its block's
                           * entry in the records' old-to-new map), prefetched */
    uint64_t *patch;      /* its copy in a record, or NULL */
    bool strong, tagged;
};

struct mark_pool;

/* One marking thread's work: its FIFO of grey blocks (reached, words not
 * read yet), its "possible" blocks, its batch of pending lookups. Every
 * buffer holds one entry per block (mapped MAP_NORESERVE, touched as used),
 * so a marker never maps memory once the mark has begun. */
struct marker {
    uint32_t *grey;          /* FIFO ring of block indices */
    size_t grey_cap, grey_head, grey_n;
    uint32_t *pstack;        /* pending "possible" blocks */
    size_t pstack_n;
    struct candidate *cands;
    size_t n_cands;
    const struct region *last_region;
    struct mark_pool *pool;  /* shared with the other markers, or NULL */
};

struct region;

/* What an incremental scan read of each block, kept for the next scan
 * (cmark.h): a record is a header word (exact size << 24 | count) followed
 * by the block's words that lie in [lo, hi], as they were when it was
 * read. A block whose record still holds (same allocation, no write to its
 * pages since) is marked from its record instead of its memory: the same
 * words, so the same verdict. A word that resolved to a start pointer is
 * kept resolved (bit 63, the block's index in that scan's snapshot, the
 * offset): that outcome depends only on the block's bounds, so while the
 * same allocation is there the next scan skips the index lookup, and when
 * it is gone the word's value, rebuilt from the old bounds, is resolved
 * anew. */
#define REC_MAX_WORDS ((1u << 24) - 1)

/* Per block: where its records are, side by side so that one prefetch
 * fetches both. */
struct rec_slot {
    uint32_t src; /* the last scan's record: 1 + offset in src_vals, 0 = read
                   * the block (mark_rescan_range clears it) */
    uint32_t off; /* this scan's: 1 + offset in vals, 0 = none (or dropped) */
};

/* In a rec_slot: a record with no words (a block holding no pointer),
 * kept without a header in vals. Offsets stay below it (cap_vals). */
#define REC_EMPTY UINT32_MAX

struct mark_records {
    struct rec_slot *slot;   /* by this snapshot's block index */
    const uint64_t *src_vals; /* the last scan's records, or NULL */
    uint32_t *remap;         /* by the last snapshot's index: 1 + this one's index of
                              * the same allocation, 0 = gone */
    const uint64_t *old_span; /* the last snapshot's bounds */
    uint64_t *vals;          /* this scan's records of the blocks it reads whole */
    size_t n_vals, cap_vals;
    uintptr_t lo, hi;        /* a record holds every word of its block in [lo, hi] */
    size_t replayed, read;   /* whole-block scans from a record, from memory */
};

struct root_range {
    uintptr_t lo, hi;
};

/* The stack id of an erased block (heap_erase): matches no site. */
#define STACK_ID_ERASED UINT32_MAX

struct heap {
    size_t n, cap;           /* blocks, and room for them */
    size_t n_erased;         /* heap_erase'd blocks (counted as reached) */
    struct sblock *blocks;   /* sorted by start */
    uint8_t *state;          /* enum block_state of each block */
    uint64_t *span;          /* start | min(size, SPAN_BIG) << 48 of each block */
    uintptr_t lo, hi;        /* [lowest start, highest end] */
    struct region *regions;  /* open-addressing table of region maps */
    size_t n_regions_cap;
    struct marker m;         /* the scanning thread's marker */
    /* Read-only file mappings, sorted (set by roots.c): where vtables are,
     * for the multiple-inheritance rule of is_start_pointer. */
    const struct root_range *vtables;
    size_t n_vtables;
    size_t mapped_bytes;     /* for the report's scan statistics */
    struct mark_records *rec; /* incremental scans only (single marker), else NULL */
};

/* Snapshots the table and builds the index. pre: handle_lock_all held.
 * returns: 0 or errno (ENOMEM). */
int heap_build(struct heap *h);
/* The same with the world running, for a concurrent mark: one shard lock
 * at a time. pre: the gate is open (gate.h), so a block missed here is
 * young. Each block's flags show HF_SEEN as it was; the table's handles
 * get it set. returns: 0, ENOMEM, or ENOSPC when blocks outgrew the room. */
int heap_build_live(struct heap *h);
void heap_free(struct heap *h);
/* Hands the bounds array (h->span, `*cap` entries) to the caller, who
 * unmaps it: the next incremental scan matches its blocks against it. */
uint64_t *heap_take_span(struct heap *h, size_t *cap);
/* Fills the src of h->rec's slots and h->rec->remap from the last scan's
 * bounds and slots: block i gets the record of the block that started at
 * its address, if it carries HF_SEEN (the same allocation). One merge pass
 * over both sorted arrays. */
void mark_records_inherit(struct heap *h, const uint64_t *old_span,
                          const struct rec_slot *old_slot, size_t n_old);
/* Index of the first block starting at or after `a` (h->n if none). */
size_t heap_first_from(const struct heap *h, uintptr_t a);
/* Takes block i out of the verdict (freed or replaced since the
 * snapshot): reached, size 0, stack STACK_ID_ERASED. */
void heap_erase(struct heap *h, size_t i);

/* Index of the block containing `v` (start <= v < start+size), or -1. */
long heap_find(const struct heap *h, uintptr_t v);

/* Marks what words in [lo, hi) reach (a root range). STW. */
void mark_range(struct heap *h, uintptr_t lo, uintptr_t hi);
/* The same for memory that may vanish under the scan; holes are skipped. */
void mark_range_safe(struct heap *h, uintptr_t lo, uintptr_t hi);
/* Marks block i as reached (a root block: ignored, ld.so, guarded). STW. */
void mark_block_root(struct heap *h, size_t i);
/* Scans again the words in [lo, hi) of every reached or possibly reached
 * block (as strongly as its state): they changed since the block was
 * scanned whole (dirty pages). Every block overlapping [lo, hi) loses its
 * records, old and new. Run mark_drain after. */
void mark_rescan_range(struct heap *h, uintptr_t lo, uintptr_t hi);
/* Propagates until both mark stacks are empty. STW. */
void mark_drain(struct heap *h);
/* The same, with a second marking thread on another CPU when the work is
 * large enough to pay for it (the judging of a whole heap). */
void mark_drain_all(struct heap *h);

/* Calls fn(ctx, j) for each block j that a word of block i points into
 * (any pointer, start or interior; j may equal i). STW. */
void mark_for_each_edge(const struct heap *h, size_t i, void (*fn)(void *ctx, size_t j),
                        void *ctx);

#endif
