/* SPDX-License-Identifier: MIT
 * interpose.h: set-up of the malloc wrappers. */
#ifndef GS_INTERPOSE_H
#define GS_INTERPOSE_H

/* Resolves glibc's malloc_usable_size. pre: tls.in_shim > 0 (dlsym may allocate). */
void interpose_init(void);

#endif
