/* SPDX-License-Identifier: MIT
 * symbolize.h: PC -> function, source file and line, with elfutils'
 * libdwfl. Each module (modules.h index) is opened from its file on disk,
 * offline, so modules that were dlclose'd since symbolise too; a module
 * whose file now has a different build-id than the one loaded is not
 * symbolised (its names would be wrong). Function names come from the
 * symbol tables (.symtab or .dynsym, so stripped libraries give names);
 * file:line from DWARF when present (own or separate debuginfo). C++
 * names are demangled, as LeakSanitizer shows them, with the demangler of
 * the libstdc++ the process already has loaded (the shim never links it:
 * it would load libstdc++ into every C process); without one (a pure C
 * process, which has no C++ frames to name) names stay as they are.
 * Usage: symbolize_begin(); symbolize_pc()...; symbolize_end(). Results
 * are cached per (module, pc) for the session, so shared frames cost one
 * lookup. After resume only, and with tls.in_shim > 0: libdw and the
 * demangler allocate with the process's malloc, which the shim then
 * forwards to glibc untracked. Not thread-safe: one session at a
 * time, under the caller's report lock. */
#ifndef GS_SYMBOLIZE_H
#define GS_SYMBOLIZE_H

#include "common.h"

struct sym_frame {
    const char *function; /* NULL when unknown; demangled when it was a C++ name */
    const char *mangled;  /* the symbol's own name when `function` is its demangling, else NULL */
    const char *file;     /* NULL when unknown; as DWARF composes it (usually absolute) */
    unsigned line;        /* 0 when unknown */
};

/* Starts a session (drops nothing: sessions do not nest). */
void symbolize_begin(void);

/* Symbolises `pc` of module `mod` (MODULE_NONE or an unknown index gives an
 * empty result). `is_return` is true for frames >= 1, whose PC is a return
 * address: pc - 1 is looked up so the call's line, not the next one, is
 * found. The strings stay valid until symbolize_end(). Never fails: what
 * is unknown is NULL / 0. */
void symbolize_pc(uint16_t mod, uintptr_t pc, bool is_return, struct sym_frame *out);

/* Ends the session: closes every module, frees libdw's memory. */
void symbolize_end(void);

#endif
