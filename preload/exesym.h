/* SPDX-License-Identifier: MIT
 * exesym.h: find a function the main program defines but does not export
 * (__lsan_default_suppressions in a program built without a sanitizer),
 * from the executable's own symbol table, read with libelf. */
#ifndef GS_EXESYM_H
#define GS_EXESYM_H

#include "common.h"

/* returns: the run-time address of `name` in the main executable, or NULL.
 * Not on any hot path: opens and reads /proc/self/exe. */
void *exesym_lookup(const char *name);

#endif
