/* SPDX-License-Identifier: MIT
 * roots.c: root ranges (roots.h).
 * glibc facts relied on (x86_64, TLS variant II): the thread pointer is
 * the TCB (struct pthread) and the static TLS block lies just below it;
 * `_dl_get_tls_static_info` gives that block's size. For threads glibc
 * created, TCB and static TLS sit at the top of the stack mapping. Dynamic
 * TLS blocks and the dtv are malloc'd by ld.so, which makes them root
 * blocks (HF_ROOT) since the TCB points into the dtv at an offset.
 * locks: `regs.lock` (registered roots); registry lock via threads.c.
 * STW: roots_mark only. allocates: sys_map. */
#define _GNU_SOURCE
#include "roots.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>

#include "glibc.h"
#include "handle.h"
#include "lock.h"
#include "options.h"
#include "sys.h"
#include "threads.h"

#define MAX_REGISTERED 4096
#define TCB_SCAN_BYTES 4096

static struct {
    struct spinlock lock;
    size_t n;
    struct root_range r[MAX_REGISTERED];
    size_t static_tls_size;
    uintptr_t self_base;
} regs;

static void (*get_tls_static_info)(size_t *, size_t *);

void roots_init(void)
{
    get_tls_static_info = (void (*)(size_t *, size_t *))dlsym(RTLD_DEFAULT,
                                                               "_dl_get_tls_static_info");
    if (get_tls_static_info) {
        size_t align;
        get_tls_static_info(&regs.static_tls_size, &align);
    }
    Dl_info info;
    if (dladdr((void *)&roots_init, &info))
        regs.self_base = (uintptr_t)info.dli_fbase;
}

static bool push(struct root_range **a, size_t *n, size_t *cap, uintptr_t lo, uintptr_t hi)
{
    if (lo >= hi)
        return true;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        struct root_range *na = sys_map(ncap * sizeof *na, false);
        if (!na)
            return false;
        if (*a) {
            memcpy(na, *a, *n * sizeof *na);
            sys_unmap(*a, *cap * sizeof *na);
        }
        *a = na;
        *cap = ncap;
    }
    (*a)[(*n)++] = (struct root_range){lo, hi};
    return true;
}

static int segments_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    struct roots *r = ctx;
    /* The shim's own data is no root: its tables must never keep a block alive. */
    if (info->dlpi_addr == regs.self_base && regs.self_base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            push(&r->ranges, &r->n, &r->cap, lo, lo + ph->p_memsz);
        }
    }
    return 0;
}

static uintptr_t parse_hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

/* The text buffer stays mapped until roots_free: it is listed in the maps
 * it holds, and must be excluded (not unmapped) when the scan gets there. */
static int parse_maps(struct roots *r)
{
    size_t len = 0;
    int err = sys_read_file("/proc/self/maps", &r->maps_text, &len, &r->maps_text_cap);
    if (err)
        return err;
    const char *buf = r->maps_text;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    r->maps_cap = lines + 1;
    r->maps = sys_map(r->maps_cap * sizeof *r->maps, false);
    if (!r->maps)
        return ENOMEM;
    for (const char *p = buf; p < buf + len && *p;) {
        const char *eol = memchr(p, '\n', (size_t)(buf + len - p));
        if (!eol)
            eol = buf + len;
        struct mapping m = {0};
        m.lo = parse_hex(&p);
        p++;
        m.hi = parse_hex(&p);
        p++;
        m.readable = p[0] == 'r';
        m.writable = p[1] == 'w';
        /* Skip offset, dev, inode; what follows (if anything) is the path. */
        for (int field = 0; field < 4 && p < eol; field++) {
            while (p < eol && *p != ' ')
                p++;
            while (p < eol && *p == ' ')
                p++;
        }
        m.anon = p >= eol || !strncmp(p, "[anon:", 6);
        m.brk_heap = eol - p >= 6 && !strncmp(p, "[heap]", 6);
        if (r->n_maps < r->maps_cap)
            r->maps[r->n_maps++] = m;
        p = eol + 1;
    }
    return 0;
}

/* Runs under the registry lock: copies into a buffer sized beforehand. */
static void stack_cb(const struct thread_rec *t, void *ctx)
{
    struct roots *r = ctx;
    if (r->n_stacks < r->stacks_cap)
        r->stacks[r->n_stacks++] = *t;
}

static void own_cb(uintptr_t lo, uintptr_t hi, void *ctx)
{
    struct roots *r = ctx;
    push(&r->excl, &r->n_excl, &r->excl_cap, lo, hi);
}

/* Insertion sort by lo: the exclusion list is short (own maps, stacks). */
static void sort_ranges(struct root_range *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct root_range v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1].lo > v.lo) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

int roots_prepare(struct roots *r)
{
    memset(r, 0, sizeof *r);
    dl_iterate_phdr(segments_cb, r);
    spin_lock(&regs.lock);
    for (size_t i = 0; i < regs.n; i++)
        push(&r->ranges, &r->n, &r->cap, regs.r[i].lo, regs.r[i].hi);
    spin_unlock(&regs.lock);
    r->stacks_cap = threads_capacity();
    r->stacks = sys_map(r->stacks_cap * sizeof *r->stacks, false);
    if (!r->stacks)
        return ENOMEM;
    threads_for_each(stack_cb, r);
    for (size_t i = 0; i < r->n_stacks; i++)
        push(&r->excl, &r->n_excl, &r->excl_cap, r->stacks[i].stack_lo, r->stacks[i].stack_hi);
    return 0;
}

/* Read-only file mappings, merged: a C++ object's vtable pointers point
 * there (.rodata, or .data.rel.ro once RELRO made it read-only). */
static int collect_vtables(struct roots *r)
{
    r->vtables = sys_map((r->maps_cap + 1) * sizeof *r->vtables, false);
    if (!r->vtables)
        return ENOMEM;
    for (size_t i = 0; i < r->n_maps; i++) {
        const struct mapping *m = &r->maps[i];
        if (!m->readable || m->writable || m->anon || m->brk_heap)
            continue;
        if (r->n_vtables && r->vtables[r->n_vtables - 1].hi == m->lo)
            r->vtables[r->n_vtables - 1].hi = m->hi;
        else
            r->vtables[r->n_vtables++] = (struct root_range){m->lo, m->hi};
    }
    return 0;
}

int roots_read_maps(struct roots *r)
{
    int err = parse_maps(r);
    if (!err)
        err = collect_vtables(r);
    /* Last, so that every buffer above is listed as the shim's own. */
    sys_for_each_map(own_cb, r);
    sort_ranges(r->excl, r->n_excl);
    return err;
}

void roots_free(struct roots *r)
{
    sys_unmap(r->ranges, r->cap * sizeof *r->ranges);
    sys_unmap(r->maps, r->maps_cap * sizeof *r->maps);
    sys_unmap(r->vtables, (r->maps_cap + 1) * sizeof *r->vtables);
    sys_unmap(r->stacks, r->stacks_cap * sizeof *r->stacks);
    sys_unmap(r->excl, r->excl_cap * sizeof *r->excl);
    sys_unmap(r->maps_text, r->maps_text_cap);
    memset(r, 0, sizeof *r);
}

static const struct mapping *mapping_of(const struct roots *r, uintptr_t a)
{
    size_t lo = 0, hi = r->n_maps;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a < r->maps[mid].lo)
            hi = mid;
        else if (a >= r->maps[mid].hi)
            lo = mid + 1;
        else
            return &r->maps[mid];
    }
    return NULL;
}

/* Scans [lo, hi) clipped to readable mappings (a stale range never faults). */
static void mark_checked(const struct roots *r, struct heap *h, uintptr_t lo, uintptr_t hi)
{
    while (lo < hi) {
        const struct mapping *m = mapping_of(r, lo);
        if (!m) {
            /* Skip to the next mapping above lo. */
            size_t i = 0;
            while (i < r->n_maps && r->maps[i].hi <= lo)
                i++;
            if (i == r->n_maps)
                return;
            lo = r->maps[i].lo;
            continue;
        }
        uintptr_t end = GS_MIN(hi, m->hi);
        /* A file mapping faults (SIGBUS) past a truncated file's end, and
         * with the world running anything may vanish: read those through
         * the kernel, which reports a hole instead. */
        if (m->readable && (r->live || !m->anon))
            mark_range_safe(h, lo, end);
        else if (m->readable)
            mark_range(h, lo, end);
        lo = end;
    }
}

static void mark_thread(const struct roots *r, struct heap *h, uintptr_t sp, uintptr_t tp)
{
    const struct mapping *m = mapping_of(r, sp);
    if (m)
        mark_checked(r, h, sp, m->hi);
    if (tp) {
        uintptr_t lo = tp - GS_MIN(regs.static_tls_size, tp);
        mark_checked(r, h, lo, tp + TCB_SCAN_BYTES);
    }
}

/* The next excluded range at or after `cur` inside a mapping: the shim's
 * own memory, a thread stack (live or cached: stale frames would hide
 * leaks), or memory glibc manages (its blocks are marked on their own,
 * and its free chunks hold stale data). */
static struct root_range next_exclusion(const struct roots *r, const struct heap *h,
                                        uintptr_t cur, uintptr_t end)
{
    struct root_range best = {end, end};
    for (size_t i = 0; i < r->n_excl; i++) {
        if (r->excl[i].hi > cur && r->excl[i].lo < best.lo) {
            best = r->excl[i];
            break; /* sorted by lo: the first one overlapping or after cur wins */
        }
    }
    size_t b = heap_first_from(h, cur);
    uintptr_t lo, hi;
    if (b < h->n && h->blocks[b].start < end && glibc_block_extent(h->blocks[b].start, &lo, &hi) &&
        lo < best.lo)
        best = (struct root_range){lo, hi};
    else if (b < h->n && h->blocks[b].start < end && h->blocks[b].start < best.lo)
        best = (struct root_range){h->blocks[b].start, h->blocks[b].start + h->blocks[b].size};
    return best;
}

/* The `n` words at `a`, read the way mappings are scanned (through the
 * kernel: a mapping unmapped under a live scan is no fault; directly when
 * the kernel refuses, as mark_range_safe does). returns: false if unread. */
static bool read_words(uintptr_t a, size_t *w, size_t n)
{
    long got = sys_read_self(w, a, n * sizeof *w);
    if (got < 0) {
        memcpy(w, (const void *)a, n * sizeof *w);
        return true;
    }
    return (size_t)got == n * sizeof *w;
}

/* Scans an anonymous writable mapping as a root, minus its exclusions.
 * A mapping holding a thread's stack pointer is a stack and is skipped.
 * So is memory glibc's malloc owns whole (glibc.h) where a mapping the
 * kernel merged into this one begins (the mapping's start, or the end of
 * an exclusion): untracked, it is the shim's own (libdw's chunks, the
 * checker thread's arena), which grows with every symbolised report; as
 * roots it made each pause scan megabytes that hold no program pointer. */
static void mark_mapping(const struct roots *r, struct heap *h, const struct world *w,
                         const struct mapping *m, uintptr_t self_sp)
{
    if (!m->anon || !m->readable || !m->writable)
        return;
    if (self_sp >= m->lo && self_sp < m->hi)
        return;
    for (unsigned i = 0; w && i < w->n_stopped; i++)
        if (w->stopped[i].sp >= m->lo && w->stopped[i].sp < m->hi)
            return;
    uintptr_t cur = m->lo;
    while (cur < m->hi) {
        size_t head[4];
        uintptr_t owned = cur % 4096 == 0 && read_words(cur, head, 4)
                              ? glibc_owned_end(cur, m->hi, head)
                              : 0;
        if (owned) {
            cur = owned;
            continue;
        }
        struct root_range x = next_exclusion(r, h, cur, m->hi);
        if (x.lo > cur)
            mark_range_safe(h, cur, GS_MIN(x.lo, m->hi));
        cur = GS_MAX(cur, x.hi);
    }
}

void roots_mark_world(struct roots *r, struct heap *h, const struct world *w, uintptr_t self_sp)
{
    h->vtables = r->vtables;
    h->n_vtables = r->n_vtables;
    for (size_t i = 0; i < r->n; i++)
        mark_checked(r, h, r->ranges[i].lo, r->ranges[i].hi);
    mark_thread(r, h, self_sp, (uintptr_t)__builtin_thread_pointer());
    for (unsigned i = 0; i < w->n_stopped; i++) {
        const struct stopped_thread *t = &w->stopped[i];
        mark_thread(r, h, t->sp, t->tp);
        if (t->inflight_new) {
            mark_range(h, t->inflight_new, t->inflight_new + t->inflight_size);
            long old = t->inflight_old ? heap_find(h, t->inflight_old) : -1;
            if (old >= 0 && h->blocks[old].start == t->inflight_old)
                h->state[old] = BS_REACHED; /* freed by glibc already: never scan it */
        }
    }
    /* A thread that could not be stopped: its whole registered stack, stale
     * frames included (over-marking can hide a leak, never invent one). */
    for (unsigned i = 0; i < w->n_unstopped; i++)
        for (size_t s = 0; s < r->n_stacks; s++)
            if (r->stacks[s].tid == w->unstopped[i])
                mark_range_safe(h, r->stacks[s].stack_lo, r->stacks[s].stack_hi);
    if (opt.scan_mappings)
        for (size_t i = 0; i < r->n_maps; i++)
            mark_mapping(r, h, w, &r->maps[i], self_sp);
}

void roots_mark_flagged(struct heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->blocks[i].flags & (HF_IGNORED | HF_ROOT))
            mark_block_root(h, i);
}

void roots_mark(struct roots *r, struct heap *h, const struct world *w, uintptr_t self_sp)
{
    roots_mark_world(r, h, w, self_sp);
    roots_mark_flagged(h);
}

void roots_mark_live(struct roots *r, struct heap *h)
{
    h->vtables = r->vtables;
    h->n_vtables = r->n_vtables;
    r->live = true;
    for (size_t i = 0; i < r->n; i++)
        mark_checked(r, h, r->ranges[i].lo, r->ranges[i].hi);
    if (opt.scan_mappings)
        for (size_t i = 0; i < r->n_maps; i++)
            mark_mapping(r, h, NULL, &r->maps[i], 0);
    r->live = false;
    roots_mark_flagged(h);
}

int roots_register(uintptr_t p, size_t n)
{
    if (n == 0 || p + n < p)
        return EINVAL;
    spin_lock(&regs.lock);
    int err = ENOMEM;
    if (regs.n < MAX_REGISTERED) {
        regs.r[regs.n++] = (struct root_range){p, p + n};
        err = 0;
    }
    spin_unlock(&regs.lock);
    return err;
}

int roots_unregister(uintptr_t p, size_t n)
{
    int err = EINVAL;
    spin_lock(&regs.lock);
    for (size_t i = 0; i < regs.n; i++) {
        if (regs.r[i].lo == p && regs.r[i].hi == p + n) {
            regs.r[i] = regs.r[--regs.n];
            err = 0;
            break;
        }
    }
    spin_unlock(&regs.lock);
    return err;
}
