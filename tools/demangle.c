/* SPDX-License-Identifier: MIT
 * demangle.c: C++ names for people (see demangle.h). libstdc++'s
 * `__cxa_demangle` is the Itanium C++ ABI's own demangler (the one gcc's
 * and clang's runtimes ship), declared here because <cxxabi.h> is C++ only.
 * Clone suffixes (`.cold`, `.isra.0`) come out as `[clone .cold]`.
 * locks: none (single-threaded tool). allocates: malloc (the demangler's). */
#define _GNU_SOURCE
#include "demangle.h"

#include <stdlib.h>
#include <string.h>

/* Itanium C++ ABI 3.4: returns a malloc'ed string (buf NULL), or NULL with
 * *status < 0 when `mangled` is not a valid mangled name. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

char *demangle_name(const char *name)
{
    if (!name || strncmp(name, "_Z", 2))
        return NULL;
    int status = 0;
    char *d = __cxa_demangle(name, NULL, NULL, &status);
    if (status || !d) {
        free(d);
        return NULL;
    }
    return d;
}

void demangle_frames(struct reportset *set)
{
    for (size_t i = 0; i < set->nprocs; i++)
        for (size_t j = 0; j < set->procs[i].nrecs; j++) {
            struct record *r = &set->procs[i].recs[j];
            for (size_t k = 0; k < r->nframes; k++) {
                struct frame *f = &r->frames[k];
                char *d = demangle_name(f->function);
                if (!d)
                    continue;
                free(f->mangled);
                f->mangled = f->function;
                f->function = d;
            }
        }
}
