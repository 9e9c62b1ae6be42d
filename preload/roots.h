/* SPDX-License-Identifier: MIT
 * roots.h: where the mark starts. Before the stop, roots_prepare gathers
 * what needs libc or the loader: the writable PT_LOAD segments of every
 * loaded object except the shim, the thread registry and the registered
 * root ranges; once the world is stopped, roots_read_maps reads
 * /proc/self/maps. While the world is stopped, roots_mark
 * scans them plus every thread's stack (from its stack pointer to the top
 * of its mapping, which holds the signal frame's registers and, for
 * glibc threads, the TCB and static TLS), each thread's static TLS block,
 * in-flight realloc blocks, and root blocks (ld.so's, ignored ones). */
#ifndef GS_ROOTS_H
#define GS_ROOTS_H

#include "mark.h"
#include "threads.h"
#include "world.h"


struct mapping {
    uintptr_t lo, hi;
    bool readable, writable, anon; /* anon: no file and not a [special] one */
    bool brk_heap;                 /* [heap] */
};

struct roots {
    struct root_range *ranges; /* segments and registered roots */
    size_t n, cap;
    struct mapping *maps;      /* /proc/self/maps, sorted */
    size_t n_maps, maps_cap;
    char *maps_text;           /* the file's text */
    size_t maps_text_cap;
    struct thread_rec *stacks; /* registry copy: stacks, live and dead */
    size_t n_stacks, stacks_cap;
    struct root_range *excl;   /* never roots: own maps and stacks, sorted */
    struct root_range *vtables; /* read-only file mappings (where vtables live), sorted */
    size_t n_vtables;
    bool live;                 /* marking with the world running: read safely */
    size_t n_excl, excl_cap;
};

/* pre: no handle lock held? No: called with the handle locks held, but it
 * must not allocate through malloc. Takes the loader lock (nested inside
 * the scan's dl_iterate_phdr, recursive) and the registry lock.
 * returns: 0 or errno. */
int roots_prepare(struct roots *r);

/* Marks from every root. `self_sp`: the scanning thread's stack is scanned
 * from there upward (the trigger's caller frame), never below. STW. */
void roots_mark(struct roots *r, struct heap *h, const struct world *w, uintptr_t self_sp);
/* roots_mark in two parts: the memory roots (segments, stacks, TLS,
 * mappings), and the blocks whose flags make them roots (ignored, ld.so). */
void roots_mark_world(struct roots *r, struct heap *h, const struct world *w, uintptr_t self_sp);
void roots_mark_flagged(struct heap *h);
/* Marks from the memory roots that need no stopped world (segments,
 * registered ranges, anonymous mappings; not stacks or TLS), reading
 * through the kernel, and from flagged blocks: a concurrent mark's start.
 * The maps must have been read (roots_read_maps) with the world running. */
void roots_mark_live(struct roots *r, struct heap *h);

/* Reads /proc/self/maps once the world is stopped: read earlier, a mapping
 * a running thread unmaps (a stack, a trimmed chunk) would be scanned and
 * fault. Raw syscalls and sys_map only. returns: 0 or errno. */
int roots_read_maps(struct roots *r);

void roots_free(struct roots *r);

/* Registered roots (gs_register_root). returns: 0 or errno (EINVAL, ENOMEM). */
int roots_register(uintptr_t p, size_t n);
int roots_unregister(uintptr_t p, size_t n);

/* Resolves glibc's static TLS size. pre: tls.in_shim > 0. */
void roots_init(void);

#endif
