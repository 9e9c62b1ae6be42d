/* SPDX-License-Identifier: MIT
 * modules.c: the history of loaded objects (see modules.h). `mods.all`
 * only grows; `mods.cur` is the sorted index of the objects loaded now,
 * rebuilt when the loader's adds/subs counters say the list changed.
 * locks: `mods.lock`, always taken inside the loader lock or alone: a
 * thread holding `mods.lock` never calls dl_iterate_phdr, because a thread
 * inside dlopen holds the loader lock and may call malloc -> modules_find.
 * Never called while a scan holds the handle locks.
 * STW: no. allocates: arena (paths). */
#define _GNU_SOURCE
#include "modules.h"

#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena.h"
#include "init.h"
#include "lock.h"

#define MAX_MODULES 8192

struct cur_entry {
    uintptr_t lo, hi;
    uint16_t idx;
};

static struct {
    struct spinlock lock;
    unsigned n_all, n_cur;
    unsigned long long adds, subs; /* loader counters at the last refresh */
    bool synced;
    char exe_path[4096];
    struct module all[MAX_MODULES];
    struct cur_entry cur[MAX_MODULES];
} mods;

static void read_build_id(struct dl_phdr_info *info, struct module *m)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const char *name = p + sizeof *nh;
            const char *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
                nh->n_descsz <= MODULE_BUILD_ID_MAX) {
                memcpy(m->build_id, desc, nh->n_descsz);
                m->build_id_len = nh->n_descsz;
                return;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

static const char *copy_path(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(n);
    if (p)
        memcpy(p, s, n);
    return p ? p : "";
}

/* Finds or records the object. The first call takes `mods.lock` (inside
 * the loader lock, the allowed order); modules_refresh releases it. */
static int add_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    bool *locked = ctx;
    if (!*locked) {
        spin_lock(&mods.lock);
        *locked = true;
        for (unsigned i = 0; i < mods.n_all; i++)
            mods.all[i].unloaded = true;
        mods.n_cur = 0;
    }
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            lo = GS_MIN(lo, info->dlpi_addr + ph->p_vaddr);
            hi = GS_MAX(hi, info->dlpi_addr + ph->p_vaddr + ph->p_memsz);
        }
    }
    if (lo >= hi || mods.n_cur >= MAX_MODULES)
        return 0;
    const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : NULL;
    if (!name)
        name = mods.exe_path[0] ? mods.exe_path : "[exe]";
    /* LD_PRELOAD=build/libguardshim.so names a module relative to a working
     * directory the report reader may not share. */
    char abs[4096];
    if (name[0] != '/' && name[0] != '[' && strchr(name, '/') && realpath(name, abs))
        name = abs;
    unsigned idx;
    for (idx = 0; idx < mods.n_all; idx++) {
        struct module *m = &mods.all[idx];
        if (m->lo == lo && m->hi == hi && m->base == info->dlpi_addr && !strcmp(m->path, name))
            break;
    }
    if (idx == mods.n_all) {
        if (mods.n_all >= MAX_MODULES - 1)
            return 0;
        struct module *m = &mods.all[mods.n_all];
        m->lo = lo;
        m->hi = hi;
        m->base = info->dlpi_addr;
        m->path = copy_path(name);
        read_build_id(info, m);
        mods.n_all++;
    }
    mods.all[idx].unloaded = false;
    mods.cur[mods.n_cur++] = (struct cur_entry){lo, hi, (uint16_t)idx};
    return 0;
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    unsigned long long *c = ctx;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        c[0] = info->dlpi_adds;
        c[1] = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every callback: stop */
}

static int cmp_cur(const void *a, const void *b)
{
    const struct cur_entry *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Insertion sort: no qsort (it may allocate) and the list is short and nearly sorted. */
static void sort_cur(void)
{
    for (unsigned i = 1; i < mods.n_cur; i++) {
        struct cur_entry v = mods.cur[i];
        unsigned j = i;
        while (j > 0 && cmp_cur(&mods.cur[j - 1], &v) > 0) {
            mods.cur[j] = mods.cur[j - 1];
            j--;
        }
        mods.cur[j] = v;
    }
}

static void refresh(void);

/* pre: no shim lock held (it takes the loader lock). */
void modules_refresh(void)
{
    init_loader_enter();
    refresh();
    init_loader_exit();
}

static void refresh(void)
{
    unsigned long long c[2] = {0, 0};
    dl_iterate_phdr(counters_cb, c);
    if (__atomic_load_n(&mods.synced, __ATOMIC_ACQUIRE) && c[0] == mods.adds && c[1] == mods.subs)
        return;
    if (!mods.exe_path[0]) {
        char path[sizeof mods.exe_path];
        long n = syscall(SYS_readlink, "/proc/self/exe", path, sizeof path - 1);
        path[n > 0 ? n : 0] = 0;
        spin_lock(&mods.lock);
        memcpy(mods.exe_path, path, sizeof path);
        spin_unlock(&mods.lock);
    }
    bool locked = false;
    dl_iterate_phdr(add_cb, &locked);
    if (!locked)
        return;
    sort_cur();
    mods.adds = c[0];
    mods.subs = c[1];
    __atomic_store_n(&mods.synced, true, __ATOMIC_RELEASE);
    spin_unlock(&mods.lock);
}

static uint16_t lookup_locked(uintptr_t pc)
{
    unsigned lo = 0, hi = mods.n_cur;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (pc < mods.cur[mid].lo)
            hi = mid;
        else if (pc >= mods.cur[mid].hi)
            lo = mid + 1;
        else
            return mods.cur[mid].idx;
    }
    return MODULE_NONE;
}

uint16_t modules_find(uintptr_t pc)
{
    spin_lock(&mods.lock);
    uint16_t idx = lookup_locked(pc);
    spin_unlock(&mods.lock);
    if (idx == MODULE_NONE) {
        modules_refresh();
        spin_lock(&mods.lock);
        idx = lookup_locked(pc);
        spin_unlock(&mods.lock);
    }
    return idx;
}

const struct module *modules_get(uint16_t idx)
{
    return idx < __atomic_load_n(&mods.n_all, __ATOMIC_ACQUIRE) ? &mods.all[idx] : NULL;
}

const char *modules_self_path(void)
{
    const struct module *m = modules_get(modules_find((uintptr_t)&modules_self_path));
    return m ? m->path : "libguardshim.so";
}

void modules_atfork_prepare(void) { spin_lock(&mods.lock); }
void modules_atfork_parent(void) { spin_unlock(&mods.lock); }
void modules_atfork_child(void) { spin_reset(&mods.lock); }
