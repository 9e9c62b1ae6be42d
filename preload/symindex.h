/* SPDX-License-Identifier: MIT
 * symindex.h: an address-sorted index over one libdwfl module's symbol
 * table, answering what `dwfl_module_addrname` answers in O(log n) instead
 * of one walk of the whole table per address (elfutils 0.188). Shared by
 * the shim (symbolize.c) and the tool (tools/symbols.c), so the rules that
 * mirror libdw's choice of symbol exist once. The caller owns the memory:
 * the shim maps it with sys_map, the tool mallocs it.
 *
 * libdw's choice, which the lookup reproduces (libdwfl/dwfl_module_addrsym.c):
 * of the named symbols at or below the address (no section, file or TLS
 * symbols, none undefined), a sized one whose range holds the address wins;
 * among several, libdw walks the table in order and takes a symbol that
 * starts closer or binds stronger (global > weak > local), or, at the same
 * start, is smaller and binds no weaker; the first one stays on ties. The
 * globals (from `dwfl_module_getsymtab_first_global`) are walked first and
 * the locals only when no global matched, so a global beats a local alias.
 * Failing that, a size-0 label (hand-written assembly) in the address's
 * section is taken, but only if no symbol below the address reaches past
 * it; of several at that address the last walked wins; a global label
 * exactly at the address keeps libdw from walking the locals at all.
 * x86-64 has no function descriptors, so `dwfl_module_getsym_info`'s
 * address is the only one libdw matches a symbol at.
 * Not thread-safe (libdw's module isn't). Allocates nothing itself; `qsort`
 * and libdw may malloc. */
#ifndef GS_SYMINDEX_H
#define GS_SYMINDEX_H

#include <elfutils/libdwfl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define SYMX_LOCAL 1u   /* walked in libdw's second (locals) pass */
#define SYMX_SPECIAL 2u /* absolute, common or non-allocated: a label there matches only exactly */

struct symindex_ent {
    GElf_Addr start;
    GElf_Xword size;
    GElf_Addr reach; /* the highest end of this entry and every one before it */
    const char *name; /* libdw's string, valid until the Dwfl ends */
    uint32_t order;   /* position in libdw's walk: globals by table index, then locals */
    uint8_t bind;     /* libdw's preference: global 3, weak 2, local 1, other 0 */
    uint8_t flags;    /* SYMX_* */
};

struct symindex {
    struct symindex_ent *ents; /* sorted by start */
    size_t n;
    bool has_locals; /* libdw has a second pass to walk */
};

/* returns: how many entries symindex_build may write for `mod` (its symbol
 * count), 0 when it has no symbol table. */
static inline size_t symindex_capacity(Dwfl_Module *mod)
{
    int n = dwfl_module_getsymtab(mod);
    return n > 0 ? (size_t)n : 0;
}

static inline uint8_t symx_bind(unsigned char info)
{
    switch (GELF_ST_BIND(info)) {
    case STB_GLOBAL:
        return 3;
    case STB_WEAK:
        return 2;
    case STB_LOCAL:
        return 1;
    default:
        return 0;
    }
}

static inline int symx_cmp(const void *a, const void *b)
{
    const struct symindex_ent *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Indexes the symbols libdw's lookup would consider into `ents` (at least
 * symindex_capacity(mod) entries). post: `ix` describes them, sorted. */
static inline void symindex_build(struct symindex *ix, Dwfl_Module *mod,
                                  struct symindex_ent *ents, size_t cap)
{
    *ix = (struct symindex){ents, 0, false};
    int syments = dwfl_module_getsymtab(mod);
    int first_global = dwfl_module_getsymtab_first_global(mod);
    if (syments <= 0 || first_global < 0)
        return;
    /* Index 0 is the null symbol; 0 means "no locals, all one pass". */
    int gstart = first_global == 0 ? 1 : first_global;
    ix->has_locals = gstart > 1;
    for (int i = 1; i < syments && ix->n < cap; i++) {
        GElf_Sym s;
        GElf_Addr value;
        GElf_Word shndx;
        const char *name = dwfl_module_getsym_info(mod, i, &s, &value, &shndx, NULL, NULL);
        int type = GELF_ST_TYPE(s.st_info);
        if (!name || !name[0] || s.st_shndx == SHN_UNDEF || type == STT_SECTION ||
            type == STT_FILE || type == STT_TLS)
            continue;
        bool local = i < gstart;
        ents[ix->n++] = (struct symindex_ent){
            .start = value,
            .size = s.st_size,
            .name = name,
            .order = (uint32_t)(local ? syments + i : i),
            .bind = symx_bind(s.st_info),
            /* getsym_info gives -1 for a non-allocated section. */
            .flags = (uint8_t)((local ? SYMX_LOCAL : 0) | (shndx >= SHN_LORESERVE ? SYMX_SPECIAL : 0)),
        };
    }
    qsort(ents, ix->n, sizeof *ents, symx_cmp);
    GElf_Addr reach = 0;
    for (size_t i = 0; i < ix->n; i++) {
        struct symindex_ent *e = &ents[i];
        /* Saturated: a wrapped end would hide a symbol that holds the address. */
        GElf_Addr end = e->size > UINT64_MAX - e->start ? UINT64_MAX : e->start + e->size;
        reach = end > reach ? end : reach;
        e->reach = reach;
    }
}

/* Whether libdw, having `best` from its walk, takes `c` (walked later) instead. */
static inline bool symx_replaces(const struct symindex_ent *c, const struct symindex_ent *best)
{
    if (best->start < c->start || best->bind < c->bind)
        return true;
    return best->start == c->start && best->size > c->size && best->bind <= c->bind;
}

/* libdw's pick among the sized symbols of one pass (`local`) that hold
 * `addr`; `below` = how many entries start at or below it. They are taken
 * in walk order, smallest `order` first: few symbols hold one address. */
static inline const struct symindex_ent *symx_sized(const struct symindex *ix, size_t below,
                                                    GElf_Addr addr, unsigned local)
{
    const struct symindex_ent *best = NULL;
    uint32_t from = 0;
    for (;;) {
        const struct symindex_ent *next = NULL;
        for (size_t i = below; i-- > 0 && ix->ents[i].reach > addr;) {
            const struct symindex_ent *c = &ix->ents[i];
            if ((c->flags & SYMX_LOCAL) == local && c->size && addr - c->start < c->size &&
                c->order >= from && (!next || c->order < next->order))
                next = c;
        }
        if (!next)
            return best;
        if (!best || symx_replaces(next, best))
            best = next;
        from = next->order + 1;
    }
}

/* Whether libdw counts `value` as in the same section as `addr`: it
 * compares the allocated sections holding the two addresses. */
static inline bool symx_same_section(Dwfl_Module *mod, GElf_Addr value, GElf_Addr addr)
{
    Dwarf_Addr a = value, b = addr, bias;
    return dwfl_module_address_section(mod, &a, &bias) == dwfl_module_address_section(mod, &b, &bias);
}

/* The size-0 label at `at` that libdw falls back to for `addr`: the last
 * walked (entries at one start are in walk order), of the globals only
 * when `globals_only`. NULL when none. */
static inline const struct symindex_ent *symx_label(const struct symindex *ix, Dwfl_Module *mod,
                                                    GElf_Addr at, GElf_Addr addr, bool globals_only)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->ents[mid].start < at)
            lo = mid + 1;
        else
            hi = mid;
    }
    const struct symindex_ent *best = NULL;
    int same = -1; /* section test, done once and only if a label needs it */
    for (size_t i = lo; i < ix->n && ix->ents[i].start == at; i++) {
        const struct symindex_ent *c = &ix->ents[i];
        if (c->size || (globals_only && (c->flags & SYMX_LOCAL)))
            continue;
        if (c->flags & SYMX_SPECIAL) {
            if (at != addr)
                continue;
        } else {
            if (same < 0)
                same = symx_same_section(mod, at, addr);
            if (!same)
                continue;
        }
        best = c;
    }
    return best;
}

/* returns: the name `dwfl_module_addrname(mod, addr)` gives, or NULL.
 * pre: `ix` was built from `mod`. */
static inline const char *symindex_lookup(const struct symindex *ix, Dwfl_Module *mod,
                                          GElf_Addr addr)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->ents[mid].start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct symindex_ent *e = symx_sized(ix, lo, addr, 0);
    if (!e && ix->has_locals && !(e = symx_label(ix, mod, addr, addr, true)))
        e = symx_sized(ix, lo, addr, SYMX_LOCAL);
    /* No symbol holds `addr`, so the highest end below it is where a label
     * must sit: libdw rejects one that a symbol below reaches past. */
    if (!e)
        e = symx_label(ix, mod, ix->ents[lo - 1].reach, addr, false);
    return e ? e->name : NULL;
}

#endif
