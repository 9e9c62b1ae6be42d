/* SPDX-License-Identifier: MIT
 * check.c: scan + report (check.h).
 * locks: `chk.lock` (reports are not reentrant), then the scan's.
 * STW: no (the scan does it). allocates: through report.c's libraries. */
#include "check.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "exesym.h"
#include "lock.h"
#include "log.h"
#include "options.h"
#include "scan.h"
#include "shmstats.h"
#include "suppress.h"
#include "tstate.h"

static struct {
    struct spinlock lock;
    bool defaults_read;
    atomic_bool final_done;
} chk;

/* A program annotated for LeakSanitizer may turn checking off. A weak
 * reference, bound by the loader, and not dlsym: a failed dlsym would
 * replace the program's pending dlerror() state. */
extern int __lsan_is_turned_off(void) __attribute__((weak));

/* A program annotated for LeakSanitizer may define its default
 * suppressions; without a sanitizer the symbol is usually not exported, so
 * the executable's own symbol table is read too. */
extern const char *__lsan_default_suppressions(void) __attribute__((weak));

static void read_program_defaults(void)
{
    if (chk.defaults_read)
        return;
    chk.defaults_read = true;
    const char *(*fn)(void) = __lsan_default_suppressions;
    if (!fn)
        fn = (const char *(*)(void))exesym_lookup("__lsan_default_suppressions");
    if (fn)
        suppress_add_builtin(fn());
}

int check_run(enum report_trigger trigger, uintptr_t self_sp, bool only_new,
              struct report_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    spin_lock(&chk.lock);
    read_program_defaults();
    struct scan_result r;
    bool periodic = trigger == TRIGGER_INTERVAL || trigger == TRIGGER_SIGNAL;
    struct scan_opts o = {
        self_sp, trigger != TRIGGER_EXIT && opt.reclaim,
        trigger != TRIGGER_EXIT && (opt.scan_mode == SCAN_MODE_SNAPSHOT ||
                                    (opt.scan_mode == SCAN_MODE_AUTO && periodic)),
        trigger != TRIGGER_EXIT && opt.scan_mode == SCAN_MODE_INCREMENTAL};
    int err = scan_run(&r, &o, NULL);
    if (err) {
        log_error("leak check failed: %s", strerror(err));
    } else {
        if (trigger == TRIGGER_EXIT)
            r.n_growing = 0; /* a warning for running processes, not for the exit check */
        report_write(&r, trigger, only_new, tot);
        size_t blocks, bytes;
        scan_last_leaks(&blocks, &bytes);
        shmstats_after_scan(&r, blocks, bytes);
        scan_result_free(&r);
    }
    spin_unlock(&chk.lock);
    return err;
}

void check_final(uintptr_t self_sp)
{
    if (atomic_exchange(&chk.final_done, true))
        return;
    tls.in_shim++;
    int (*off)(void) = __lsan_is_turned_off;
    if (!off)
        off = (int (*)(void))exesym_lookup("__lsan_is_turned_off");
    struct report_totals totals = {0};
    if (!off || !off())
        check_run(TRIGGER_EXIT, self_sp, false, &totals);
    tls.in_shim--;
    if (totals.records && opt.exitcode) {
        shmstats_close(); /* _exit skips the exit handler that would */
        /* Keep the program's buffered output, then fail as LeakSanitizer does. */
        fflush(NULL);
        _exit(opt.exitcode);
    }
}

void check_report_misuse(const struct misuse *m)
{
    spin_lock(&chk.lock);
    report_misuse(m);
    spin_unlock(&chk.lock);
}

void check_atfork_prepare(void) { spin_lock(&chk.lock); }
void check_atfork_parent(void) { spin_unlock(&chk.lock); }
void check_atfork_child(void) { spin_reset(&chk.lock); }
