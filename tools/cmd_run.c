/* SPDX-License-Identifier: MIT
 * cmd_run.c: `guardshim run [OPTIONS] -- PROG ARGS...`: runs PROG with
 * libguardshim.so preloaded and GUARDSHIM_OPTIONS built from the flags,
 * collects the JSON report of every process it started (forks and exec'ed
 * programs inherit the preload and write their own, named by pid) in a
 * private directory, prints one summary per process on stderr and exits
 * with the program's status, or with the leak exit code when any process
 * leaked, mirroring the shim.
 *
 * Process handling: guardshim is the child subreaper of everything it
 * starts (prctl PR_SET_CHILD_SUBREAPER), so it waits until the last
 * descendant has exited and every report is complete. SIGINT, SIGTERM,
 * SIGHUP and SIGQUIT sent to guardshim are forwarded to the program; the
 * same signals from the terminal already reach the program (same process
 * group) and are not sent twice. A program killed by a signal makes
 * guardshim die of the same signal.
 * locks: none (single-threaded tool). allocates: malloc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "demangle.h"
#include "emit.h"
#include "reports.h"
#include "symbols.h"
#include "util.h"

static const char usage[] = "guardshim run [OPTIONS] -- PROG [ARGS...]";

static const char help[] =
    "usage: guardshim run [OPTIONS] -- PROG [ARGS...]\n"
    "\n"
    "Runs PROG with libguardshim.so preloaded (an existing LD_PRELOAD is kept,\n"
    "less any libguardshim.so it names: one shim per process), collects the JSON\n"
    "report of every process it starts (children it forks and programs it execs\n"
    "are checked too), and prints one summary per process on stderr: pid,\n"
    "program, leaked bytes and blocks, and the largest records with the function\n"
    "(C++ names demangled), file and line that allocated them.\n"
    "\n"
    "Options (they add to GUARDSHIM_OPTIONS from the environment and win over it):\n"
    "      --json FILE          also write every process's report to FILE, one JSON\n"
    "                           object per line (input for 'guardshim report')\n"
    "      --log DIR            keep the reports as DIR/guardshim.<pid>.json\n"
    "      --suppressions F     suppressions file ('leak:PATTERN' lines)\n"
    "      --interval S         also scan every S seconds while running\n"
    "      --reclaim            free blocks found unreachable in two scans\n"
    "      --depth N            stack frames recorded per allocation (1..64)\n"
    "      --exitcode N         exit status when leaks were found (default 23;\n"
    "                           0 = keep the program's own status)\n"
    "      --follow-children    check and wait for every descendant (default)\n"
    "      --no-follow-children only the program's own process is summarised and\n"
    "                           waited for (children still run under the shim,\n"
    "                           their reports are ignored)\n"
    "  -q, --quiet              print nothing when no process leaked\n"
    "  -h, --help               this help\n"
    "\n"
    "The shim is looked up next to the guardshim binary (../lib/ when installed,\n"
    "the same directory in the build tree); GUARDSHIM_LIB=PATH overrides.\n"
    "\n"
    "Exit status: the program's own; the leak exit code (23) when any process\n"
    "leaked; 128+N, or death by signal N, when the program was killed by it;\n"
    "127 when PROG does not exist (126: not executable); 2 for a bad option.\n";

enum { OPT_JSON = 256, OPT_LOG, OPT_SUPP, OPT_INTERVAL, OPT_RECLAIM, OPT_DEPTH, OPT_EXIT,
       OPT_FOLLOW, OPT_NOFOLLOW };

static const struct option long_opts[] = {
    {"json", required_argument, NULL, OPT_JSON},
    {"log", required_argument, NULL, OPT_LOG},
    {"suppressions", required_argument, NULL, OPT_SUPP},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"reclaim", no_argument, NULL, OPT_RECLAIM},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"exitcode", required_argument, NULL, OPT_EXIT},
    {"follow-children", no_argument, NULL, OPT_FOLLOW},
    {"no-follow-children", no_argument, NULL, OPT_NOFOLLOW},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct run_opts {
    const char *json, *log;
    struct strbuf shim_opts; /* our additions to GUARDSHIM_OPTIONS */
    uint64_t exitcode;
    bool follow, quiet;
};

/* Files of the report directory before the run (for --log DIR). */
struct seen {
    char **names;
    off_t *sizes;
    size_t n;
};

/* The program's pid, for the signal handler. */
static volatile pid_t child_pid;

/* ---- Options ---- */

/* Appends ":key=value" unless `value` holds a separator the shim's option
 * syntax cannot carry. returns: 0 or EXIT_USAGE. */
static int add_opt(struct run_opts *o, const char *flag, const char *key, const char *value)
{
    if (strpbrk(value, ":,")) {
        tool_error("run: %s '%s': contains ':' or ',', which GUARDSHIM_OPTIONS cannot carry",
                   flag, value);
        return EXIT_USAGE;
    }
    sb_printf(&o->shim_opts, ":%s=%s", key, value);
    return 0;
}

static int add_num(struct run_opts *o, const char *flag, const char *key, const char *v,
                   uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t n;
    if (!util_parse_uint(v, max, &n) || n < min)
        return usage_error("run", usage, "%s: not a number in %llu..%llu: '%s'", flag,
                           (unsigned long long)min, (unsigned long long)max, v);
    if (out)
        *out = n;
    return add_opt(o, flag, key, v);
}

/* returns: 0 to run, -1 after --help, or an exit status. */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
    o->exitcode = 23;
    o->follow = true;
    opterr = 0;
    optind = 1;
    int c, rc = 0;
    while (!rc && (c = getopt_long(argc, argv, "+qh", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: o->json = optarg; break;
        case OPT_LOG: o->log = optarg; break;
        case OPT_SUPP: {
            char *abs = realpath(optarg, NULL);
            if (!abs) {
                tool_error("%s: %s", optarg, strerror(errno));
                return EXIT_USAGE;
            }
            rc = add_opt(o, "--suppressions", "suppressions", abs);
            free(abs);
            break;
        }
        case OPT_INTERVAL:
            rc = add_num(o, "--interval", "scan_interval", optarg, 0, 86400, NULL);
            break;
        case OPT_RECLAIM: sb_add(&o->shim_opts, ":reclaim=1"); break;
        case OPT_DEPTH: rc = add_num(o, "--depth", "stack_depth", optarg, 1, 64, NULL); break;
        case OPT_EXIT:
            rc = add_num(o, "--exitcode", "exitcode", optarg, 0, 255, &o->exitcode);
            break;
        case OPT_FOLLOW: o->follow = true; break;
        case OPT_NOFOLLOW: o->follow = false; break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(help, stdout); return -1;
        case ':':
            return usage_error("run", usage, "option '%s' needs a value", argv[optind - 1]);
        default: return usage_error("run", usage, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!rc && optind >= argc)
        return usage_error("run", usage, "no program given");
    return rc;
}

/* ---- The shim and the report directory ---- */

/* returns: malloc'ed absolute path of libguardshim.so, or NULL. */
static char *find_shim(void)
{
    const char *env = getenv("GUARDSHIM_LIB");
    if (env && *env)
        return realpath(env, NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    /* Installed: PREFIX/bin/guardshim + PREFIX/lib/; build tree: build/ holds both. */
    static const char *const rel[] = {"/../lib/libguardshim.so", "/libguardshim.so"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        struct strbuf b = {0};
        sb_printf(&b, "%s%s", exe, rel[i]);
        char *abs = realpath(b.s, NULL);
        sb_free(&b);
        if (abs)
            return abs;
    }
    return NULL;
}

static bool is_report_name(const char *name)
{
    size_t n = strlen(name);
    return !strncmp(name, "guardshim.", 10) && n > 15 && !strcmp(name + n - 5, ".json");
}

static void snapshot(const char *dir, struct seen *s)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        struct stat st;
        if (!is_report_name(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0))
            continue;
        s->names = xrealloc(s->names, (s->n + 1) * sizeof *s->names);
        s->sizes = xrealloc(s->sizes, (s->n + 1) * sizeof *s->sizes);
        s->names[s->n] = xstrdup(e->d_name);
        s->sizes[s->n++] = st.st_size;
    }
    closedir(d);
}

static off_t seen_size(const struct seen *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return s->sizes[i];
    return 0;
}

/* Reads the reports written during the run into `set` and, for --json,
 * appends their text to `all`. Unreadable ones are named and skipped.
 * returns: how many files could not be read. */
static int gather(const char *dir, const struct seen *before, struct reportset *set,
                  struct strbuf *all)
{
    DIR *d = opendir(dir);
    if (!d) {
        tool_error("%s: %s", dir, strerror(errno));
        return 1;
    }
    int bad = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_report_name(e->d_name))
            continue;
        struct strbuf path = {0};
        sb_printf(&path, "%s/%s", dir, e->d_name);
        char *text;
        size_t len;
        int err = util_read_file(path.s, &text, &len);
        size_t skip = (size_t)seen_size(before, e->d_name);
        if (err) {
            tool_error("%s: %s", path.s, strerror(err));
            bad++;
        } else if (skip < len) {
            if (reports_parse(set, path.s, text, len, skip))
                bad++;
            else if (all)
                sb_addn(all, text + skip, len - skip);
        }
        if (!err)
            free(text);
        sb_free(&path);
    }
    closedir(d);
    return bad;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    rmdir(dir);
}

/* ---- Running ---- */

static void forward_cb(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    /* From the terminal (SI_KERNEL) the program got it already: same group. */
    if (child_pid > 0 && si->si_code != SI_KERNEL)
        kill(child_pid, sig);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/* Starts the program. returns: its pid, or -(exit status) when it could
 * not be started (message printed). */
static pid_t start(char **argv, const char *preload, const char *options)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC)) {
        tool_error("pipe: %s", strerror(errno));
        return -EXIT_USAGE;
    }
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaddset(&block, forwarded[i]);
    sigprocmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        setenv("LD_PRELOAD", preload, 1);
        setenv("GUARDSHIM_OPTIONS", options, 1);
        execvp(argv[0], argv);
        int e = errno;
        (void)!write(pfd[1], &e, sizeof e);
        _exit(EXIT_NOPROG);
    }
    int fork_errno = errno;
    child_pid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        tool_error("fork: %s", strerror(fork_errno));
        return -EXIT_USAGE;
    }
    int e = 0;
    ssize_t r;
    while ((r = read(pfd[0], &e, sizeof e)) < 0 && errno == EINTR)
        ;
    close(pfd[0]);
    if (r == (ssize_t)sizeof e) {
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        child_pid = 0;
        tool_error("%s: %s", argv[0], strerror(e));
        return -(e == ENOENT ? EXIT_NOPROG : EXIT_NOEXEC);
    }
    return pid;
}

/* Waits for the program (and, when `all`, every other descendant left to
 * us as subreaper). returns: the program's wait status. */
static int wait_all(pid_t pid, bool all)
{
    int status = 0;
    for (;;) {
        int st;
        pid_t w = waitpid(all ? -1 : pid, &st, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (w == pid) {
            status = st;
            child_pid = 0;
            if (!all)
                break;
        }
    }
    return status;
}

/* Dies of `sig` like the program did (no core of our own), else 128+sig. */
static int die_like(int sig)
{
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(SIG_UNBLOCK, &s, NULL);
    raise(sig);
    return 128 + sig;
}

static int cmp_proc_pid(const void *a, const void *b)
{
    long x = ((const struct proc *)a)->pid, y = ((const struct proc *)b)->pid;
    return (x > y) - (x < y);
}

/* Prints the per-process summaries. returns: true if any process leaked. */
static bool summarise(struct reportset *set, pid_t pid, const struct run_opts *o)
{
    /* The program's own process first, then its descendants by pid. */
    qsort(set->procs, set->nprocs, sizeof *set->procs, cmp_proc_pid);
    for (size_t i = 0; i < set->nprocs; i++)
        if (set->procs[i].pid == pid && i) {
            struct proc p = set->procs[i];
            memmove(set->procs + 1, set->procs, i * sizeof p);
            set->procs[0] = p;
        }
    symbols_resolve(set);
    demangle_frames(set);
    reports_set_keys(set);
    bool leaked = false;
    for (size_t i = 0; i < set->nprocs; i++)
        leaked |= set->procs[i].nrecs > 0;
    if (o->quiet && !leaked)
        return false;
    struct totals all = {0};
    for (size_t i = 0; i < set->nprocs; i++) {
        size_t n;
        struct record *recs = proc_merge(&set->procs[i], &n);
        emit_run_summary(stderr, &set->procs[i], recs, n, 5);
        struct totals t = records_totals(recs, n);
        all.bytes += t.bytes;
        all.blocks += t.blocks;
        free(recs);
    }
    if (set->nprocs > 1)
        fprintf(stderr, "guardshim: %zu processes checked: %llu byte(s) leaked in %llu allocation(s)\n",
                set->nprocs, (unsigned long long)all.bytes, (unsigned long long)all.blocks);
    if (leaked && !o->json && !o->log)
        fprintf(stderr, "guardshim: full stacks: guardshim run --json FILE ..., then "
                        "guardshim report FILE\n");
    return leaked;
}

/* Keeps only the reports of `pid` (for --no-follow-children). */
static void keep_only(struct reportset *set, pid_t pid)
{
    size_t out = 0;
    for (size_t i = 0; i < set->nprocs; i++) {
        if (set->procs[i].pid == pid) {
            set->procs[out++] = set->procs[i];
            continue;
        }
        struct reportset one = {.procs = xmalloc(sizeof(struct proc)), .nprocs = 1};
        one.procs[0] = set->procs[i];
        reports_free(&one);
    }
    set->nprocs = out;
}

static bool has_proc(const struct reportset *set, pid_t pid)
{
    for (size_t i = 0; i < set->nprocs; i++)
        if (set->procs[i].pid == pid)
            return true;
    return false;
}

static int write_json(const char *path, const struct strbuf *all)
{
    FILE *f = fopen(path, "w");
    if (!f || (all->len && fwrite(all->s, 1, all->len, f) != all->len) || fclose(f)) {
        tool_error("%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    return 0;
}

/* True when LD_PRELOAD entry `e` (`n` bytes) is a guardshim shim: this one
 * (`shim`, a realpath) or another copy of it. Two shims in one process
 * would both track and both report, so only `shim` is kept. */
static bool is_shim_entry(const char *e, size_t n, const char *shim)
{
    char *s = xstrndup(e, n);
    char *abs = realpath(s, NULL);
    bool same = (abs && !strcmp(abs, shim)) ||
                !strncmp(util_basename(abs ? abs : s), "libguardshim.so", 15);
    free(abs);
    free(s);
    return same;
}

/* LD_PRELOAD for the program: `shim` first (so its malloc wins), then the
 * entries of `old` in their order, minus any shim. ld.so separates entries
 * by ':' or ' '. returns: a malloc'ed string. */
static char *preload_list(const char *shim, const char *old)
{
    struct strbuf b = {0};
    sb_add(&b, shim);
    for (const char *p = old ? old : ""; *p;) {
        size_t n = strcspn(p, ": ");
        if (n && !is_shim_entry(p, n, shim)) {
            sb_add(&b, ":");
            sb_addn(&b, p, n);
        }
        p += n;
        p += strspn(p, ": ");
    }
    return b.s;
}

/* Builds LD_PRELOAD and GUARDSHIM_OPTIONS and the report directory.
 * returns: 0 or an exit status. */
static int prepare(struct run_opts *o, char **preload, char **options, char **dir, bool *tmp)
{
    char *shim = find_shim();
    if (!shim) {
        tool_error("run: cannot find libguardshim.so next to this guardshim (../lib/ or "
                   "its own directory); set GUARDSHIM_LIB=PATH");
        return EXIT_USAGE;
    }
    *preload = preload_list(shim, getenv("LD_PRELOAD"));
    free(shim);

    if (o->log) {
        if (mkdir(o->log, 0700) && errno != EEXIST) {
            tool_error("%s: %s", o->log, strerror(errno));
            return EXIT_USAGE;
        }
        *dir = realpath(o->log, NULL);
        if (!*dir) {
            tool_error("%s: %s", o->log, strerror(errno));
            return EXIT_USAGE;
        }
        *tmp = false;
    } else {
        const char *t = getenv("TMPDIR");
        struct strbuf p = {0};
        /* A TMPDIR the option syntax cannot carry falls back to /tmp. */
        sb_printf(&p, "%s/guardshim.XXXXXX", t && *t && !strpbrk(t, ":,") ? t : "/tmp");
        if (!mkdtemp(p.s)) {
            tool_error("%s: %s", p.s, strerror(errno));
            sb_free(&p);
            return EXIT_USAGE;
        }
        *dir = p.s;
        *tmp = true;
    }
    /* The shim expands `%p` and `%%` in log_path: escape the directory's own `%`. */
    struct strbuf lp = {0};
    for (const char *s = *dir; *s; s++)
        sb_add(&lp, *s == '%' ? "%%" : (char[]){*s, 0});
    sb_add(&lp, "/guardshim.%p.json");
    struct strbuf opts = {0};
    const char *env = getenv("GUARDSHIM_OPTIONS");
    if (env && *env)
        sb_printf(&opts, "%s:", env);
    /* Later keys win in the shim's parser: ours come last. */
    sb_add(&opts, "format=json");
    int rc = add_opt(o, "--log", "log_path", lp.s);
    sb_free(&lp);
    if (o->shim_opts.s)
        sb_add(&opts, o->shim_opts.s);
    *options = opts.s;
    return rc;
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = {0};
    char *preload = NULL, *options = NULL, *dir = NULL;
    bool tmp = false;
    struct seen before = {0};
    struct reportset set = {0};
    struct strbuf all = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        goto out;
    rc = prepare(&o, &preload, &options, &dir, &tmp);
    if (rc)
        goto out;
    if (!tmp)
        snapshot(dir, &before);

    struct sigaction sa = {.sa_sigaction = forward_cb, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
        sigaction(forwarded[i], &sa, NULL);
    if (o.follow)
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

    pid_t pid = start(argv + optind, preload, options);
    if (pid < 0) {
        rc = -pid;
        goto out;
    }
    int status = wait_all(pid, o.follow);

    gather(dir, &before, &set, o.json ? &all : NULL);
    if (!o.follow)
        keep_only(&set, pid);
    if (WIFEXITED(status) && !has_proc(&set, pid) && !o.quiet)
        fprintf(stderr, "guardshim: pid %d %s: no report (this process was not checked)\n",
                (int)pid, argv[optind]);
    bool leaked = summarise(&set, pid, &o);
    if (o.json && write_json(o.json, &all))
        rc = EXIT_USAGE;
    if (WIFSIGNALED(status)) {
        if (tmp)
            remove_dir(dir);
        tmp = false;
        fflush(NULL);
        rc = die_like(WTERMSIG(status));
    } else if (!rc) {
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
        if (leaked && o.exitcode)
            rc = (int)o.exitcode;
    }
out:
    if (tmp && dir)
        remove_dir(dir);
    for (size_t i = 0; i < before.n; i++)
        free(before.names[i]);
    free(before.names);
    free(before.sizes);
    reports_free(&set);
    symbols_end();
    sb_free(&all);
    sb_free(&o.shim_opts);
    free(preload);
    free(options);
    free(dir);
    return rc < 0 ? 0 : rc;
}
