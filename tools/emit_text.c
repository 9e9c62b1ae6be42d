/* SPDX-License-Identifier: MIT
 * emit_text.c: the text report of `guardshim report` (LeakSanitizer's
 * shape, as the shim writes it, so parsers of LSan output carry over) and
 * the per-process summary of `guardshim run`.
 * Extensions, kept after the colon of the record line as the shim does:
 * ` [cycle]`, ` [new]`, ` [grew from N byte(s)]`, ` [N processes]`.
 * locks: none (single-threaded tool). allocates: malloc. */
#define _GNU_SOURCE
#include "emit.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const kind_text[KIND_COUNT] = {"Direct", "Indirect", "Possible"};

char *frame_label(const struct frame *f)
{
    struct strbuf b = {0};
    if (f->function)
        sb_add(&b, f->function);
    else
        sb_printf(&b, "%s+%s", util_basename(f->module), f->offset);
    return b.s;
}

static void text_frame(FILE *out, size_t i, const struct frame *f)
{
    fprintf(out, "    #%zu %s", i, f->pc);
    if (f->function)
        fprintf(out, " in %s", f->function);
    /* The shim's own frames point at the library, not at the program's sources. */
    if (f->function && f->file && !frame_is_shim(f))
        fprintf(out, " %s:%ld\n", f->file, f->line);
    else
        fprintf(out, " (%s+%s)\n", util_basename(f->module), f->offset);
}

/* The distinct pids of the set; 0 when there are several. */
static long single_pid(const struct reportset *set)
{
    long pid = set->nprocs ? set->procs[0].pid : 0;
    for (size_t i = 1; i < set->nprocs; i++)
        if (set->procs[i].pid != pid)
            return 0;
    return pid;
}

void emit_text(FILE *out, const struct emit_input *in)
{
    long pid = single_pid(in->set);
    char tag[32];
    if (pid)
        snprintf(tag, sizeof tag, "==%ld==", pid);
    else
        snprintf(tag, sizeof tag, "==merged==");
    if (!in->n) {
        fprintf(out, "%sguardshim: no leaks %s in %zu process(es)\n", tag,
                in->baseline ? "new or grown since the baseline" : "detected", in->set->nprocs);
        return;
    }
    fputs("=================================================================\n", out);
    fprintf(out, "%sERROR: guardshim: detected memory leaks", tag);
    if (in->set->nprocs > 1)
        fprintf(out, " in %zu processes", in->set->nprocs);
    if (in->baseline)
        fprintf(out, " (new or grown since %s)", in->baseline);
    fputs("\n\n", out);
    for (size_t i = 0; i < in->n; i++) {
        const struct record *r = &in->recs[i];
        fprintf(out, "%s leak of %llu byte(s) in %llu object(s) allocated from:", kind_text[r->kind],
                (unsigned long long)r->bytes, (unsigned long long)r->blocks);
        if (r->cycle)
            fputs(" [cycle]", out);
        if (r->mark == MARK_NEW)
            fputs(" [new]", out);
        else if (r->mark == MARK_GREW)
            fprintf(out, " [grew from %llu byte(s)]", (unsigned long long)r->base_bytes);
        if (r->nprocs > 1)
            fprintf(out, " [%zu processes]", r->nprocs);
        fputc('\n', out);
        for (size_t k = 0; k < r->nframes; k++)
            text_frame(out, k, &r->frames[k]);
        fputc('\n', out);
    }
    struct totals t = records_totals(in->recs, in->n);
    fprintf(out, "SUMMARY: guardshim: %llu byte(s) leaked in %llu allocation(s).\n",
            (unsigned long long)t.bytes, (unsigned long long)t.blocks);
}

void emit_run_summary(FILE *out, const struct proc *p, const struct record *recs, size_t n,
                      size_t top)
{
    struct totals t = records_totals(recs, n);
    if (!n) {
        fprintf(out, "guardshim: pid %ld %s: no leaks\n", p->pid, p->exe);
        return;
    }
    fprintf(out,
            "guardshim: pid %ld %s: %llu byte(s) leaked in %llu allocation(s) "
            "(direct %llu, indirect %llu, possible %llu)\n",
            p->pid, p->exe, (unsigned long long)t.bytes, (unsigned long long)t.blocks,
            (unsigned long long)t.kind_bytes[KIND_DIRECT],
            (unsigned long long)t.kind_bytes[KIND_INDIRECT],
            (unsigned long long)t.kind_bytes[KIND_POSSIBLE]);
    for (size_t i = 0; i < n && i < top; i++) {
        const struct record *r = &recs[i];
        const struct frame *f = record_user_frame(r);
        char *label = f ? frame_label(f) : xstrdup("?");
        fprintf(out, "    %llu byte(s) in %llu %s leak(s)%s at %s", (unsigned long long)r->bytes,
                (unsigned long long)r->blocks, kind_names[r->kind], r->cycle ? " (cycle)" : "",
                label);
        if (f && f->file)
            fprintf(out, " %s:%ld", f->file, f->line);
        else if (f)
            fprintf(out, " (%s+%s)", util_basename(f->module), f->offset);
        fputc('\n', out);
        free(label);
    }
    if (n > top)
        fprintf(out, "    ... and %zu more record(s)\n", n - top);
}
