/* SPDX-License-Identifier: MIT
 * demangle.h: readable C++ function names (`ns::Widget::make()` for
 * `_ZN2ns6Widget4makeEv`), as LeakSanitizer shows them, with the Itanium
 * C++ ABI demangler of libstdc++.
 * Single-threaded tool: no locks; allocates with malloc. */
#ifndef GS_TOOLS_DEMANGLE_H
#define GS_TOOLS_DEMANGLE_H

#include "reports.h"

/* The demangled form of `name`. Only `_Z` names are C++ linkage names: a C
 * name is never touched (the demangler would read `f` as the type `float`).
 * returns: a malloc'ed string, or NULL when `name` is not a mangled name. */
char *demangle_name(const char *name);

/* Every frame of `set` whose function is a mangled name gets the readable
 * name in `function` and the original in `mangled`. Idempotent.
 * post: `function` is what every output prints and merge keys use. */
void demangle_frames(struct reportset *set);

#endif
