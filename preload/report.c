/* SPDX-License-Identifier: MIT
 * report.c: the leak report (DESIGN §4). From the scanner's unordered
 * `leak_block`s it builds records grouped by (kind, stack, owner), drops
 * the suppressed ones, sorts the rest by bytes (largest first; ties by
 * blocks, then stack id, kind, owner, so output is deterministic),
 * symbolises their frames and writes text (LeakSanitizer's shape) or one
 * JSON line to `log_path` (opened per report, never cached) or stderr.
 * Text extensions to LSan's shape, kept parseable (LSan parsers match
 * "<Kind> leak of N byte(s) in M object(s) allocated from:"): the kind
 * "Possible" for interior-pointer-only blocks, and after the colon the tags
 * ` [cycle]` (entry block of a leaked cycle), ` [grown]` (a recoverable
 * report shows a group again because it grew) and ` [owner N "name"]`
 * (the name JSON-quoted, so it stays on its line; JSON: "owner_name").
 * Totals: leaked_* = direct + indirect + possible of the groups that
 * survived suppression (what the exit code decision should see): the
 * scan's totals, also in recoverable reports, which show only the groups
 * that are new or grew (DESIGN §4: the summary describes the scan).
 * locks: none of its own; the caller serialises reports. STW: never (after
 * resume). allocates: sys_map for the grouping arrays; libdw mallocs.
 * async-signal-safe: no. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "depot.h"
#include "json.h"
#include "leakhist.h"
#include "log.h"
#include "misuse.h"
#include "modules.h"
#include "options.h"
#include "outbuf.h"
#include "owners.h"
#include "suppress.h"
#include "symbolize.h"
#include "sys.h"

/* Weak: the report's unit test links report.c without owners.c
 * (tests/unit/run-report-test); there owners have no names. */
extern const char *owners_name(uint32_t id) __attribute__((weak));

static const char *owner_name(uint32_t id) { return owners_name ? owners_name(id) : NULL; }

/* One group of leaked blocks with the same (kind, stack, owner). */
struct record {
    uint64_t bytes, blocks;
    stack_id stack;
    uint32_t owner;
    uint8_t kind;
    bool cycle;
    bool grown;  /* shown before by a recoverable report, now larger */
};

/* Sort key for grouping: `ks` = kind << 32 | stack; `idx` into the leaks. */
struct group_key {
    uint64_t ks;
    uint32_t owner, idx;
};

/* One frame, resolved. `m` NULL: the PC is in no known module. */
struct frame {
    uintptr_t pc, offset;
    const struct module *m;
    struct sym_frame s;
};

/* Per-report state: one report at a time (the caller serialises). */
static struct {
    struct record *recs;
    size_t n_recs, recs_bytes;
    uint64_t kind_bytes[KIND_COUNT];
    uint64_t leaked_blocks;
    size_t suppressed; /* records dropped by a suppression */
    const char *self_path;
} rep;

static const char *const kind_json[KIND_COUNT] = {"direct", "indirect", "possible"};
static const char *const kind_text[KIND_COUNT] = {"Direct", "Indirect", "Possible"};

/* ---- Sorting (in place, no allocation: qsort may malloc) ---- */

static void swap_bytes(char *a, char *b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void sift_down(char *base, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
            child++;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        swap_bytes(base + root * size, base + child * size, size);
        root = child;
    }
}

/* Heapsort: O(n log n) worst case, O(1) memory; keys are total orders, so
 * its instability cannot change the output. */
static void heap_sort(void *arr, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    char *base = arr;
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(base, i, n, size, cmp);
    for (size_t end = n - 1; end > 0; end--) {
        swap_bytes(base, base + end * size, size);
        sift_down(base, 0, end, size, cmp);
    }
}

static int cmp_group_key(const void *a, const void *b)
{
    const struct group_key *x = a, *y = b;
    if (x->ks != y->ks)
        return x->ks < y->ks ? -1 : 1;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* Report order: bytes, then blocks, largest first; then stack, kind, owner. */
static int cmp_record(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    if (x->stack != y->stack)
        return x->stack < y->stack ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->owner < y->owner ? -1 : x->owner > y->owner;
}

/* ---- Grouping ---- */

/* Fills rep.recs with one record per (kind, stack, owner). Blocks with a
 * kind outside enum leak_kind are skipped (never trusted as an index).
 * returns: 0 or ENOMEM (then there are no records). */
static int group_blocks(const struct leak_block *leaks, size_t n)
{
    if (!leaks || n == 0)
        return 0;
    size_t keys_bytes = n * sizeof(struct group_key);
    struct group_key *keys = sys_map(keys_bytes, true);
    if (!keys)
        return ENOMEM;
    size_t nk = 0;
    for (size_t i = 0; i < n; i++) {
        if (leaks[i].kind >= KIND_COUNT)
            continue;
        keys[nk++] = (struct group_key){(uint64_t)leaks[i].kind << 32 | leaks[i].stack,
                                        leaks[i].owner, (uint32_t)i};
    }
    heap_sort(keys, nk, sizeof *keys, cmp_group_key);
    rep.recs_bytes = GS_MAX(nk, (size_t)1) * sizeof(struct record);
    rep.recs = sys_map(rep.recs_bytes, true);
    if (!rep.recs) {
        sys_unmap(keys, keys_bytes);
        return ENOMEM;
    }
    for (size_t i = 0; i < nk; i++) {
        const struct leak_block *b = &leaks[keys[i].idx];
        if (i == 0 || cmp_group_key(&keys[i - 1], &keys[i]) != 0)
            rep.recs[rep.n_recs++] = (struct record){.stack = b->stack, .owner = b->owner,
                                                     .kind = b->kind};
        struct record *r = &rep.recs[rep.n_recs - 1];
        r->bytes += b->size;
        r->blocks++;
        r->cycle |= b->cycle;
    }
    sys_unmap(keys, keys_bytes);
    return 0;
}

/* ---- Frames ---- */

static unsigned stack_frames(stack_id id, const uintptr_t **pcs, const uint16_t **mods)
{
    *pcs = NULL;
    *mods = NULL;
    if (id == 0)
        return 0;
    unsigned n = depot_get(id, pcs, mods);
    return *pcs ? GS_MIN(n, (unsigned)DEPOT_MAX_FRAMES) : 0;
}

static void frame_resolve(const uintptr_t *pcs, const uint16_t *mods, unsigned i, struct frame *f)
{
    f->pc = pcs[i];
    uint16_t mi = mods ? mods[i] : MODULE_NONE;
    f->m = mi == MODULE_NONE ? NULL : modules_get(mi);
    f->offset = f->m && f->pc >= f->m->base ? f->pc - f->m->base : f->pc;
    if (f->m)
        symbolize_pc(mi, f->pc, i > 0, &f->s);
    else
        f->s = (struct sym_frame){NULL, NULL, NULL, 0};
}

/* returns: the index of the suppression matching any frame, or -1. */
static int record_suppression(const struct record *r)
{
    const uintptr_t *pcs;
    const uint16_t *mods;
    unsigned n = stack_frames(r->stack, &pcs, &mods);
    for (unsigned i = 0; i < n; i++) {
        struct frame f;
        frame_resolve(pcs, mods, i, &f);
        /* LSan matches "<unknown module>" when the PC is in no module. */
        int s = suppress_match(f.m ? f.m->path : "<unknown module>", f.s.function, f.s.mangled,
                               f.s.file);
        if (s >= 0)
            return s;
    }
    return -1;
}

/* Drops suppressed records (compacting rep.recs) and sums the rest. */
static void apply_suppressions(void)
{
    size_t kept = 0;
    bool any = suppress_any();
    suppress_clear_hits();
    for (size_t i = 0; i < rep.n_recs; i++) {
        struct record *r = &rep.recs[i];
        int s = any ? record_suppression(r) : -1;
        if (s >= 0) {
            suppress_hit(s, r->blocks, r->bytes);
            rep.suppressed++;
            continue;
        }
        rep.kind_bytes[r->kind] += r->bytes;
        rep.leaked_blocks += r->blocks;
        rep.recs[kept++] = *r;
    }
    rep.n_recs = kept;
}

/* Recoverable reports show a group once, and again when it grows; the
 * totals keep every group (they describe the scan, not the records). */
static void keep_news(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < rep.n_recs; i++) {
        struct record *r = &rep.recs[i];
        enum leak_news news = leakhist_note(r->kind, r->stack, r->owner, r->bytes, r->blocks);
        if (news == NEWS_SAME)
            continue;
        r->grown = news == NEWS_GROWN;
        rep.recs[kept++] = *r;
    }
    rep.n_recs = kept;
}

/* ---- Text ---- */

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Writes `s` with control characters replaced, so a frame stays one line. */
static void put_text(struct outbuf *o, const char *s)
{
    for (; *s; s++)
        outbuf_putc(o, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void put_module_offset(struct outbuf *o, const struct frame *f)
{
    if (!f->m) {
        outbuf_puts(o, "(<unknown module>)");
        return;
    }
    outbuf_putc(o, '(');
    put_text(o, base_name(f->m->path));
    outbuf_printf(o, "+0x%llx)", (unsigned long long)f->offset);
}

static void text_frame(struct outbuf *o, unsigned i, const struct frame *f)
{
    outbuf_printf(o, "    #%u 0x%llx", i, (unsigned long long)f->pc);
    if (f->s.function) {
        outbuf_puts(o, " in ");
        put_text(o, f->s.function);
    }
    /* The shim's own frames (its malloc) point at the library, not at our sources. */
    bool own = f->m && rep.self_path && !strcmp(f->m->path, rep.self_path);
    if (f->s.function && f->s.file && !own) {
        outbuf_putc(o, ' ');
        put_text(o, f->s.file);
        outbuf_printf(o, ":%u\n", f->s.line);
        return;
    }
    outbuf_putc(o, ' ');
    put_module_offset(o, f);
    outbuf_putc(o, '\n');
}

static void text_suppression_cb(const char *pattern, size_t blocks, size_t bytes, void *ctx)
{
    struct outbuf *o = ctx;
    outbuf_printf(o, "%7zu %10zu ", blocks, bytes);
    put_text(o, pattern);
    outbuf_putc(o, '\n');
}

static void text_stack(struct outbuf *o, stack_id stack)
{
    const uintptr_t *pcs;
    const uint16_t *mods;
    unsigned n = stack_frames(stack, &pcs, &mods);
    for (unsigned k = 0; k < n; k++) {
        struct frame f;
        frame_resolve(pcs, mods, k, &f);
        text_frame(o, k, &f);
    }
    outbuf_putc(o, '\n');
}

/* Reachable memory that keeps growing (sites.h): not a leak, a warning. */
static void text_growing(struct outbuf *o, const struct scan_result *r)
{
    for (size_t i = 0; r && i < r->n_growing; i++) {
        const struct growth_site *g = &r->growing[i];
        outbuf_printf(o,
                      "Growing allocation site: %llu byte(s) in %llu reachable object(s), "
                      "+%.0f byte(s)/s, allocated from:\n",
                      (unsigned long long)g->bytes, (unsigned long long)g->blocks,
                      g->bytes_per_s);
        text_stack(o, g->stack);
    }
}

static void write_text(struct outbuf *o, const struct scan_result *res)
{
    int pid = (int)getpid();
    if (rep.n_recs == 0) {
        outbuf_printf(o, "==%d==guardshim: no leaks detected\n", pid);
    } else {
        outbuf_puts(o, "=================================================================\n");
        outbuf_printf(o, "==%d==ERROR: guardshim: detected memory leaks\n\n", pid);
    }
    for (size_t i = 0; i < rep.n_recs; i++) {
        const struct record *r = &rep.recs[i];
        outbuf_printf(o, "%s leak of %llu byte(s) in %llu object(s) allocated from:",
                      kind_text[r->kind], (unsigned long long)r->bytes,
                      (unsigned long long)r->blocks);
        if (r->cycle)
            outbuf_puts(o, " [cycle]");
        if (r->grown)
            outbuf_puts(o, " [grown]");
        if (r->owner) {
            const char *name = owner_name(r->owner);
            outbuf_printf(o, " [owner %u", r->owner);
            if (name) {
                outbuf_putc(o, ' ');
                json_write_string(o, name, strlen(name));
            }
            outbuf_putc(o, ']');
        }
        outbuf_putc(o, '\n');
        text_stack(o, r->stack);
    }
    text_growing(o, res);
    if (rep.suppressed) {
        outbuf_puts(o, "-----------------------------------------------------\n"
                       "Suppressions used:\n"
                       "  count      bytes template\n");
        suppress_for_each_hit(text_suppression_cb, o);
        outbuf_puts(o, "-----------------------------------------------------\n\n");
    }
    if (rep.n_recs)
        outbuf_printf(o, "SUMMARY: guardshim: %llu byte(s) leaked in %llu allocation(s).\n",
                      (unsigned long long)(rep.kind_bytes[KIND_DIRECT] +
                                           rep.kind_bytes[KIND_INDIRECT] +
                                           rep.kind_bytes[KIND_POSSIBLE]),
                      (unsigned long long)rep.leaked_blocks);
}

/* ---- JSON ---- */

static void json_frame(struct json *j, const struct frame *f)
{
    json_begin_object(j, NULL);
    json_hex(j, "pc", f->pc);
    json_str(j, "module", f->m ? f->m->path : "[unknown]");
    json_hex(j, "offset", f->offset);
    json_str(j, "function", f->s.function);
    /* An addition to DESIGN §4 (readers ignore it), as `guardshim report`
     * writes it: the raw symbol of a demangled C++ name. */
    if (f->s.mangled)
        json_str(j, "mangled", f->s.mangled);
    json_str(j, "file", f->s.file);
    if (f->s.line)
        json_uint(j, "line", f->s.line);
    else
        json_null(j, "line");
    if (f->m && f->m->build_id_len) {
        static const char hex[] = "0123456789abcdef";
        char id[2 * MODULE_BUILD_ID_MAX + 1];
        unsigned len = GS_MIN(f->m->build_id_len, (unsigned)MODULE_BUILD_ID_MAX);
        for (unsigned i = 0; i < len; i++) {
            id[2 * i] = hex[f->m->build_id[i] >> 4];
            id[2 * i + 1] = hex[f->m->build_id[i] & 15];
        }
        id[2 * len] = 0;
        json_str(j, "build_id", id);
    }
    json_end_object(j);
}

static void json_stack(struct json *j, const char *key, stack_id stack)
{
    json_begin_array(j, key);
    const uintptr_t *pcs;
    const uint16_t *mods;
    unsigned nf = stack_frames(stack, &pcs, &mods);
    for (unsigned k = 0; k < nf; k++) {
        struct frame f;
        frame_resolve(pcs, mods, k, &f);
        json_frame(j, &f);
    }
    json_end_array(j);
}

static const char *trigger_name(enum report_trigger t)
{
    switch (t) {
    case TRIGGER_EXIT: return "exit";
    case TRIGGER_API: return "api";
    case TRIGGER_INTERVAL: return "interval";
    case TRIGGER_SIGNAL: return "signal";
    }
    return "api";
}

/* The report object's head, up to and including "summary". */
static void json_head(struct json *j, const struct scan_result *r, const char *trigger)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    json_begin_object(j, NULL);
    json_str(j, "tool", "guardshim");
    json_str(j, "version", GS_VERSION_STRING);
    json_int(j, "pid", (int64_t)getpid());
    json_str(j, "exe", exe);
    json_str(j, "trigger", trigger);
    json_begin_object(j, "summary");
    json_uint(j, "leaked_bytes", rep.kind_bytes[KIND_DIRECT] + rep.kind_bytes[KIND_INDIRECT] +
                                     rep.kind_bytes[KIND_POSSIBLE]);
    json_uint(j, "leaked_blocks", rep.leaked_blocks);
    json_uint(j, "direct_bytes", rep.kind_bytes[KIND_DIRECT]);
    json_uint(j, "indirect_bytes", rep.kind_bytes[KIND_INDIRECT]);
    json_uint(j, "possible_bytes", rep.kind_bytes[KIND_POSSIBLE]);
    json_uint(j, "reachable_bytes", r ? r->reachable_bytes : 0);
    json_uint(j, "reachable_blocks", r ? r->reachable_blocks : 0);
    json_double(j, "scan_ms", r ? r->scan_ms : 0, 3);
    json_end_object(j);
}

static void write_json(struct outbuf *o, const struct scan_result *r, enum report_trigger trigger)
{
    struct json j;
    json_init(&j, o);
    json_head(&j, r, trigger_name(trigger));
    json_begin_array(&j, "leaks");
    for (size_t i = 0; i < rep.n_recs; i++) {
        const struct record *rec = &rep.recs[i];
        json_begin_object(&j, NULL);
        json_str(&j, "kind", kind_json[rec->kind]);
        json_uint(&j, "bytes", rec->bytes);
        json_uint(&j, "blocks", rec->blocks);
        if (rec->cycle)
            json_bool(&j, "cycle", true);
        if (rec->grown)
            json_bool(&j, "grown", true);
        if (rec->owner)
            json_uint(&j, "owner", rec->owner);
        if (rec->owner && owner_name(rec->owner))
            json_str(&j, "owner_name", owner_name(rec->owner));
        json_stack(&j, "stack", rec->stack);
        json_end_object(&j);
    }
    for (size_t i = 0; r && i < r->n_growing; i++) {
        const struct growth_site *g = &r->growing[i];
        json_begin_object(&j, NULL);
        json_str(&j, "kind", "growing");
        json_uint(&j, "bytes", g->bytes);
        json_uint(&j, "blocks", g->blocks);
        json_double(&j, "growth_bytes_per_s", g->bytes_per_s, 1);
        json_stack(&j, "stack", g->stack);
        json_end_object(&j);
    }
    json_end_array(&j);
    json_end_object(&j);
    outbuf_putc(o, '\n');
}

/* ---- Destination ---- */

/* Expands `%p` (pid) and `%%` in opt.log_path; other `%x` stay as written.
 * returns: false when the result does not fit. */
static bool expand_path(char *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = opt.log_path; *s; s++) {
        char num[24];
        const char *piece = s;
        size_t len = 1;
        if (s[0] == '%' && s[1] == 'p') {
            len = (size_t)snprintf(num, sizeof num, "%d", (int)getpid());
            piece = num;
            s++;
        } else if (s[0] == '%' && s[1] == '%') {
            s++;
        }
        if (n + len >= cap)
            return false;
        memcpy(out + n, piece, len);
        n += len;
    }
    out[n] = 0;
    return true;
}

/* Opens the report destination: fd 2, or the expanded log_path for append.
 * A new file is created O_EXCL, mode 0600, so nothing planted at the path
 * is ever followed or reused. An existing one (our own earlier report: the
 * periodic reports and a forked child's share the file) is opened without
 * O_CREAT and kept only if it is a regular file (O_NONBLOCK until then: a
 * FIFO would block), owned by the euid and with one link (another name for
 * it may be a file of someone who hard-linked it there); a symlink is
 * refused by O_NOFOLLOW. One error line for a refusal.
 * returns: 0 with *fd set (*owned: the caller closes it), or an errno. */
static int open_destination(int *fd, bool *owned)
{
    *owned = false;
    *fd = STDERR_FILENO;
    if (!opt.log_path[0])
        return 0;
    char path[PATH_MAX];
    if (!expand_path(path, sizeof path)) {
        log_error("report file name too long: '%.64s...'", opt.log_path);
        return ENAMETOOLONG;
    }
    const int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
    int f = open(path, flags | O_CREAT | O_EXCL, 0600);
    if (f >= 0) {
        *fd = f;
        *owned = true;
        return 0;
    }
    if (errno == EEXIST)
        f = open(path, flags | O_NONBLOCK);
    if (f < 0) {
        int e = errno;
        /* ENXIO: O_NONBLOCK met a FIFO (or device) without a reader. */
        log_error("cannot open report file '%s': %s", path,
                  e == ELOOP   ? "it is a symbolic link (refused)"
                  : e == ENXIO ? "not a regular file (refused)"
                               : strerror(e));
        return e;
    }
    struct stat st;
    int e = 0;
    if (fstat(f, &st) != 0) {
        e = errno;
        log_error("cannot stat report file '%s': %s", path, strerror(e));
    } else if (!S_ISREG(st.st_mode)) {
        e = EINVAL;
        log_error("report file '%s' is not a regular file (refused)", path);
    } else if (st.st_uid != geteuid()) {
        e = EPERM;
        log_error("report file '%s' belongs to uid %u, not to us (refused)", path,
                  (unsigned)st.st_uid);
    } else if (st.st_nlink != 1) {
        e = EPERM;
        log_error("report file '%s' has %lu hard links (refused)", path,
                  (unsigned long)st.st_nlink);
    } else {
        int fl = fcntl(f, F_GETFL);
        if (fl >= 0)
            fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    }
    if (e) {
        close(f);
        return e;
    }
    *fd = f;
    *owned = true;
    return 0;
}

/* ---- Entry ---- */

int report_write(const struct scan_result *r, enum report_trigger trigger, bool only_news,
                 struct report_totals *totals)
{
    memset(&rep, 0, sizeof rep);
    int err = group_blocks(r ? r->leaks : NULL, r ? r->n_leaks : 0);
    if (err)
        log_error("report: no memory to group %zu leaked blocks", r->n_leaks);
    suppress_init(opt.suppressions);
    symbolize_begin();
    apply_suppressions();
    if (only_news)
        keep_news();
    heap_sort(rep.recs, rep.n_recs, sizeof *rep.recs, cmp_record);

    struct report_totals t = {
        .records = rep.n_recs,
        .leaked_bytes = rep.kind_bytes[KIND_DIRECT] + rep.kind_bytes[KIND_INDIRECT] +
                        rep.kind_bytes[KIND_POSSIBLE],
        .leaked_blocks = rep.leaked_blocks,
    };
    if (totals)
        *totals = t;

    bool json = opt.format == FORMAT_JSON;
    if (json || rep.n_recs || (r && r->n_growing) || opt.verbosity >= 1) {
        int fd;
        bool owned;
        int oerr = open_destination(&fd, &owned);
        if (!oerr) {
            rep.self_path = json ? NULL : modules_self_path();
            struct outbuf o;
            outbuf_init(&o, fd);
            if (json)
                write_json(&o, r, trigger);
            else
                write_text(&o, r);
            oerr = outbuf_fini(&o);
            if (owned && close(fd) != 0 && !oerr)
                oerr = errno;
        }
        if (!err)
            err = oerr;
    }
    symbolize_end();
    sys_unmap(rep.recs, rep.recs_bytes);
    memset(&rep, 0, sizeof rep);
    return err;
}

/* ---- Heap misuse ---- */

static const char *const misuse_json[MISUSE_COUNT] = {"double-free", "invalid-free",
                                                      "interior-free", "realloc-freed"};

/* The earlier free is known by its caller only (one frame). */
static void free_frame(uintptr_t pc, struct frame *f)
{
    uintptr_t pcs[2] = {0, pc};
    uint16_t mods[2] = {MODULE_NONE, modules_find(pc)};
    frame_resolve(pcs, mods, 1, f);
}

static void misuse_text(struct outbuf *o, const struct misuse *m)
{
    outbuf_puts(o, "=================================================================\n");
    outbuf_printf(o, "==%d==ERROR: guardshim: ", (int)getpid());
    switch (m->kind) {
    case MISUSE_DOUBLE_FREE:
        outbuf_printf(o, "attempting double-free on 0x%llx:\n", (unsigned long long)m->addr);
        break;
    case MISUSE_REALLOC_FREED:
        outbuf_printf(o, "attempting realloc of freed memory on 0x%llx:\n",
                      (unsigned long long)m->addr);
        break;
    default:
        outbuf_printf(o, "attempting free on address which was not malloc()-ed: 0x%llx\n",
                      (unsigned long long)m->addr);
    }
    text_stack(o, m->where);
    if (m->kind == MISUSE_INTERIOR_FREE)
        outbuf_printf(o, "0x%llx is located %llu bytes inside of %llu-byte region allocated by:\n",
                      (unsigned long long)m->addr, (unsigned long long)(m->addr - m->block),
                      (unsigned long long)m->size);
    if (m->free_pc) {
        outbuf_printf(o, "0x%llx is a %llu-byte region freed by:\n",
                      (unsigned long long)m->block, (unsigned long long)m->size);
        struct frame f;
        free_frame(m->free_pc, &f);
        text_frame(o, 0, &f);
        outbuf_puts(o, "\npreviously allocated by:\n");
    }
    if (m->alloc)
        text_stack(o, m->alloc);
    outbuf_printf(o, "SUMMARY: guardshim: %s\n", misuse_json[m->kind]);
}

static void misuse_json_write(struct outbuf *o, const struct misuse *m)
{
    struct json j;
    json_init(&j, o);
    json_head(&j, NULL, "misuse");
    json_begin_array(&j, "leaks");
    json_end_array(&j);
    json_begin_array(&j, "errors");
    json_begin_object(&j, NULL);
    json_str(&j, "kind", misuse_json[m->kind]);
    json_hex(&j, "address", m->addr);
    if (m->block) {
        json_hex(&j, "block", m->block);
        json_uint(&j, "size", m->size);
    }
    json_stack(&j, "stack", m->where);
    if (m->alloc)
        json_stack(&j, "alloc_stack", m->alloc);
    if (m->free_pc) {
        json_begin_array(&j, "free_stack");
        struct frame f;
        free_frame(m->free_pc, &f);
        json_frame(&j, &f);
        json_end_array(&j);
    }
    json_end_object(&j);
    json_end_array(&j);
    json_end_object(&j);
    outbuf_putc(o, '\n');
}

void report_misuse(const struct misuse *m)
{
    memset(&rep, 0, sizeof rep);
    int fd;
    bool owned;
    if (open_destination(&fd, &owned) != 0)
        return;
    bool json = opt.format == FORMAT_JSON;
    rep.self_path = json ? NULL : modules_self_path();
    symbolize_begin();
    struct outbuf o;
    outbuf_init(&o, fd);
    if (json)
        misuse_json_write(&o, m);
    else
        misuse_text(&o, m);
    outbuf_fini(&o);
    if (owned)
        close(fd);
    symbolize_end();
    memset(&rep, 0, sizeof rep);
}
