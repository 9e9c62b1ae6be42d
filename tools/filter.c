/* SPDX-License-Identifier: MIT
 * filter.c: record filters and suppression matching (see filter.h). The
 * template syntax is LeakSanitizer's, matched against the function (C++:
 * demangled and mangled), the file and the module of every frame.
 * locks: none (single-threaded tool). allocates: malloc. */
#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void filter_init(struct filter *f)
{
    memset(f, 0, sizeof *f);
    for (int k = 0; k < KIND_COUNT; k++)
        f->kinds[k] = true;
}

void filter_fini(struct filter *f)
{
    for (size_t i = 0; i < f->npatterns; i++)
        free(f->patterns[i]);
    free(f->patterns);
    memset(f, 0, sizeof *f);
}

bool filter_set_kinds(struct filter *f, const char *list)
{
    bool want[KIND_COUNT] = {false};
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        int k = -1;
        for (int i = 0; i < KIND_COUNT; i++)
            if (strlen(kind_names[i]) == len && !strncmp(p, kind_names[i], len))
                k = i;
        if (k < 0) {
            tool_error("--kind: unknown kind '%.*s' (direct, indirect, possible)", (int)len, p);
            return false;
        }
        want[k] = true;
        p += len;
        if (*p)
            p++;
    }
    memcpy(f->kinds, want, sizeof want);
    return true;
}

int filter_load_suppressions(struct filter *f, const char *path)
{
    char *text;
    size_t len;
    int e = util_read_file(path, &text, &len);
    if (e) {
        tool_error("%s: %s", path, strerror(e));
        return EXIT_IO;
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t");
        size_t n = strlen(line);
        while (n && strchr(" \t\r", line[n - 1]))
            line[--n] = 0;
        if (!n || line[0] == '#' || strncmp(line, "leak:", 5))
            continue;
        const char *pat = line + 5;
        /* An empty pattern would suppress everything: surely a mistake. */
        if (!*pat)
            continue;
        f->patterns = xrealloc(f->patterns, (f->npatterns + 1) * sizeof *f->patterns);
        f->patterns[f->npatterns++] = xstrdup(pat);
    }
    free(text);
    return 0;
}

bool filter_template_match(const char *t, const char *s)
{
    if (!s || !*t)
        return false;
    bool at_start = false;
    if (*t == '^') {
        at_start = true;
        t++;
    }
    while (*t) {
        if (*t == '*') {
            at_start = false;
            t++;
            continue;
        }
        size_t seg = strcspn(t, "*");
        bool at_end = t[seg] == 0 && t[seg - 1] == '$';
        size_t tn = at_end ? seg - 1 : seg;
        size_t sl = strlen(s);
        if (at_end) {
            /* The last literal ends the string (and is all of it under `^`). */
            return sl >= tn && !strncmp(s + sl - tn, t, tn) && (!at_start || sl == tn);
        }
        if (at_start) {
            if (strncmp(s, t, tn))
                return false;
            s += tn;
        } else {
            /* Leftmost match: leaves the most room for the segments after it. */
            const char *m = memmem(s, sl, t, tn);
            if (!m)
                return false;
            s = m + tn;
        }
        t += seg;
        at_start = false;
    }
    return true;
}

bool filter_keep(const struct filter *f, const struct record *r)
{
    if (!f->kinds[r->kind] || r->bytes < f->min_bytes)
        return false;
    for (size_t p = 0; p < f->npatterns; p++)
        for (size_t i = 0; i < r->nframes; i++) {
            const struct frame *fr = &r->frames[i];
            const char *t = f->patterns[p];
            /* C++: the readable name (`ns::Widget::make`, LSan's habit) or
             * the mangled one, whichever the file was written for. */
            if (filter_template_match(t, fr->function) || filter_template_match(t, fr->mangled) ||
                filter_template_match(t, fr->file) || filter_template_match(t, fr->module))
                return false;
        }
    return true;
}

size_t filter_apply(const struct filter *f, struct record *recs, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (filter_keep(f, &recs[i]))
            recs[out++] = recs[i];
    return out;
}
