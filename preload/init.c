/* SPDX-License-Identifier: MIT
 * init.c: the shim's lifecycle and process-level hooks.
 * States: preinit -> bootstrap (one thread initialises; every allocation
 * meanwhile passes through untracked) -> ready; any internal failure
 * moves to degraded: a pass-through allocator, one line on stderr.
 * Hooks: the constructor registers the exit check with atexit (so it runs
 * after every atexit handler the program registers later) and the
 * pthread_atfork handlers that take every shim lock around fork.
 * locks: all of them, in lock.h's order, around fork. STW: no. */
#define _GNU_SOURCE
#include "init.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "arena.h"
#include "check.h"
#include "cmark.h"
#include "depot.h"
#include "guardian.h"
#include "handle.h"
#include "owners.h"
#include "sys.h"
#include "interpose.h"
#include "live.h"
#include "log.h"
#include "modules.h"
#include "options.h"
#include "report.h"
#include "roots.h"
#include "scan.h"
#include "shmstats.h"
#include "threads.h"
#include "tstate.h"
#include "unwind.h"
#include "world.h"

atomic_int shim_state;
atomic_int shim_forking;
atomic_int shim_loader_users;

static struct {
    uintptr_t ldso_lo, ldso_hi;
} life;

static int ldso_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "/ld-linux"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            life.ldso_lo = info->dlpi_addr + ph->p_vaddr;
            life.ldso_hi = life.ldso_lo + ph->p_memsz;
        }
    }
    return 1;
}

bool init_pc_in_ldso(uintptr_t pc) { return pc >= life.ldso_lo && pc < life.ldso_hi; }

void init_degrade(const char *reason)
{
    int s = atomic_exchange(&shim_state, ST_DEGRADED);
    if (s != ST_DEGRADED)
        log_error("disabled: %s; continuing without leak detection", reason);
}

/* Every shim lock, in lock.h's order: the child gets consistent tables
 * and no lock held by a thread that does not exist in it. */
static void atfork_prepare(void)
{
    tls.in_shim++;
    check_atfork_prepare();
    scan_atfork_prepare();
    /* From here the malloc path waits for the fork (interpose.c); let the
     * threads inside the loader's lock on our behalf leave it, or the child
     * would inherit it locked. */
    atomic_store(&shim_forking, 1);
    while (atomic_load(&shim_loader_users) > 0)
        sched_yield();
    handle_atfork_prepare();
    guardian_atfork_prepare();
    depot_atfork_prepare();
    modules_atfork_prepare();
    threads_atfork_prepare();
    owners_atfork_prepare();
    arena_atfork_prepare();
    sys_atfork_prepare();
}

static void atfork_parent(void)
{
    sys_atfork_parent();
    arena_atfork_parent();
    owners_atfork_parent();
    threads_atfork_parent();
    modules_atfork_parent();
    depot_atfork_parent();
    guardian_atfork_parent();
    handle_atfork_parent();
    scan_atfork_parent();
    check_atfork_parent();
    interpose_apply_deferred_frees();
    atomic_store(&shim_forking, 0);
    tls.in_shim--;
}

static void atfork_child(void)
{
    sys_atfork_child();
    arena_atfork_child();
    owners_atfork_child();
    threads_atfork_child();
    modules_atfork_child();
    depot_atfork_child();
    guardian_atfork_child();
    handle_atfork_child();
    scan_atfork_child();
    cmark_atfork_child();
    check_atfork_child();
    interpose_apply_deferred_frees();
    atomic_store(&shim_forking, 0);
    tls.in_shim--;
    shmstats_atfork_child();
    live_atfork_child();
}

static bool do_init(void)
{
    interpose_init(); /* malloc_usable_size needs glibc's even when passing through */
    /* A setuid/setgid (or capability-raising) program that got the shim
     * anyway (DT_NEEDED, RUNPATH): the environment belongs to the user who
     * ran it, so GUARDSHIM_OPTIONS (log_path, suppressions, exitcode) is not
     * read at all and the shim passes every call through, silently: no
     * file, no signal handler, no thread, no exit status of its own. */
    if (getauxval(AT_SECURE)) {
        atomic_store(&shim_state, ST_DEGRADED);
        return false;
    }
    opt_parse(getenv("GUARDSHIM_OPTIONS"));
    dl_iterate_phdr(ldso_cb, NULL);
    threads_init();
    roots_init();
    if (unwind_init() || world_init()) {
        init_degrade("initialisation failed");
        return false;
    }
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    return true;
}

bool init_ensure_slow(void)
{
    int expect = ST_PREINIT;
    if (!atomic_compare_exchange_strong(&shim_state, &expect, ST_BOOTSTRAP))
        return atomic_load(&shim_state) == ST_READY;
    tls.in_shim++;
    bool ok = do_init();
    tls.in_shim--;
    if (ok) {
        expect = ST_BOOTSTRAP;
        atomic_compare_exchange_strong(&shim_state, &expect, ST_READY);
    }
    return atomic_load(&shim_state) == ST_READY;
}

/* Runs after the program's own atexit handlers. */
static GS_NOINLINE void exit_check(void)
{
    if (atomic_load(&shim_state) == ST_READY && opt.leak_check_at_exit)
        check_final((uintptr_t)__builtin_frame_address(0));
    shmstats_close();
}

__attribute__((constructor)) static void shim_constructor(void)
{
    if (init_ready()) {
        atexit(exit_check);
        if (opt.shm_stats)
            shmstats_open();
        live_start();
    }
}
