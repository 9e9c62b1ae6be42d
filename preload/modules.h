/* SPDX-License-Identifier: MIT
 * modules.h: a history of every loaded object the process has had: path,
 * load base, address range, build-id. Entries are never removed, only
 * marked unloaded, so PCs captured in a since-dlclose'd library still map
 * to a file and an offset. */
#ifndef GS_MODULES_H
#define GS_MODULES_H

#include "common.h"

#define MODULE_NONE 0xffff
#define MODULE_BUILD_ID_MAX 32

struct module {
    uintptr_t lo, hi;   /* executable address range [lo, hi) */
    uintptr_t base;     /* load bias (dlpi_addr): offset = pc - base */
    const char *path;   /* absolute path, or the exe's /proc/self/exe target */
    unsigned char build_id[MODULE_BUILD_ID_MAX];
    unsigned build_id_len;
    bool unloaded;      /* no longer mapped at [lo, hi) */
};

/* Index of the module that holds `pc` now, or MODULE_NONE.
 * locks: modules lock. Calls dl_iterate_phdr when its view is stale. */
uint16_t modules_find(uintptr_t pc);

/* The module with index `idx` (never NULL for an index modules_find gave).
 * Entries are immutable except `unloaded`. */
const struct module *modules_get(uint16_t idx);

/* Refreshes `unloaded` flags against the loader's current list. */
void modules_refresh(void);

/* Path of the shim itself (for frame #0 of every stack). */
const char *modules_self_path(void);

void modules_atfork_prepare(void);
void modules_atfork_parent(void);
void modules_atfork_child(void);

#endif
