/* SPDX-License-Identifier: MIT
 * reports.h: the in-memory model of guardshim JSON reports (DESIGN §4)
 * and the operations on it: loading (one object per file, or JSON Lines),
 * grouping per process, merging records across processes by their
 * identity, and comparing against a baseline.
 *
 * A record's identity (`key`) is its kind plus, per frame, function, file
 * and line, or module basename and offset when the frame has no function:
 * the same leak in two runs (other pids, other load addresses) has the
 * same key. Keys are computed after symbolisation (records_set_keys).
 * Single-threaded tool: no locks; allocates with malloc. */
#ifndef GS_TOOLS_REPORTS_H
#define GS_TOOLS_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum leak_kind { KIND_DIRECT = 0, KIND_INDIRECT, KIND_POSSIBLE, KIND_COUNT };
extern const char *const kind_names[KIND_COUNT]; /* "direct", ... as in JSON */

struct frame {
    char *pc, *module, *offset; /* as in the report; never NULL after loading */
    char *function, *file;      /* NULL when unknown; `function` demangled */
    char *mangled;              /* C++ linkage name `function` came from, or NULL */
    char *build_id;             /* NULL when absent */
    long line;                  /* 0 when unknown */
    uint64_t off;               /* `offset` parsed */
};

enum base_mark { MARK_NONE = 0, MARK_NEW, MARK_GREW };

struct record {
    enum leak_kind kind;
    uint64_t bytes, blocks;
    bool cycle;
    bool grown;           /* periodic report: a group listed again, grown */
    struct frame *frames; /* owned by the reportset; merged records borrow */
    size_t nframes;
    char *key;            /* records_set_keys */
    size_t nprocs;        /* processes the merged record came from */
    enum base_mark mark;  /* set by records_diff */
    uint64_t base_bytes;  /* bytes in the baseline (MARK_GREW) */
};

/* The reports of one process in one input file. When an `exit` report is
 * present it is the process's final word and earlier periodic reports
 * (which list only leaks new since the previous one) are dropped. */
struct proc {
    long pid;
    char *exe, *source, *trigger;
    bool has_exit;
    size_t nreports;
    uint64_t reachable_bytes, reachable_blocks;
    double scan_ms;
    struct record *recs;
    size_t nrecs;
};

struct reportset {
    struct proc *procs;
    size_t nprocs;
};

/* Loads every report object in `text` (a whole file's contents, `name` for
 * messages; `skip` bytes at its start are ignored, e.g. what an earlier run
 * appended) into `set`. On bad input prints one line
 * "guardshim: NAME: problem (line L)".
 * returns: 0, or EXIT_MALFORMED after printing. */
int reports_parse(struct reportset *set, const char *name, const char *text, size_t len,
                  size_t skip);

/* reports_parse on the contents of file `path` ("-" = stdin).
 * returns: 0, EXIT_IO after printing strerror (missing or unreadable
 * file), or EXIT_MALFORMED after printing what is wrong. */
int reports_load(struct reportset *set, const char *path);

void reports_free(struct reportset *set);

/* Computes `key` of every record of `set` (after symbolisation). */
void reports_set_keys(struct reportset *set);

/* Totals of a record array. */
struct totals {
    uint64_t bytes, blocks, kind_bytes[KIND_COUNT];
};
struct totals records_totals(const struct record *recs, size_t n);

/* Merges the records of `procs` (all of them, or only `only` when >= 0 is a
 * pid) by key into a new array sorted by bytes, largest first (ties: blocks,
 * then key). Merged records borrow frames from `set`; free the array only.
 * returns: the array (count in *n). */
struct record *reports_merge(const struct reportset *set, long only, size_t *n);

/* Same for one process's own records. */
struct record *proc_merge(const struct proc *p, size_t *n);

/* Keeps only records of `recs` that are new or grew (more bytes) relative
 * to `base` (merged baseline, sorted any way), marking them. returns: the
 * new count (records compacted in place). */
size_t records_diff(struct record *recs, size_t n, const struct record *base, size_t nbase);

/* The first frame that is neither the shim's nor a malloc-family entry
 * point: where the program allocated. NULL if none. */
const struct frame *record_user_frame(const struct record *r);

/* True for a frame inside libguardshim.so. */
bool frame_is_shim(const struct frame *f);

#endif
