/* SPDX-License-Identifier: MIT
 * emit_flame.c: leaked bytes by allocation stack, as folded stacks
 * (`root;…;leaf bytes`, the input of flamegraph.pl and its kin) and as a
 * flame graph SVG drawn here: one rectangle per (stack prefix), width
 * proportional to bytes, root at the bottom, a <title> tooltip on each,
 * no script. The shim's own frames are left out: the leaf is the
 * program's allocating call (or the malloc-family function it called).
 * locks: none (single-threaded tool). allocates: malloc. */
#define _GNU_SOURCE
#include "emit.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* One line of folded output: its stack and the bytes leaked there. */
struct folded {
    char *stack;
    uint64_t bytes;
};

/* A frame label safe inside a folded line: no `;`, no line breaks. */
static char *folded_label(const struct frame *f)
{
    char *s = frame_label(f);
    for (char *p = s; *p; p++)
        if (*p == ';' || *p == '\n' || *p == '\r')
            *p = ':';
    return s;
}

static int cmp_folded(const void *a, const void *b)
{
    return strcmp(((const struct folded *)a)->stack, ((const struct folded *)b)->stack);
}

/* The records as folded stacks, equal stacks summed, sorted by stack. */
static struct folded *fold_stacks(const struct emit_input *in, size_t *n)
{
    struct folded *v = xcalloc(in->n, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < in->n; i++) {
        const struct record *r = &in->recs[i];
        struct strbuf b = {0};
        for (size_t j = r->nframes; j-- > 0;) {
            if (frame_is_shim(&r->frames[j]))
                continue;
            char *l = folded_label(&r->frames[j]);
            if (b.len)
                sb_add(&b, ";");
            sb_add(&b, l);
            free(l);
        }
        if (!b.len)
            sb_add(&b, "[unknown]");
        v[k++] = (struct folded){b.s, r->bytes};
    }
    qsort(v, k, sizeof *v, cmp_folded);
    size_t out = 0;
    for (size_t i = 0; i < k; i++) {
        if (out && !strcmp(v[out - 1].stack, v[i].stack)) {
            v[out - 1].bytes += v[i].bytes;
            free(v[i].stack);
            continue;
        }
        v[out++] = v[i];
    }
    *n = out;
    return v;
}

static void free_folded(struct folded *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].stack);
    free(v);
}

void emit_folded(FILE *out, const struct emit_input *in)
{
    size_t n;
    struct folded *v = fold_stacks(in, &n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s %llu\n", v[i].stack, (unsigned long long)v[i].bytes);
    free_folded(v, n);
}

/* ---- SVG ---- */

#define SVG_WIDTH 1200
#define SVG_PAD 10
#define FRAME_H 16
#define HEAD_H 44
#define FOOT_H 10
#define CHAR_W 7.0 /* average advance of 12px monospace */

struct node {
    char *name;
    uint64_t bytes;
    struct node *kids;
    size_t nkids;
};

static struct node *child(struct node *n, const char *name, size_t len)
{
    for (size_t i = 0; i < n->nkids; i++)
        if (strlen(n->kids[i].name) == len && !strncmp(n->kids[i].name, name, len))
            return &n->kids[i];
    n->kids = xrealloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
    struct node *c = &n->kids[n->nkids++];
    memset(c, 0, sizeof *c);
    c->name = xstrndup(name, len);
    return c;
}

static size_t tree_add(struct node *root, const char *stack, uint64_t bytes)
{
    struct node *n = root;
    size_t depth = 0;
    root->bytes += bytes;
    for (const char *p = stack; *p;) {
        size_t len = strcspn(p, ";");
        n = child(n, p, len);
        n->bytes += bytes;
        depth++;
        p += len;
        if (*p)
            p++;
    }
    return depth;
}

static void tree_free(struct node *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        tree_free(&n->kids[i]);
    free(n->kids);
    free(n->name);
}

static void put_escaped(FILE *out, const char *s, size_t max)
{
    for (size_t i = 0; s[i] && i < max; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            /* Control characters are not allowed in XML 1.0. */
            fputc((unsigned char)s[i] < 0x20 ? '?' : s[i], out);
        }
    }
}

/* flamegraph.pl's "hot" palette, seeded by the name so colours are stable. */
static void node_colour(const char *name, int *r, int *g, int *b)
{
    unsigned h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    *r = 205 + (int)(h % 50);
    *g = (int)((h >> 8) % 180);
    *b = (int)((h >> 16) % 55);
}

struct svg_ctx {
    FILE *out;
    double scale; /* pixels per byte */
    uint64_t total;
    double base_y; /* y of the root frame */
};

static void draw(const struct svg_ctx *c, const struct node *n, double x, size_t depth)
{
    double w = (double)n->bytes * c->scale;
    if (w < 0.1)
        return;
    double y = c->base_y - (double)depth * FRAME_H;
    int r, g, b;
    node_colour(n->name, &r, &g, &b);
    if (depth == 0)
        r = 230, g = 200, b = 130;
    FILE *o = c->out;
    fputs("<g><title>", o);
    put_escaped(o, n->name, (size_t)-1);
    fprintf(o, " (%llu byte(s), %.2f%%)</title>", (unsigned long long)n->bytes,
            c->total ? 100.0 * (double)n->bytes / (double)c->total : 0.0);
    fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" "
               "rx=\"2\" ry=\"2\"/>",
            x, y, w, FRAME_H - 1, r, g, b);
    size_t fits = w > 6 ? (size_t)((w - 6) / CHAR_W) : 0;
    size_t len = strlen(n->name);
    if (fits >= 3) {
        fprintf(o, "<text x=\"%.1f\" y=\"%.1f\">", x + 3, y + FRAME_H - 4.5);
        if (len <= fits) {
            put_escaped(o, n->name, len);
        } else {
            put_escaped(o, n->name, fits - 2);
            fputs("..", o);
        }
        fputs("</text>", o);
    }
    fputs("</g>\n", o);
    double cx = x;
    for (size_t i = 0; i < n->nkids; i++) {
        draw(c, &n->kids[i], cx, depth + 1);
        cx += (double)n->kids[i].bytes * c->scale;
    }
}

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

/* Children in name order, as flame graphs draw them (not by size). */
static void tree_sort(struct node *n)
{
    qsort(n->kids, n->nkids, sizeof *n->kids, cmp_node);
    for (size_t i = 0; i < n->nkids; i++)
        tree_sort(&n->kids[i]);
}

void emit_svg(FILE *out, const struct emit_input *in)
{
    size_t n;
    struct folded *v = fold_stacks(in, &n);
    struct node root = {.name = xstrdup("all")};
    size_t depth = 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = tree_add(&root, v[i].stack, v[i].bytes);
        depth = d > depth ? d : depth;
    }
    free_folded(v, n);
    tree_sort(&root);
    int height = HEAD_H + (int)(depth + 1) * FRAME_H + FOOT_H;
    const char *title = in->title ? in->title : "guardshim: leaked bytes by allocation stack";
    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"monospace\" font-size=\"12\">\n",
            SVG_WIDTH, height, SVG_WIDTH, height);
    fputs("<title>", out);
    put_escaped(out, title, (size_t)-1);
    fputs("</title>\n", out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f0\"/>\n",
            SVG_WIDTH, height);
    fprintf(out, "<text x=\"%d\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">", SVG_WIDTH / 2);
    put_escaped(out, title, (size_t)-1);
    fputs("</text>\n", out);
    struct totals t = records_totals(in->recs, in->n);
    fprintf(out,
            "<text x=\"%d\" y=\"38\" text-anchor=\"middle\" fill=\"#555\">%llu byte(s) in %llu "
            "allocation(s), %zu record(s), %zu process(es)%s</text>\n",
            SVG_WIDTH / 2, (unsigned long long)t.bytes, (unsigned long long)t.blocks, in->n,
            in->set->nprocs, in->baseline ? ", new or grown since the baseline" : "");
    struct svg_ctx c = {
        .out = out,
        .total = root.bytes,
        .scale = root.bytes ? (double)(SVG_WIDTH - 2 * SVG_PAD) / (double)root.bytes : 0,
        .base_y = (double)(height - FOOT_H - FRAME_H),
    };
    if (root.bytes)
        draw(&c, &root, SVG_PAD, 0);
    fputs("</svg>\n", out);
    tree_free(&root);
}
