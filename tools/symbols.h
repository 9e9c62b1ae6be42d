/* SPDX-License-Identifier: MIT
 * symbols.h: symbolisation of report frames that carry only module and
 * offset, with libdw (libdwfl, offline), the way the shim does it.
 * Single-threaded tool: no locks; allocates (malloc, libdw). */
#ifndef GS_TOOLS_SYMBOLS_H
#define GS_TOOLS_SYMBOLS_H

#include "reports.h"

/* Fills in `function`, `file` and `line` of every frame of `set` that
 * lacks a function or a file, from the module file on disk. A module whose
 * build id differs from the frame's `build_id` (rebuilt since the report)
 * is not used. returns: the number of frames completed. */
size_t symbols_resolve(struct reportset *set);

/* Releases the module cache. */
void symbols_end(void);

#endif
