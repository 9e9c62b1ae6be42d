/* SPDX-License-Identifier: MIT
 * emit_json.c: machine-readable outputs of `guardshim report`, built with
 * jansson: the merged report in the shim's own schema (DESIGN §4, with
 * "trigger":"merged" and a "processes" list) and SARIF 2.1.0 for code
 * scanning (one result per record; the allocating frame is the location,
 * the whole stack goes into `stacks`).
 * locks: none (single-threaded tool). allocates: malloc (jansson). */
#define _GNU_SOURCE
#include "emit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#ifndef GS_VERSION_STRING
#define GS_VERSION_STRING "0.0.0"
#endif

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *frame_json(const struct frame *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "pc", json_string(f->pc));
    json_object_set_new(o, "module", json_string(f->module));
    json_object_set_new(o, "offset", json_string(f->offset));
    json_object_set_new(o, "function", str_or_null(f->function));
    /* An addition to DESIGN §4 (readers ignore it): suppressions written
     * for the mangled name still match when this output is read again. */
    if (f->mangled)
        json_object_set_new(o, "mangled", json_string(f->mangled));
    json_object_set_new(o, "file", str_or_null(f->file));
    json_object_set_new(o, "line", f->line ? json_integer(f->line) : json_null());
    if (f->build_id)
        json_object_set_new(o, "build_id", json_string(f->build_id));
    return o;
}

void emit_json(FILE *out, const struct emit_input *in)
{
    const struct reportset *set = in->set;
    json_t *o = json_object();
    json_object_set_new(o, "tool", json_string("guardshim"));
    json_object_set_new(o, "version", json_string(GS_VERSION_STRING));
    /* One process: its pid and exe; several: null, see "processes". */
    bool one = set->nprocs == 1;
    json_object_set_new(o, "pid", one ? json_integer(set->procs[0].pid) : json_null());
    json_object_set_new(o, "exe", one ? json_string(set->procs[0].exe) : json_null());
    json_object_set_new(o, "trigger", json_string("merged"));
    struct totals t = records_totals(in->recs, in->n);
    uint64_t rb = 0, rk = 0;
    double ms = 0;
    for (size_t i = 0; i < set->nprocs; i++) {
        rb += set->procs[i].reachable_bytes;
        rk += set->procs[i].reachable_blocks;
        ms += set->procs[i].scan_ms;
    }
    json_t *sum = json_object();
    json_object_set_new(sum, "leaked_bytes", json_integer((json_int_t)t.bytes));
    json_object_set_new(sum, "leaked_blocks", json_integer((json_int_t)t.blocks));
    json_object_set_new(sum, "direct_bytes", json_integer((json_int_t)t.kind_bytes[KIND_DIRECT]));
    json_object_set_new(sum, "indirect_bytes",
                        json_integer((json_int_t)t.kind_bytes[KIND_INDIRECT]));
    json_object_set_new(sum, "possible_bytes",
                        json_integer((json_int_t)t.kind_bytes[KIND_POSSIBLE]));
    json_object_set_new(sum, "reachable_bytes", json_integer((json_int_t)rb));
    json_object_set_new(sum, "reachable_blocks", json_integer((json_int_t)rk));
    json_object_set_new(sum, "scan_ms", json_real(ms));
    json_object_set_new(sum, "records", json_integer((json_int_t)in->n));
    json_object_set_new(sum, "processes", json_integer((json_int_t)set->nprocs));
    json_object_set_new(o, "summary", sum);
    if (in->baseline)
        json_object_set_new(o, "baseline", json_string(in->baseline));
    json_t *procs = json_array();
    for (size_t i = 0; i < set->nprocs; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "pid", json_integer(set->procs[i].pid));
        json_object_set_new(p, "exe", json_string(set->procs[i].exe));
        json_object_set_new(p, "source", json_string(set->procs[i].source));
        json_object_set_new(p, "trigger", str_or_null(set->procs[i].trigger));
        json_array_append_new(procs, p);
    }
    json_object_set_new(o, "processes", procs);
    json_t *leaks = json_array();
    for (size_t i = 0; i < in->n; i++) {
        const struct record *r = &in->recs[i];
        json_t *l = json_object();
        json_object_set_new(l, "kind", json_string(kind_names[r->kind]));
        json_object_set_new(l, "bytes", json_integer((json_int_t)r->bytes));
        json_object_set_new(l, "blocks", json_integer((json_int_t)r->blocks));
        if (r->cycle)
            json_object_set_new(l, "cycle", json_true());
        json_object_set_new(l, "processes", json_integer((json_int_t)r->nprocs));
        if (r->mark != MARK_NONE) {
            json_object_set_new(l, "baseline", json_string(r->mark == MARK_NEW ? "new" : "grew"));
            json_object_set_new(l, "baseline_bytes", json_integer((json_int_t)r->base_bytes));
        }
        json_t *st = json_array();
        for (size_t k = 0; k < r->nframes; k++)
            json_array_append_new(st, frame_json(&r->frames[k]));
        json_object_set_new(l, "stack", st);
        json_array_append_new(leaks, l);
    }
    json_object_set_new(o, "leaks", leaks);
    json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(o);
}

/* ---- SARIF 2.1.0 ---- */

static const char *const rule_ids[KIND_COUNT] = {
    "guardshim/direct-leak", "guardshim/indirect-leak", "guardshim/possible-leak"};
static const char *const rule_names[KIND_COUNT] = {"DirectLeak", "IndirectLeak",
                                                   "PossibleLeak"};
static const char *const rule_text[KIND_COUNT] = {
    "Memory that nothing points to any more was never freed.",
    "Memory reachable only from other leaked memory was never freed.",
    "Memory reachable only through pointers into its middle was never freed.",
};
/* Direct leaks are bugs to fix; the others usually follow from one. */
static const char *const rule_level[KIND_COUNT] = {"error", "warning", "warning"};

/* A file name as a URI reference: absolute paths become file:// URIs,
 * relative ones stay relative (to the build directory); characters
 * outside RFC 3986's unreserved/sub-delims/path set are %-escaped. */
static json_t *file_uri(const char *path)
{
    struct strbuf b = {0};
    if (path[0] == '/')
        sb_add(&b, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/!$&'()*+,;=:@", *p))
            sb_addn(&b, (const char *)p, 1);
        else
            sb_printf(&b, "%%%02X", *p);
    }
    json_t *s = json_string(b.s);
    sb_free(&b);
    return s;
}

/* A SARIF `location` for a frame: source file and line when known, else
 * the module file; the function as a logical location. */
static json_t *frame_location(const struct frame *f)
{
    json_t *loc = json_object();
    json_t *phys = json_object();
    json_t *art = json_object();
    if (f->file && f->line > 0) {
        json_object_set_new(art, "uri", file_uri(f->file));
        json_object_set_new(phys, "artifactLocation", art);
        json_t *region = json_object();
        json_object_set_new(region, "startLine", json_integer(f->line));
        json_object_set_new(phys, "region", region);
    } else {
        json_object_set_new(art, "uri", file_uri(f->module));
        json_object_set_new(phys, "artifactLocation", art);
        json_t *addr = json_object();
        json_object_set_new(addr, "relativeAddress", json_integer((json_int_t)f->off));
        json_object_set_new(phys, "address", addr);
    }
    json_object_set_new(loc, "physicalLocation", phys);
    char *label = frame_label(f);
    json_t *logical = json_array();
    json_t *ll = json_object();
    json_object_set_new(ll, "name", json_string(label));
    json_object_set_new(ll, "kind", json_string("function"));
    if (f->mangled)
        json_object_set_new(ll, "decoratedName", json_string(f->mangled));
    json_array_append_new(logical, ll);
    json_object_set_new(loc, "logicalLocations", logical);
    free(label);
    return loc;
}

static json_t *sarif_rules(void)
{
    json_t *rules = json_array();
    for (int k = 0; k < KIND_COUNT; k++) {
        json_t *r = json_object();
        json_object_set_new(r, "id", json_string(rule_ids[k]));
        json_object_set_new(r, "name", json_string(rule_names[k]));
        json_t *sd = json_object();
        json_object_set_new(sd, "text", json_string(rule_text[k]));
        json_object_set_new(r, "shortDescription", sd);
        json_t *cfg = json_object();
        json_object_set_new(cfg, "level", json_string(rule_level[k]));
        json_object_set_new(r, "defaultConfiguration", cfg);
        json_array_append_new(rules, r);
    }
    return rules;
}

static json_t *sarif_result(const struct record *r)
{
    json_t *res = json_object();
    json_object_set_new(res, "ruleId", json_string(rule_ids[r->kind]));
    json_object_set_new(res, "ruleIndex", json_integer(r->kind));
    json_object_set_new(res, "level", json_string(rule_level[r->kind]));
    const struct frame *uf = record_user_frame(r);
    char *where = uf ? frame_label(uf) : xstrdup("an unknown caller");
    struct strbuf msg = {0};
    sb_printf(&msg, "%s leak of %llu byte(s) in %llu object(s) allocated from %s",
              r->kind == KIND_DIRECT ? "Direct" : r->kind == KIND_INDIRECT ? "Indirect" : "Possible",
              (unsigned long long)r->bytes, (unsigned long long)r->blocks, where);
    if (r->mark == MARK_NEW)
        sb_add(&msg, " (new since the baseline)");
    else if (r->mark == MARK_GREW)
        sb_printf(&msg, " (grew from %llu byte(s))", (unsigned long long)r->base_bytes);
    json_t *m = json_object();
    json_object_set_new(m, "text", json_string(msg.s));
    json_object_set_new(res, "message", m);
    sb_free(&msg);
    free(where);
    json_t *locs = json_array();
    if (uf)
        json_array_append_new(locs, frame_location(uf));
    json_object_set_new(res, "locations", locs);
    json_t *frames = json_array();
    for (size_t k = 0; k < r->nframes; k++) {
        json_t *fr = json_object();
        json_object_set_new(fr, "location", frame_location(&r->frames[k]));
        json_object_set_new(fr, "module", json_string(r->frames[k].module));
        json_array_append_new(frames, fr);
    }
    json_t *stack = json_object();
    json_t *sm = json_object();
    json_object_set_new(sm, "text", json_string("allocation stack"));
    json_object_set_new(stack, "message", sm);
    json_object_set_new(stack, "frames", frames);
    json_t *stacks = json_array();
    json_array_append_new(stacks, stack);
    json_object_set_new(res, "stacks", stacks);
    /* Lets code scanning track the same leak across runs. */
    json_t *fp = json_object();
    unsigned long long h = 1469598103934665603ull;
    for (const char *p = r->key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", h);
    json_object_set_new(fp, "guardshimStack/v1", json_string(hex));
    json_object_set_new(res, "partialFingerprints", fp);
    json_t *props = json_object();
    json_object_set_new(props, "bytes", json_integer((json_int_t)r->bytes));
    json_object_set_new(props, "blocks", json_integer((json_int_t)r->blocks));
    json_object_set_new(props, "processes", json_integer((json_int_t)r->nprocs));
    if (r->cycle)
        json_object_set_new(props, "cycle", json_true());
    json_object_set_new(res, "properties", props);
    return res;
}

void emit_sarif(FILE *out, const struct emit_input *in)
{
    json_t *o = json_object();
    json_object_set_new(o, "$schema", json_string("https://json.schemastore.org/sarif-2.1.0.json"));
    json_object_set_new(o, "version", json_string("2.1.0"));
    json_t *driver = json_object();
    json_object_set_new(driver, "name", json_string("guardshim"));
    json_object_set_new(driver, "version", json_string(GS_VERSION_STRING));
    json_object_set_new(driver, "semanticVersion", json_string(GS_VERSION_STRING));
    json_object_set_new(driver, "rules", sarif_rules());
    json_t *tool = json_object();
    json_object_set_new(tool, "driver", driver);
    json_t *run = json_object();
    json_object_set_new(run, "tool", tool);
    json_t *results = json_array();
    for (size_t i = 0; i < in->n; i++)
        json_array_append_new(results, sarif_result(&in->recs[i]));
    json_object_set_new(run, "results", results);
    json_t *runs = json_array();
    json_array_append_new(runs, run);
    json_object_set_new(o, "runs", runs);
    json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
    json_decref(o);
}
