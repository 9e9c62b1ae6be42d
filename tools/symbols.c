/* SPDX-License-Identifier: MIT
 * symbols.c: offline libdwfl symbolisation (see symbols.h). Each module
 * file gets its own Dwfl reporting the ELF at bias 0 with add_p_vaddr, so
 * it is queried with the report's `offset` (the link-time address), as the
 * shim's symbolize.c does; return addresses (every frame but #0) are looked
 * up at offset - 1 so the call's line is found, not the next one.
 * Function names come from a per-module index of the symbol table shared
 * with the shim (symindex.h): libdw's `dwfl_module_addrname` walks the
 * whole table per address, seconds for a report of 5,000 stacks.
 * Only regular files are opened (a FIFO named as a module would block).
 * locks: none (single-threaded tool). allocates: malloc, libdw. */
#define _GNU_SOURCE
#include "symbols.h"

#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../preload/symindex.h"
#include "util.h"

struct symmod {
    char *path;
    Dwfl *dwfl; /* NULL: could not be opened */
    Dwfl_Module *mod;
    struct symindex ix;
    char *build_id; /* hex, NULL if the file has none */
};

static struct {
    struct symmod *mods;
    size_t n;
} ctx;

static const Dwfl_Callbacks offline_callbacks = {
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static struct symmod *module_open(const char *path)
{
    for (size_t i = 0; i < ctx.n; i++)
        if (!strcmp(ctx.mods[i].path, path))
            return &ctx.mods[i];
    ctx.mods = xrealloc(ctx.mods, (ctx.n + 1) * sizeof *ctx.mods);
    struct symmod *m = &ctx.mods[ctx.n++];
    memset(m, 0, sizeof *m);
    m->path = xstrdup(path);
    if (path[0] != '/')
        return m;
    /* A report names any path: only a regular file may be read. Opened
     * non-blocking so a FIFO or a device cannot hang the open, then checked
     * on the open file itself, so it cannot be swapped after the check. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return m;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !(m->dwfl = dwfl_begin(&offline_callbacks))) {
        close(fd);
        return m;
    }
    dwfl_report_begin(m->dwfl);
    /* On success libdwfl owns `fd` (dwfl_end closes it); on failure it is
     * still ours (or already closed if libdwfl decompressed the file, and
     * then close fails harmlessly with EBADF). */
    m->mod = dwfl_report_elf(m->dwfl, path, path, fd, 0, true);
    dwfl_report_end(m->dwfl, NULL, NULL);
    if (!m->mod) {
        close(fd);
        dwfl_end(m->dwfl);
        m->dwfl = NULL;
        return m;
    }
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(m->mod, &bits, &vaddr);
    if (len > 0) {
        m->build_id = xmalloc(2 * (size_t)len + 1);
        for (int i = 0; i < len; i++)
            snprintf(m->build_id + 2 * i, 3, "%02x", bits[i]);
    }
    size_t cap = symindex_capacity(m->mod);
    symindex_build(&m->ix, m->mod, cap ? xmalloc(cap * sizeof *m->ix.ents) : NULL, cap);
    return m;
}

/* `name@@VERSION` -> `name`: versions are not part of the names people use. */
static char *strip_version(const char *name)
{
    const char *at = strchr(name, '@');
    return at && at != name ? xstrndup(name, (size_t)(at - name)) : xstrdup(name);
}

static bool resolve_frame(struct frame *f, bool is_return)
{
    struct symmod *m = module_open(f->module);
    if (!m->dwfl)
        return false;
    /* A rebuilt module would give confidently wrong names. */
    if (f->build_id && m->build_id && strcmp(f->build_id, m->build_id))
        return false;
    GElf_Addr addr = f->off - (is_return && f->off ? 1 : 0);
    bool done = false;
    if (!f->function) {
        const char *name = symindex_lookup(&m->ix, m->mod, addr);
        if (name) {
            f->function = strip_version(name);
            done = true;
        }
    }
    if (!f->file) {
        Dwfl_Line *l = dwfl_module_getsrc(m->mod, addr);
        int line = 0;
        const char *file = l ? dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL) : NULL;
        if (file && line > 0) {
            f->file = xstrdup(file);
            f->line = line;
            done = true;
        }
    }
    return done;
}

size_t symbols_resolve(struct reportset *set)
{
    size_t done = 0;
    for (size_t i = 0; i < set->nprocs; i++)
        for (size_t j = 0; j < set->procs[i].nrecs; j++) {
            struct record *r = &set->procs[i].recs[j];
            for (size_t k = 0; k < r->nframes; k++)
                if (!r->frames[k].function || !r->frames[k].file)
                    done += resolve_frame(&r->frames[k], k > 0);
        }
    return done;
}

void symbols_end(void)
{
    for (size_t i = 0; i < ctx.n; i++) {
        if (ctx.mods[i].dwfl)
            dwfl_end(ctx.mods[i].dwfl);
        free(ctx.mods[i].path);
        free(ctx.mods[i].build_id);
        free(ctx.mods[i].ix.ents);
    }
    free(ctx.mods);
    ctx.mods = NULL;
    ctx.n = 0;
}
