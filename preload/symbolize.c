/* SPDX-License-Identifier: MIT
 * symbolize.c: libdwfl-based symbolisation (see symbolize.h).
 * One Dwfl per module index, because a module seen in the history may
 * overlap (in address) a later one loaded where it was; each Dwfl reports
 * its single ELF at bias 0 with add_p_vaddr, so it is queried with the
 * link-time address `pc - module.base`, which is also right for non-PIE
 * executables (base 0). Function names come from a per-module index of
 * the symbol table (symindex.h), built when the module is opened: libdw's
 * own `dwfl_module_addrname` walks the whole table per address, which made
 * 5,000 distinct stacks cost most of a second. file:line stay with
 * `dwfl_module_getsrc`, which libdw indexes itself. Results are cached in
 * an open-addressing table keyed by (module, looked-up address). C++
 * names are demangled by the process's own libstdc++ (`__cxa_demangle`,
 * found once per session).
 * locks: none (one session at a time, see symbolize.h). STW: never.
 * allocates: sys_map for the tables, the symbol indexes and a string
 * arena; libdw, the demangler and qsort malloc (glibc, untracked).
 * async-signal-safe: no. */
#define _GNU_SOURCE
#include "symbolize.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "modules.h"
#include "symindex.h"
#include "sys.h"

#define SYM_MODULES 65536 /* every uint16_t module index */
#define CACHE_MIN 8192
#define CHUNK_SIZE 65536

enum mod_state { MOD_UNTRIED = 0, MOD_OK, MOD_FAILED };

struct mod_sym {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    struct symindex ix; /* ix.ents NULL (no symbol table, no memory): libdw's walk names */
    size_t ix_cap;      /* entries mapped at ix.ents */
    uint8_t state;
};

/* `key` = looked-up address; `mod1` = module index + 1, 0 marks an empty slot. */
struct cache_entry {
    uintptr_t key;
    uint32_t mod1;
    unsigned line;
    const char *function, *mangled, *file;
};

/* Itanium C++ ABI 3.4 `abi::__cxa_demangle`: a malloc'ed string (buf
 * NULL), or NULL with *status < 0 when `name` is no valid mangled name. */
typedef char *(*demangle_fn)(const char *name, char *buf, size_t *len, int *status);

/* Invariant: when `active`, mods[] covers every index and
 * cache[0..cap) holds n < cap/2 used entries (cap a power of two), or
 * cache is NULL (no memory: lookups go uncached). */
static struct {
    bool active;
    struct mod_sym *mods;
    struct cache_entry *cache;
    size_t cap, n;
    char *debuginfo_path; /* NULL: libdwfl's default search path */
    char *chunk;          /* string arena: sys_map'd chunks chained by their first word */
    size_t chunk_used;
    bool demangle_tried;  /* find_demangler ran this session */
    demangle_fn demangle; /* NULL: no libstdc++ in the process */
    void *stdcxx;         /* dlopen(RTLD_NOLOAD) handle, to drop at the end, or NULL */
} sym;

/* Every module is reported with its file, so there is nothing to find. */
static int find_elf_cb(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                       char **file_name, Elf **elfp)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name, (void)elfp;
    return -1;
}

/* Separate debuginfo, local only. dwfl_standard_find_debuginfo falls back
 * to debuginfod (network, minutes, files in ~/.cache) when
 * DEBUGINFOD_URLS is set: measured with strace on elfutils 0.188. So the
 * build-id path (/usr/lib/debug/.build-id) comes first and the standard
 * search (which adds .gnu_debuglink) only runs when debuginfod is off. */
static int find_debuginfo_cb(Dwfl_Module *mod, void **userdata, const char *modname,
                             Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                             GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                          debuglink_crc, debuginfo_file_name);
    if (fd >= 0)
        return fd;
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (urls && urls[0])
        return -1;
    return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
                                        debuglink_crc, debuginfo_file_name);
}

static const Dwfl_Callbacks offline_callbacks = {
    .find_elf = find_elf_cb,
    .find_debuginfo = find_debuginfo_cb,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &sym.debuginfo_path,
};

void symbolize_begin(void)
{
    if (sym.active)
        return;
    sym.mods = sys_map(SYM_MODULES * sizeof *sym.mods, true);
    sym.cap = CACHE_MIN;
    sym.n = 0;
    sym.cache = sys_map(sym.cap * sizeof *sym.cache, true);
    if (!sym.cache)
        sym.cap = 0;
    sym.active = true;
}

void symbolize_end(void)
{
    if (!sym.active)
        return;
    if (sym.mods) {
        for (size_t i = 0; i < SYM_MODULES; i++) {
            if (sym.mods[i].dwfl)
                dwfl_end(sym.mods[i].dwfl);
            sys_unmap(sym.mods[i].ix.ents, sym.mods[i].ix_cap * sizeof *sym.mods[i].ix.ents);
        }
        sys_unmap(sym.mods, SYM_MODULES * sizeof *sym.mods);
    }
    sys_unmap(sym.cache, sym.cap * sizeof *sym.cache);
    while (sym.chunk) {
        char *next = *(char **)sym.chunk;
        sys_unmap(sym.chunk, CHUNK_SIZE);
        sym.chunk = next;
    }
    if (sym.stdcxx)
        dlclose(sym.stdcxx); /* only drops the reference NOLOAD took */
    memset(&sym, 0, sizeof sym);
}

/* Opens module `m` from disk into its own Dwfl; false when it cannot be
 * used (missing file, not ELF, or replaced by a different build). */
static bool open_module(struct mod_sym *ms, const struct module *m)
{
    const char *path = m->path;
    if (!path || !path[0])
        return false;
    /* modules.c names the exe "[exe]" when /proc/self/exe was unreadable. */
    if (!strcmp(path, "[exe]"))
        path = "/proc/self/exe";
    ms->dwfl = dwfl_begin(&offline_callbacks);
    if (!ms->dwfl)
        return false;
    dwfl_report_begin(ms->dwfl);
    ms->mod = dwfl_report_elf(ms->dwfl, path, path, -1, 0, true);
    dwfl_report_end(ms->dwfl, NULL, NULL);
    if (!ms->mod) {
        log_info(2, "symbolize: cannot open '%s': %s", path, dwfl_errmsg(-1));
        return false;
    }
    const unsigned char *bits;
    GElf_Addr vaddr;
    int len = dwfl_module_build_id(ms->mod, &bits, &vaddr);
    if (m->build_id_len && len > 0 &&
        ((unsigned)len != m->build_id_len || memcmp(bits, m->build_id, (size_t)len))) {
        log_info(1, "symbolize: '%s' changed on disk since it was loaded; not symbolised", path);
        return false;
    }
    ms->ix_cap = symindex_capacity(ms->mod);
    struct symindex_ent *ents = ms->ix_cap ? sys_map(ms->ix_cap * sizeof *ents, true) : NULL;
    if (ents)
        symindex_build(&ms->ix, ms->mod, ents, ms->ix_cap);
    else
        ms->ix_cap = 0;
    return true;
}

static struct mod_sym *get_module(uint16_t idx)
{
    if (!sym.mods || idx == MODULE_NONE)
        return NULL;
    struct mod_sym *ms = &sym.mods[idx];
    if (ms->state == MOD_UNTRIED) {
        const struct module *m = modules_get(idx);
        ms->state = m && open_module(ms, m) ? MOD_OK : MOD_FAILED;
        if (ms->state == MOD_FAILED && ms->dwfl) {
            dwfl_end(ms->dwfl);
            ms->dwfl = NULL;
            ms->mod = NULL;
        }
    }
    return ms->state == MOD_OK ? ms : NULL;
}

static size_t hash_key(uintptr_t key, uint32_t mod1)
{
    uint64_t h = ((uint64_t)key ^ ((uint64_t)mod1 << 48)) * 0x9e3779b97f4a7c15ull;
    return (size_t)(h ^ (h >> 29));
}

/* The slot for (key, mod1): its entry or the empty slot where it belongs. */
static struct cache_entry *cache_slot(struct cache_entry *tab, size_t cap, uintptr_t key,
                                      uint32_t mod1)
{
    size_t i = hash_key(key, mod1) & (cap - 1);
    while (tab[i].mod1 && (tab[i].key != key || tab[i].mod1 != mod1))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Doubles the cache; on failure keeps the old one (callers then stop inserting). */
static bool cache_grow(void)
{
    size_t ncap = sym.cap * 2;
    struct cache_entry *nt = sys_map(ncap * sizeof *nt, true);
    if (!nt)
        return false;
    for (size_t i = 0; i < sym.cap; i++)
        if (sym.cache[i].mod1)
            *cache_slot(nt, ncap, sym.cache[i].key, sym.cache[i].mod1) = sym.cache[i];
    sys_unmap(sym.cache, sym.cap * sizeof *sym.cache);
    sym.cache = nt;
    sym.cap = ncap;
    return true;
}

/* Copies s[0..n) into the session's string arena; NULL when out of memory. */
static const char *arena_strndup(const char *s, size_t n)
{
    if (n + 1 > CHUNK_SIZE - sizeof(char *))
        return NULL;
    if (!sym.chunk || sym.chunk_used + n + 1 > CHUNK_SIZE) {
        char *c = sys_map(CHUNK_SIZE, false);
        if (!c)
            return NULL;
        *(char **)c = sym.chunk;
        sym.chunk = c;
        sym.chunk_used = sizeof(char *);
    }
    char *d = sym.chunk + sym.chunk_used;
    memcpy(d, s, n);
    d[n] = 0;
    sym.chunk_used += n + 1;
    return d;
}

/* `__libc_start_main@@GLIBC_2.34` -> `__libc_start_main`: symbol versions
 * are not part of the name people write in suppressions (LSan drops them). */
static const char *strip_version(const char *name)
{
    const char *at = name ? strchr(name, '@') : NULL;
    if (!at || at == name)
        return name;
    const char *copy = arena_strndup(name, (size_t)(at - name));
    return copy ? copy : name;
}

/* Bound by the loader, not looked up with dlsym: any dl* call, even one
 * that succeeds, drops the calling thread's pending dlerror(), and a
 * report may run on a program's thread (gs_check_leaks, a misuse); check.c
 * binds __lsan_is_turned_off the same way. Set when libstdc++ was in the
 * global scope at startup: in every C++ program. */
extern char *__cxa_demangle(const char *name, char *buf, size_t *len, int *status)
    __attribute__((weak));

/* dl_iterate_phdr: the path of a loaded libstdc++, copied into `data`. */
static int find_stdcxx_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *slash = strrchr(info->dlpi_name, '/');
    const char *base = slash ? slash + 1 : info->dlpi_name;
    if (strncmp(base, "libstdc++.so", 12) != 0 || strlen(info->dlpi_name) >= PATH_MAX)
        return 0;
    strcpy(data, info->dlpi_name);
    return 1;
}

/* The demangler of the libstdc++ already in the process, looked up once per
 * session and only when a C++ name needs it. The shim does not link
 * libstdc++: that would load it into every C process. A pure C process
 * has none, and no C++ frames either; its names stay as they are. A
 * libstdc++ that came later (dlopen'ed, or brought RTLD_LOCAL by a C++
 * extension of python3) is taken with RTLD_NOLOAD, which never loads
 * anything; only this rare path costs the reporting thread's pending
 * dlerror(). After libstdc++ was dlclose'd, C++ names stay mangled. */
static demangle_fn find_demangler(void)
{
    if (sym.demangle_tried)
        return sym.demangle;
    sym.demangle_tried = true;
    sym.demangle = __cxa_demangle;
    char path[PATH_MAX];
    if (!sym.demangle && dl_iterate_phdr(find_stdcxx_cb, path) == 1) {
        sym.stdcxx = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
        if (sym.stdcxx)
            sym.demangle = (demangle_fn)dlsym(sym.stdcxx, "__cxa_demangle");
    }
    return sym.demangle;
}

/* Demangles the C++ linkage name `name` into the arena. Only `_Z` names
 * are C++ ones: the demangler would read a C name like `f` as a type.
 * returns: the demangled copy, or NULL (not C++, no demangler, invalid).
 * The result is released with `free`, the one the demangler's `malloc`
 * pairs with: both bind in the global scope, so under the shim they are
 * its own entry points, which pass straight through to glibc (the caller
 * holds tls.in_shim, see symbolize.h), and in a driver linked with these
 * objects (tests/unit, ASan's malloc) they are that allocator's. */
static const char *demangle(const char *name)
{
    if (!name || strncmp(name, "_Z", 2) != 0)
        return NULL;
    demangle_fn fn = find_demangler();
    if (!fn)
        return NULL;
    int status = -1;
    char *d = fn(name, NULL, NULL, &status);
    const char *copy = d && status == 0 ? arena_strndup(d, strlen(d)) : NULL;
    free(d);
    return copy;
}

static void lookup(struct mod_sym *ms, GElf_Addr addr, struct sym_frame *out)
{
    const char *name = ms->ix.ents ? symindex_lookup(&ms->ix, ms->mod, addr)
                                   : dwfl_module_addrname(ms->mod, addr);
    out->function = strip_version(name);
    const char *readable = demangle(out->function);
    if (readable) {
        out->mangled = out->function;
        out->function = readable;
    }
    Dwfl_Line *l = dwfl_module_getsrc(ms->mod, addr);
    int line = 0;
    const char *file = l ? dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL) : NULL;
    if (file && line > 0) {
        out->file = file;
        out->line = (unsigned)line;
    }
}

void symbolize_pc(uint16_t mod, uintptr_t pc, bool is_return, struct sym_frame *out)
{
    memset(out, 0, sizeof *out);
    if (!sym.active || mod == MODULE_NONE)
        return;
    const struct module *m = modules_get(mod);
    if (!m || pc < m->base)
        return;
    uintptr_t key = pc - m->base - (is_return && pc > m->base ? 1 : 0);
    uint32_t mod1 = (uint32_t)mod + 1;
    struct cache_entry *e = NULL;
    if (sym.cache) {
        e = cache_slot(sym.cache, sym.cap, key, mod1);
        if (e->mod1) {
            *out = (struct sym_frame){e->function, e->mangled, e->file, e->line};
            return;
        }
    }
    struct mod_sym *ms = get_module(mod);
    if (ms)
        lookup(ms, key, out);
    if (!e)
        return;
    if ((sym.n + 1) * 2 > sym.cap) {
        if (!cache_grow())
            return;
        e = cache_slot(sym.cache, sym.cap, key, mod1);
    }
    *e = (struct cache_entry){key, mod1, out->line, out->function, out->mangled, out->file};
    sym.n++;
}
