/* SPDX-License-Identifier: MIT
 * reports.c: loading, grouping, merging and diffing of guardshim JSON
 * reports (see reports.h). JSON is parsed with jansson; a file may hold one
 * (pretty-printed or not) object or several, one after the other (JSON
 * Lines, as periodic reports and `guardshim run --json` write them).
 * Error lines name the file and the line where parsing stopped.
 * locks: none (single-threaded tool). allocates: malloc (exits on failure). */
#define _GNU_SOURCE
#include "reports.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const kind_names[KIND_COUNT] = {"direct", "indirect", "possible"};

/* ---- Loading ---- */

static char *dup_or_null(json_t *v)
{
    return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

/* Reads count `key` of object `obj` (`what` names the object in the
 * message). A count is a non-negative JSON integer: -5 or 4.5 would
 * otherwise print as a leak of 0 bytes. Absent is 0 unless `required`.
 * returns: NULL, or what is wrong (valid until the next call). */
static const char *get_count(json_t *obj, const char *what, const char *key, bool required,
                             uint64_t *out)
{
    static char msg[128];
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v && !required)
        return NULL;
    if (!v)
        snprintf(msg, sizeof msg, "%s lacks \"%s\"", what, key);
    else if (!json_is_integer(v) || json_integer_value(v) < 0)
        snprintf(msg, sizeof msg, "%s's \"%s\" is not a non-negative integer", what, key);
    else {
        *out = (uint64_t)json_integer_value(v);
        return NULL;
    }
    return msg;
}

/* Fills `f` from a frame object. returns: NULL, or what is wrong. */
static const char *parse_frame(json_t *o, struct frame *f)
{
    memset(f, 0, sizeof *f);
    if (!json_is_object(o))
        return "a stack frame is not an object";
    json_t *module = json_object_get(o, "module"), *offset = json_object_get(o, "offset");
    if (!json_is_string(module) || !json_is_string(offset))
        return "a stack frame lacks \"module\" or \"offset\"";
    const char *os = json_string_value(offset);
    char *end;
    errno = 0;
    f->off = strtoull(os, &end, 16);
    if (errno || end == os || *end)
        return "a stack frame has a bad \"offset\"";
    f->module = xstrdup(json_string_value(module));
    f->offset = xstrdup(os);
    f->pc = dup_or_null(json_object_get(o, "pc"));
    if (!f->pc)
        f->pc = xstrdup(os);
    f->function = dup_or_null(json_object_get(o, "function"));
    f->mangled = dup_or_null(json_object_get(o, "mangled"));
    f->file = dup_or_null(json_object_get(o, "file"));
    f->build_id = dup_or_null(json_object_get(o, "build_id"));
    json_t *line = json_object_get(o, "line");
    if (json_is_integer(line) && json_integer_value(line) > 0)
        f->line = (long)json_integer_value(line);
    return NULL;
}

static void free_frames(struct frame *fr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(fr[i].pc);
        free(fr[i].module);
        free(fr[i].offset);
        free(fr[i].function);
        free(fr[i].mangled);
        free(fr[i].file);
        free(fr[i].build_id);
    }
    free(fr);
}

static void free_records(struct record *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free_frames(recs[i].frames, recs[i].nframes);
        free(recs[i].key);
    }
    free(recs);
}

/* Fills `r` from a leak record object; *skip is set for a record of a
 * kind that is no leak (e.g. "growing" reachable sites) or unknown yet,
 * which a newer shim may write: the contract is extended compatibly.
 * returns: NULL, or what is wrong. */
static const char *parse_record(json_t *o, struct record *r, bool *skip)
{
    memset(r, 0, sizeof *r);
    *skip = false;
    if (!json_is_object(o))
        return "a leak record is not an object";
    json_t *kind = json_object_get(o, "kind");
    if (!json_is_string(kind))
        return "a leak record lacks \"kind\"";
    int k = -1;
    for (int i = 0; i < KIND_COUNT; i++)
        if (!strcmp(json_string_value(kind), kind_names[i]))
            k = i;
    if (k < 0) {
        *skip = true;
        return NULL;
    }
    const char *bad = get_count(o, "a leak record", "bytes", true, &r->bytes);
    if (!bad)
        bad = get_count(o, "a leak record", "blocks", true, &r->blocks);
    if (bad)
        return bad;
    r->kind = (enum leak_kind)k;
    r->cycle = json_is_true(json_object_get(o, "cycle"));
    r->grown = json_is_true(json_object_get(o, "grown"));
    r->nprocs = 1;
    json_t *stack = json_object_get(o, "stack");
    if (!json_is_array(stack))
        return "a leak record lacks a \"stack\" array";
    r->nframes = json_array_size(stack);
    r->frames = xcalloc(r->nframes, sizeof *r->frames);
    for (size_t i = 0; i < r->nframes; i++) {
        bad = parse_frame(json_array_get(stack, i), &r->frames[i]);
        if (bad) {
            free_frames(r->frames, i + 1);
            r->frames = NULL;
            r->nframes = 0;
            return bad;
        }
    }
    return NULL;
}

static struct proc *find_proc(struct reportset *set, const char *source, long pid)
{
    for (size_t i = 0; i < set->nprocs; i++)
        if (set->procs[i].pid == pid && !strcmp(set->procs[i].source, source))
            return &set->procs[i];
    set->procs = xrealloc(set->procs, (set->nprocs + 1) * sizeof *set->procs);
    struct proc *p = &set->procs[set->nprocs++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->source = xstrdup(source);
    return p;
}

static char *record_key(const struct record *r);

/* Removes the records of `p` with the identity of `r`. */
static void drop_same(struct proc *p, const struct record *r)
{
    char *key = record_key(r);
    size_t out = 0;
    for (size_t i = 0; i < p->nrecs; i++) {
        char *k = record_key(&p->recs[i]);
        if (strcmp(k, key))
            p->recs[out++] = p->recs[i];
        else
            free_records(xmemdup(&p->recs[i], sizeof p->recs[i]), 1);
        free(k);
    }
    p->nrecs = out;
    free(key);
}

/* Adds one report object to `set`. returns: NULL, or what is wrong. */
static const char *add_report(struct reportset *set, const char *name, json_t *o)
{
    if (!json_is_object(o))
        return "not a guardshim report (not a JSON object)";
    json_t *leaks = json_object_get(o, "leaks");
    if (!json_is_array(leaks))
        return "not a guardshim report (no \"leaks\" array)";
    size_t total = json_array_size(leaks), n = 0;
    struct record *recs = xcalloc(total, sizeof *recs);
    for (size_t i = 0; i < total; i++) {
        bool skip;
        const char *bad = parse_record(json_array_get(leaks, i), &recs[n], &skip);
        if (bad) {
            free_records(recs, n);
            return bad;
        }
        n += !skip;
    }
    json_t *sum = json_object_get(o, "summary");
    uint64_t reach_bytes, reach_blocks;
    const char *bad = get_count(sum, "the summary", "reachable_bytes", false, &reach_bytes);
    if (!bad)
        bad = get_count(sum, "the summary", "reachable_blocks", false, &reach_blocks);
    if (bad) {
        free_records(recs, n);
        return bad;
    }
    json_t *pidv = json_object_get(o, "pid");
    long pid = json_is_integer(pidv) ? (long)json_integer_value(pidv) : 0;
    const char *trigger = json_string_value(json_object_get(o, "trigger"));
    if (!trigger)
        trigger = "exit";
    bool is_exit = !strcmp(trigger, "exit") || !strcmp(trigger, "merged");
    struct proc *p = find_proc(set, name, pid);
    /* The exit report lists every leak at exit: it replaces the periodic
     * reports (new leaks only) before it, and none after it can exist. */
    if (is_exit && !p->has_exit) {
        free_records(p->recs, p->nrecs);
        p->recs = NULL;
        p->nrecs = 0;
        p->reachable_bytes = p->reachable_blocks = 0;
        p->scan_ms = 0;
    } else if (p->has_exit && !is_exit) {
        free_records(recs, n);
        p->nreports++;
        return NULL;
    }
    if (is_exit)
        p->has_exit = true;
    if (!p->exe || json_is_string(json_object_get(o, "exe"))) {
        free(p->exe);
        p->exe = dup_or_null(json_object_get(o, "exe"));
        if (!p->exe)
            p->exe = xstrdup("?");
    }
    free(p->trigger);
    p->trigger = xstrdup(trigger);
    p->reachable_bytes += reach_bytes;
    p->reachable_blocks += reach_blocks;
    json_t *ms = json_object_get(sum, "scan_ms");
    if (json_is_number(ms))
        p->scan_ms += json_number_value(ms);
    /* A periodic report lists a group again, with its new total, when it
     * grew: that record replaces the earlier one, it does not add to it. */
    for (size_t i = 0; i < n; i++)
        if (recs[i].grown)
            drop_same(p, &recs[i]);
    p->recs = xrealloc(p->recs, (p->nrecs + n) * sizeof *p->recs);
    memcpy(p->recs + p->nrecs, recs, n * sizeof *recs);
    p->nrecs += n;
    p->nreports++;
    free(recs);
    return NULL;
}

static size_t count_lines(const char *text, size_t upto)
{
    size_t l = 1;
    for (size_t i = 0; i < upto; i++)
        l += text[i] == '\n';
    return l;
}

int reports_parse(struct reportset *set, const char *name, const char *text, size_t len,
                  size_t skip)
{
    size_t pos = skip, objects = 0;
    for (;;) {
        while (pos < len && strchr(" \t\r\n", text[pos]))
            pos++;
        if (pos >= len)
            break;
        json_error_t err;
        json_t *o = json_loadb(text + pos, len - pos, JSON_DISABLE_EOF_CHECK, &err);
        if (!o) {
            /* jansson counts lines from where this object started. */
            size_t line = count_lines(text, pos) + (err.line > 0 ? (size_t)err.line - 1 : 0);
            tool_error("%s: %s (line %zu)", name, err.text, line);
            return EXIT_MALFORMED;
        }
        const char *bad = add_report(set, name, o);
        json_decref(o);
        if (bad) {
            tool_error("%s: %s (line %zu)", name, bad, count_lines(text, pos));
            return EXIT_MALFORMED;
        }
        objects++;
        size_t used = (size_t)err.position;
        pos += used ? used : 1;
    }
    if (!objects && skip == 0) {
        tool_error("%s: empty file, no report in it (line 1)", name);
        return EXIT_MALFORMED;
    }
    return 0;
}

int reports_load(struct reportset *set, const char *path)
{
    char *text;
    size_t len;
    int e = util_read_file(path, &text, &len);
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    if (e) {
        tool_error("%s: %s", name, strerror(e));
        return EXIT_IO;
    }
    if (memchr(text, 0, len)) {
        tool_error("%s: not a guardshim report (binary data) (line %zu)", name,
                   count_lines(text, (size_t)((char *)memchr(text, 0, len) - text)));
        free(text);
        return EXIT_MALFORMED;
    }
    int rc = reports_parse(set, name, text, len, 0);
    free(text);
    return rc;
}

void reports_free(struct reportset *set)
{
    for (size_t i = 0; i < set->nprocs; i++) {
        struct proc *p = &set->procs[i];
        free_records(p->recs, p->nrecs);
        free(p->exe);
        free(p->source);
        free(p->trigger);
    }
    free(set->procs);
    *set = (struct reportset){0};
}

/* ---- Identity and merging ---- */

static char *record_key(const struct record *r)
{
    struct strbuf b = {0};
    sb_add(&b, kind_names[r->kind]);
    for (size_t i = 0; i < r->nframes; i++) {
        const struct frame *f = &r->frames[i];
        if (f->function)
            sb_printf(&b, "|%s@%s:%ld", f->function, f->file ? f->file : "", f->line);
        else
            sb_printf(&b, "|%s+%#llx", util_basename(f->module), (unsigned long long)f->off);
    }
    return b.s ? b.s : xstrdup("");
}

void reports_set_keys(struct reportset *set)
{
    for (size_t i = 0; i < set->nprocs; i++)
        for (size_t j = 0; j < set->procs[i].nrecs; j++) {
            struct record *r = &set->procs[i].recs[j];
            free(r->key);
            r->key = record_key(r);
        }
}

struct totals records_totals(const struct record *recs, size_t n)
{
    struct totals t = {0};
    for (size_t i = 0; i < n; i++) {
        t.bytes += recs[i].bytes;
        t.blocks += recs[i].blocks;
        t.kind_bytes[recs[i].kind] += recs[i].bytes;
    }
    return t;
}

/* By key, then by process index (carried in `base_bytes` during fold). */
static int cmp_key(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->base_bytes < y->base_bytes ? -1 : x->base_bytes > y->base_bytes;
}

static int cmp_bytes(const void *a, const void *b)
{
    const struct record *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->blocks != y->blocks)
        return x->blocks > y->blocks ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Sorts `recs` by key, folds equal keys into the first, sorts by bytes.
 * Records from the same process count once in `nprocs` (`proc_of`). */
static size_t fold(struct record *recs, size_t n, const size_t *proc_of)
{
    if (!n)
        return 0;
    /* Carry the process index through the sort in `base_bytes`. */
    for (size_t i = 0; i < n; i++)
        recs[i].base_bytes = proc_of ? proc_of[i] : 0;
    qsort(recs, n, sizeof *recs, cmp_key);
    size_t out = 0;
    uint64_t last_proc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t proc = recs[i].base_bytes;
        if (out && !strcmp(recs[out - 1].key, recs[i].key)) {
            struct record *m = &recs[out - 1];
            m->bytes += recs[i].bytes;
            m->blocks += recs[i].blocks;
            m->cycle |= recs[i].cycle;
            if (proc != last_proc)
                m->nprocs++;
            last_proc = proc;
            continue;
        }
        last_proc = proc;
        recs[out++] = recs[i];
    }
    for (size_t i = 0; i < out; i++)
        recs[i].base_bytes = 0;
    qsort(recs, out, sizeof *recs, cmp_bytes);
    return out;
}

struct record *reports_merge(const struct reportset *set, long only, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < set->nprocs; i++)
        total += set->procs[i].nrecs;
    struct record *all = xcalloc(total, sizeof *all);
    size_t *proc_of = xcalloc(total, sizeof *proc_of);
    size_t k = 0;
    for (size_t i = 0; i < set->nprocs; i++) {
        if (only >= 0 && set->procs[i].pid != only)
            continue;
        for (size_t j = 0; j < set->procs[i].nrecs; j++) {
            proc_of[k] = i;
            all[k] = set->procs[i].recs[j];
            all[k].nprocs = 1;
            all[k].mark = MARK_NONE;
            k++;
        }
    }
    *n = fold(all, k, proc_of);
    free(proc_of);
    return all;
}

struct record *proc_merge(const struct proc *p, size_t *n)
{
    struct record *all = xcalloc(p->nrecs, sizeof *all);
    memcpy(all, p->recs, p->nrecs * sizeof *all);
    for (size_t i = 0; i < p->nrecs; i++)
        all[i].nprocs = 1;
    *n = fold(all, p->nrecs, NULL);
    for (size_t i = 0; i < *n; i++)
        all[i].nprocs = 1;
    return all;
}

size_t records_diff(struct record *recs, size_t n, const struct record *base, size_t nbase)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        const struct record *old = NULL;
        for (size_t j = 0; j < nbase && !old; j++)
            if (!strcmp(base[j].key, recs[i].key))
                old = &base[j];
        if (old && recs[i].bytes <= old->bytes)
            continue;
        recs[i].mark = old ? MARK_GREW : MARK_NEW;
        recs[i].base_bytes = old ? old->bytes : 0;
        recs[out++] = recs[i];
    }
    return out;
}

/* ---- Frames ---- */

bool frame_is_shim(const struct frame *f)
{
    const char *b = util_basename(f->module);
    return !strncmp(b, "libguardshim.so", 15);
}

static bool is_alloc_name(const char *fn)
{
    static const char *const names[] = {
        "malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
        "aligned_alloc", "memalign", "valloc", "pvalloc", "strdup", "strndup",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(fn, names[i]))
            return true;
    if (!strncmp(fn, "__libc_", 7) || !strncmp(fn, "_Znw", 4) || !strncmp(fn, "_Zna", 4) ||
        !strncmp(fn, "operator new", 12))
        return true;
    return false;
}

const struct frame *record_user_frame(const struct record *r)
{
    for (size_t i = 0; i < r->nframes; i++) {
        const struct frame *f = &r->frames[i];
        if (frame_is_shim(f) || (f->function && is_alloc_name(f->function)))
            continue;
        return f;
    }
    return r->nframes ? &r->frames[r->nframes - 1] : NULL;
}
