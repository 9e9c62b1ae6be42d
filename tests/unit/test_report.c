/* SPDX-License-Identifier: MIT
 * test_report.c: unit test of the report path (report.c, symbolize.c,
 * json.c, suppress.c, outbuf.c) with a fake depot and module table.
 * Proves: grouping by (kind, stack, owner), ordering, totals, the JSON
 * contract (DESIGN §4, checked with jq), the LSan text shape, real
 * symbolisation (this binary, libc, a dlclose'd library), escaping of a
 * hostile path, suppressions, and the log_path safety rules.
 * Usage: test_report [NAME-SUBSTRING] [DSO]; prints ok/FAIL lines, exits 1
 * on any failure. DSO (optional) is a library exporting `dso_leaky_site`. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "depot.h"
#include "json.h"
#include "leaks.h"
#include "modules.h"
#include "options.h"
#include "outbuf.h"
#include "report.h"
#include "suppress.h"

/* options.c is the core's; the driver owns the parsed options. */
struct options opt;

enum { M_EXE, M_LIBC, M_LIBC_STALE, M_WEIRD, M_DSO, M_COUNT };

#define MAX_STACKS 6000
#define WEIRD_PATH "/tmp/we\"ird\\dir/\n\x01lib\xff\xc3\xa9.so"
/* WEIRD_PATH as JSON must spell it: \u0001 for the control byte, \u00ff for
 * the byte that is not UTF-8, the valid UTF-8 e-acute as is. */
#define WEIRD_JSON "\"/tmp/we\\\"ird\\\\dir/\\n\\u0001lib\\u00ff\xc3\xa9.so\""

struct fake_stack {
    uintptr_t pcs[DEPOT_MAX_FRAMES];
    uint16_t mods[DEPOT_MAX_FRAMES];
    unsigned n;
};

static struct {
    int failures, checks;
    const char *filter;
    char dir[128];
    char exe_path[4096], dso_path[4096];
    struct module mods[M_COUNT];
    struct fake_stack stacks[MAX_STACKS + 1]; /* [0] unused: id 0 = no stack */
    unsigned n_stacks;
    uintptr_t exe_lo, exe_hi, libc_lo, libc_hi;
    uintptr_t pc_make_node, pc_list_main, pc_other, pc_bulk, pc_suppressed, pc_dso;
    int line_make_node, line_list_main;
    stack_id s_list, s_other, s_bulk, s_weird, s_suppressed, s_dso, s_unknown_id;
    struct leak_block *blocks;
    size_t n_blocks;
} t;

/* ---- Fakes for the core's depot and module table ---- */

unsigned depot_get(stack_id id, const uintptr_t **pcs, const uint16_t **mods)
{
    if (id == 0 || id > t.n_stacks)
        return 0;
    *pcs = t.stacks[id].pcs;
    *mods = t.stacks[id].mods;
    return t.stacks[id].n;
}

const struct module *modules_get(uint16_t idx) { return idx < M_COUNT ? &t.mods[idx] : NULL; }

/* libc stands in for the shim: frame #0 (malloc) lives there. */
const char *modules_self_path(void) { return t.mods[M_LIBC].path; }

/* ---- Harness ---- */

#define CHECK(cond, ...) check(!!(cond), __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 3, 4))) check(bool ok, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    t.checks++;
    printf("%s - ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf(ok ? "\n" : " (test_report.c:%d)\n", line);
    va_end(ap);
    if (!ok)
        t.failures++;
}

/* Runs `jq -c FILTER FILE` and returns its output without the final newline. */
static const char *jq(const char *file, const char *filter)
{
    static char out[65536];
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "jq -c '%s' '%s' 2>&1", filter, file);
    FILE *p = popen(cmd, "r");
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = 0;
    if (p)
        pclose(p);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    return out;
}

#define JQ_EQ(file, filter, want) \
    do { \
        const char *got_ = jq(file, filter); \
        CHECK(!strcmp(got_, want), "jq %s == %s%s%s", filter, want, strcmp(got_, want) ? " got " : "", \
              strcmp(got_, want) ? got_ : ""); \
    } while (0)

static char *slurp(const char *path)
{
    static char buf[1 << 20];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : 0;
    buf[n > 0 ? n : 0] = 0;
    if (fd >= 0)
        close(fd);
    return buf;
}

static bool matches(const char *text, const char *re)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NEWLINE))
        return false;
    bool ok = regexec(&rx, text, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

static void set_path(char *dst, const char *name)
{
    snprintf(dst, OPT_STR_MAX, "%s/%s", t.dir, name);
}

static int run_report(int format, const char *log_name, struct report_totals *tot)
{
    opt.format = format;
    set_path(opt.log_path, log_name);
    unlink(opt.log_path);
    struct scan_result r = {.leaks = t.blocks, .n_leaks = t.n_blocks, .reachable_bytes = 4096,
                           .reachable_blocks = 3, .scan_ms = 1.25};
    return report_write(&r, TRIGGER_EXIT, false, tot);
}

/* Runs fn with fd 2 sent to a file; returns what was written there. */
static const char *capture_stderr(void (*fn)(void *), void *ctx)
{
    char path[256];
    snprintf(path, sizeof path, "%s/stderr.txt", t.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int saved = dup(2);
    dup2(fd, 2);
    close(fd);
    fn(ctx);
    dup2(saved, 2);
    close(saved);
    return slurp(path);
}

/* ---- Call sites whose PCs the fake stacks use ---- */

static GS_NOINLINE uintptr_t return_address(void)
{
    return (uintptr_t)__builtin_return_address(0);
}

/* Each site stores its PC and line in one statement line, so pc - 1 is on that line. */
static GS_NOINLINE void make_node(void) { t.pc_make_node = return_address(); t.line_make_node = __LINE__; }
static GS_NOINLINE void list_main(void) { t.pc_list_main = return_address(); t.line_list_main = __LINE__; }
static GS_NOINLINE void other_site(void) { t.pc_other = return_address(); }
static GS_NOINLINE void bulk_site(void) { t.pc_bulk = return_address(); }
static GS_NOINLINE void suppressed_site(void) { t.pc_suppressed = return_address(); }

/* ---- Fixture ---- */

static void read_build_id(struct dl_phdr_info *info, struct module *m)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const char *desc = p + sizeof *nh + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_descsz <= MODULE_BUILD_ID_MAX) {
                memcpy(m->build_id, desc, nh->n_descsz);
                m->build_id_len = nh->n_descsz;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size, (void)ctx;
    struct module *m = NULL;
    if (!info->dlpi_name[0] && !t.mods[M_EXE].path)
        m = &t.mods[M_EXE];
    else if (strstr(info->dlpi_name, "/libc.so.6"))
        m = &t.mods[M_LIBC];
    if (!m)
        return 0;
    m->base = info->dlpi_addr;
    m->path = m == &t.mods[M_EXE] ? t.exe_path : info->dlpi_name;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            m->lo = info->dlpi_addr + ph->p_vaddr;
            m->hi = m->lo + ph->p_memsz;
        }
    }
    read_build_id(info, m);
    return 0;
}

static stack_id add_stack(unsigned n, const uintptr_t *pcs, const uint16_t *mods)
{
    struct fake_stack *s = &t.stacks[++t.n_stacks];
    s->n = n;
    memcpy(s->pcs, pcs, n * sizeof *pcs);
    memcpy(s->mods, mods, n * sizeof *mods);
    return (stack_id)t.n_stacks;
}

static void add_block(size_t size, stack_id s, uint32_t owner, uint8_t kind, bool cycle)
{
    t.blocks[t.n_blocks] = (struct leak_block){0x1000 + t.n_blocks * 64, size, s, owner, kind, cycle};
    t.n_blocks++;
}

/* Loads the DSO, records a PC inside it, then dlcloses it for good. */
static void load_dso(const char *path)
{
    void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *fn = h ? dlsym(h, "dso_leaky_site") : NULL;
    struct link_map *lm = NULL;
    if (!fn || dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0) {
        printf("# no DSO (%s): the dlclose'd module test is skipped\n", path ? dlerror() : "none");
        return;
    }
    snprintf(t.dso_path, sizeof t.dso_path, "%s", lm->l_name);
    t.mods[M_DSO] = (struct module){.base = lm->l_addr, .path = t.dso_path, .unloaded = true};
    t.pc_dso = (uintptr_t)fn + 4;
    dlclose(h);
}

static void build_fixture(const char *dso)
{
    ssize_t n = readlink("/proc/self/exe", t.exe_path, sizeof t.exe_path - 1);
    t.exe_path[n > 0 ? n : 0] = 0;
    dl_iterate_phdr(phdr_cb, NULL);
    t.mods[M_LIBC_STALE] = t.mods[M_LIBC];
    memset(t.mods[M_LIBC_STALE].build_id, 0xab, MODULE_BUILD_ID_MAX);
    t.mods[M_LIBC_STALE].build_id_len = 20;
    t.mods[M_WEIRD] = (struct module){.base = 0x10000, .path = WEIRD_PATH};
    t.mods[M_DSO] = (struct module){.path = "/nonexistent/libdso.so", .unloaded = true};
    load_dso(dso);
    make_node();
    list_main();
    other_site();
    bulk_site();
    suppressed_site();

    uintptr_t pc_malloc = (uintptr_t)&malloc + 4;
    const uint16_t E = M_EXE, L = M_LIBC;
    t.s_list = add_stack(3, (uintptr_t[]){pc_malloc, t.pc_make_node, t.pc_list_main},
                         (uint16_t[]){L, E, E});
    t.s_other = add_stack(2, (uintptr_t[]){pc_malloc, t.pc_other}, (uint16_t[]){L, E});
    t.s_bulk = add_stack(2, (uintptr_t[]){pc_malloc, t.pc_bulk}, (uint16_t[]){L, E});
    t.s_weird = add_stack(4, (uintptr_t[]){pc_malloc, 0x1234, 0x10042, pc_malloc},
                          (uint16_t[]){L, MODULE_NONE, M_WEIRD, M_LIBC_STALE});
    t.s_suppressed = add_stack(3, (uintptr_t[]){pc_malloc, t.pc_suppressed, t.pc_list_main},
                               (uint16_t[]){L, E, E});
    t.s_dso = add_stack(3, (uintptr_t[]){pc_malloc, t.pc_dso, t.pc_list_main},
                        (uint16_t[]){L, M_DSO, E});
    t.s_unknown_id = 4000000; /* the depot knows no such stack */

    t.blocks = calloc(200000, sizeof *t.blocks);
    /* Interleaved on purpose: grouping must not depend on input order. */
    for (int i = 0; i < 100000; i++) {
        add_block(16, t.s_bulk, 0, KIND_DIRECT, false);
        if (i == 500) {
            add_block(48, t.s_list, 0, KIND_DIRECT, false);
            add_block(32, t.s_list, 0, KIND_INDIRECT, false);
        }
        if (i == 700) {
            add_block(48, t.s_list, 0, KIND_DIRECT, false);
            add_block(32, t.s_list, 0, KIND_INDIRECT, false);
            add_block(32, t.s_list, 0, KIND_INDIRECT, false);
        }
    }
    add_block(100, t.s_other, 0, KIND_DIRECT, false);
    add_block(200, t.s_other, 0, KIND_DIRECT, true);
    add_block(64, t.s_other, 0, KIND_POSSIBLE, false);
    add_block(50, t.s_other, 7, KIND_DIRECT, false);
    add_block(10, t.s_weird, 0, KIND_DIRECT, false);
    add_block(24, t.s_suppressed, 0, KIND_DIRECT, false);
    add_block(20, t.s_dso, 0, KIND_DIRECT, false);
    add_block(5, 0, 0, KIND_DIRECT, false);
    add_block(6, t.s_unknown_id, 0, KIND_DIRECT, false);
    add_block(999, t.s_other, 0, 9 /* not a kind: skipped */, false);
}

/* ---- Tests ---- */

/* Totals of the fixture: 1,600,000 bulk + 96 + 96 + 300 + 64 + 50 + 10 + 24 + 20 + 5 + 6 bytes
 * in 100,000 + 2 + 3 + 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 blocks (the kind-9 block is dropped). */
#define FIXTURE_BYTES "1600671"
#define FIXTURE_BLOCKS "100014"

static void test_json(void)
{
    struct report_totals tot;
    int err = run_report(FORMAT_JSON, "r.json", &tot);
    const char *f = opt.log_path;
    CHECK(err == 0, "json report written (err %d)", err);
    CHECK(tot.records == 11 && tot.leaked_bytes == 1600671 && tot.leaked_blocks == 100014,
          "totals: %zu records, %zu bytes, %zu blocks", tot.records, tot.leaked_bytes,
          tot.leaked_blocks);
    const char *text = slurp(f);
    size_t len = strlen(text);
    CHECK(len > 0 && text[len - 1] == '\n' && strchr(text, '\n') == text + len - 1,
          "the report is exactly one line ending in a newline");
    JQ_EQ(f, "[.tool,.version,.trigger,.pid>0,(.exe|type)]",
          "[\"guardshim\",\"0.1.0\",\"exit\",true,\"string\"]");
    JQ_EQ(f, ".summary", "{\"leaked_bytes\":" FIXTURE_BYTES ",\"leaked_blocks\":" FIXTURE_BLOCKS
                         ",\"direct_bytes\":1600511,\"indirect_bytes\":96,\"possible_bytes\":64,"
                         "\"reachable_bytes\":4096,\"reachable_blocks\":3,\"scan_ms\":1.25}");
    CHECK(strstr(text, "\"scan_ms\":1.250}") != NULL, "scan_ms is written with 3 decimals");
    JQ_EQ(f, "[.leaks[]|[.kind,.bytes,.blocks]]",
          "[[\"direct\",1600000,100000],[\"direct\",300,2],[\"indirect\",96,3],[\"direct\",96,2],"
          "[\"possible\",64,1],[\"direct\",50,1],[\"direct\",24,1],[\"direct\",20,1],"
          "[\"direct\",10,1],[\"direct\",6,1],[\"direct\",5,1]]");
    JQ_EQ(f, "[.leaks[]|select(.cycle)|.bytes]", "[300]");
    JQ_EQ(f, "[.leaks[]|select(.owner)|[.owner,.bytes]]", "[[7,50]]");
    JQ_EQ(f, "[.leaks[]|keys_unsorted|join(\",\")]|unique",
          "[\"kind,bytes,blocks,cycle,stack\",\"kind,bytes,blocks,owner,stack\","
          "\"kind,bytes,blocks,stack\"]");
    JQ_EQ(f, "[.leaks[].stack[]|(.module|type),(.offset|test(\"^0x[0-9a-f]+$\")),"
             "(.pc|test(\"^0x[0-9a-f]+$\"))]|unique",
          "[true,\"string\"]");
    JQ_EQ(f, "[.leaks[]|select(.bytes==5 or .bytes==6)|.stack]", "[[],[]]");

    char want[8192];
    const char *got = jq(f, ".leaks[2].stack[1]|[.function,(.file|split(\"/\")|last),.line,.module]");
    char want2[8192];
    snprintf(want2, sizeof want2, "[\"make_node\",\"test_report.c\",%d,\"%s\"]", t.line_make_node,
             t.exe_path);
    CHECK(!strcmp(got, want2), "frame #1 symbolised from this binary: %s (got %s)", want2, got);
    snprintf(want, sizeof want, "%d", t.line_list_main);
    JQ_EQ(f, ".leaks[2].stack[2].line", want);
    JQ_EQ(f, ".leaks[2].stack[0].function|test(\"^(__libc_)?malloc$\")", "true");
    JQ_EQ(f, ".leaks[2].stack[1].build_id|test(\"^[0-9a-f]{16,}$\")",
          t.mods[M_EXE].build_id_len ? "true" : "null");
    snprintf(want, sizeof want, "\"0x%llx\"",
             (unsigned long long)(t.pc_make_node - t.mods[M_EXE].base));
    JQ_EQ(f, ".leaks[2].stack[1].offset", want);

    /* The record of the hostile stack: unknown module, weird path, stale libc. */
    JQ_EQ(f, ".leaks[8].stack[1]|[.module,.offset,.function,.file,.line]",
          "[\"[unknown]\",\"0x1234\",null,null,null]");
    CHECK(strstr(text, "\"module\":" WEIRD_JSON ",\"offset\":\"0x42\"") != NULL,
          "a path with quote, backslash, newline, control and non-UTF-8 bytes is escaped");
    JQ_EQ(f, ".leaks[8].stack[3].function", "null");
    if (t.pc_dso) {
        JQ_EQ(f, ".leaks[7].stack[1]|[.function,(.file|split(\"/\")|last)]",
              "[\"dso_leaky_site\",\"dso.c\"]");
    }
}

static void test_json_clean_and_append(void)
{
    size_t saved = t.n_blocks;
    t.n_blocks = 0;
    struct report_totals tot;
    opt.format = FORMAT_JSON;
    set_path(opt.log_path, "clean.%p.%%.json");
    char expanded[OPT_STR_MAX];
    snprintf(expanded, sizeof expanded, "%s/clean.%d.%%.json", t.dir, (int)getpid());
    unlink(expanded);
    struct scan_result r = {.reachable_bytes = 10, .reachable_blocks = 1, .scan_ms = 0.5};
    int e1 = report_write(&r, TRIGGER_INTERVAL, false, &tot);
    int e2 = report_write(&r, TRIGGER_SIGNAL, false, &tot);
    t.n_blocks = saved;
    CHECK(e1 == 0 && e2 == 0 && tot.records == 0 && tot.leaked_bytes == 0,
          "a clean scan writes a JSON report with zero totals");
    JQ_EQ(expanded, "[.trigger,.leaks,.summary.leaked_bytes]",
          "[\"interval\",[],0]\n[\"signal\",[],0]");
    struct stat st;
    CHECK(stat(expanded, &st) == 0 && (st.st_mode & 0777) == 0600,
          "%%p and %%%% expand in log_path; the file is created 0600");
}

static void test_text(void)
{
    struct report_totals tot;
    int err = run_report(FORMAT_TEXT, "r.txt", &tot);
    const char *s = slurp(opt.log_path);
    char re[512];
    CHECK(err == 0 && tot.records == 11, "text report written");
    snprintf(re, sizeof re,
             "^=================================================================\n"
             "==%d==ERROR: guardshim: detected memory leaks\n\n"
             "Direct leak of 1600000 byte\\(s\\) in 100000 object\\(s\\) allocated from:\n",
             (int)getpid());
    CHECK(matches(s, re), "header and first record in LeakSanitizer's shape");
    snprintf(re, sizeof re,
             "^Indirect leak of 96 byte\\(s\\) in 3 object\\(s\\) allocated from:\n"
             "    #0 0x[0-9a-f]+ in (__libc_)?malloc \\(libc\\.so\\.6\\+0x[0-9a-f]+\\)\n"
             "    #1 0x[0-9a-f]+ in make_node [^ ]*test_report\\.c:%d\n"
             "    #2 0x[0-9a-f]+ in list_main [^ ]*test_report\\.c:%d\n\n",
             t.line_make_node, t.line_list_main);
    CHECK(matches(s, re), "frames: shim frame as (module+off), user frames with file:line");
    CHECK(matches(s, "^Direct leak of 300 byte\\(s\\) in 2 object\\(s\\) allocated from: \\[cycle\\]$"),
          "a cycle entry is tagged [cycle] after the colon");
    CHECK(matches(s, "^Direct leak of 50 byte\\(s\\) in 1 object\\(s\\) allocated from: \\[owner 7\\]$"),
          "an owner is tagged [owner 7] after the colon");
    CHECK(matches(s, "^Possible leak of 64 byte\\(s\\) in 1 object\\(s\\) allocated from:$"),
          "possible leaks are labelled Possible");
    CHECK(matches(s, "^    #1 0x1234 \\(<unknown module>\\)$") &&
              matches(s, "^    #2 0x10042 \\(\\?\\?lib\xff\xc3\xa9\\.so\\+0x42\\)$"),
          "frames without function print (module+offset); control bytes become '?'");
    CHECK(matches(s, "\n\nSUMMARY: guardshim: " FIXTURE_BYTES " byte\\(s\\) leaked in " FIXTURE_BLOCKS
                     " allocation\\(s\\)\\.\n$"),
          "SUMMARY line ends the report");

    size_t saved = t.n_blocks;
    t.n_blocks = 0;
    err = run_report(FORMAT_TEXT, "clean.txt", &tot);
    struct stat st;
    CHECK(err == 0 && stat(opt.log_path, &st) != 0, "text stays silent when clean (no file)");
    opt.verbosity = 1;
    err = run_report(FORMAT_TEXT, "clean.txt", &tot);
    opt.verbosity = 0;
    t.n_blocks = saved;
    CHECK(err == 0 && matches(slurp(opt.log_path), "^==[0-9]+==guardshim: no leaks detected$"),
          "verbosity=1 writes a clean text report");
}

static void write_file(const char *name, const char *text)
{
    char path[OPT_STR_MAX];
    set_path(path, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_suppressions(void)
{
    CHECK(suppress_template_match("make_node", "my_make_node_x"), "plain pattern is a substring");
    CHECK(!suppress_template_match("^make", "my_make_node"), "^ anchors at the start");
    CHECK(suppress_template_match("node$", "make_node") && !suppress_template_match("node$", "nodes"),
          "$ anchors at the end");
    CHECK(suppress_template_match("a*c", "xxabbbcyy") && !suppress_template_match("a*c", "cba"),
          "* matches any run, in order");
    CHECK(suppress_template_match("^/usr/lib/*.so$", "/usr/lib/x/libfoo.so"), "anchors and * combine");
    CHECK(!suppress_template_match("x", "") && !suppress_template_match("x", NULL),
          "an empty name never matches");

    struct report_totals tot;
    suppress_fini();
    int err = run_report(FORMAT_JSON, "nosupp.json", &tot);
    size_t base_records = tot.records, base_bytes = tot.leaked_bytes;

    write_file("supp.txt", "# a comment\n\n   leak:suppressed_site   \nrace:make_node\n");
    suppress_fini();
    set_path(opt.suppressions, "supp.txt");
    err = run_report(FORMAT_JSON, "supp.json", &tot);
    CHECK(err == 0 && tot.records == base_records - 1 && tot.leaked_bytes == base_bytes - 24,
          "a file naming one function removes exactly that record (%zu -> %zu)", base_records,
          tot.records);
    JQ_EQ(opt.log_path, "[.leaks[]|select(.bytes==24)]|length", "0");
    JQ_EQ(opt.log_path, ".summary.leaked_bytes", "1600647");
    JQ_EQ(opt.log_path, "[.leaks[]|select(.kind==\"indirect\")]|length", "1");

    err = run_report(FORMAT_TEXT, "supp.txt.out", &tot);
    CHECK(matches(slurp(opt.log_path), "^Suppressions used:\n  count      bytes template\n"
                                       "      1         24 suppressed_site\n"),
          "text lists the suppressions used");

    /* Module path match, anchored, and a program's built-in suppressions. */
    suppress_fini();
    opt.suppressions[0] = 0;
    suppress_add_builtin("leak:^/tmp/we\nleak:dso_leaky_site\n");
    err = run_report(FORMAT_JSON, "supp2.json", &tot);
    CHECK(tot.records == base_records - (t.pc_dso ? 2 : 1),
          "suppress_add_builtin: module-path and function patterns apply");

    /* Control: the same patterns that match nothing change nothing. */
    suppress_fini();
    suppress_add_builtin("leak:^tmp/we\nleak:no_such_function\n");
    err = run_report(FORMAT_JSON, "supp3.json", &tot);
    CHECK(tot.records == base_records, "non-matching patterns suppress nothing");
    suppress_fini();
}

static void report_missing_supp(void *ctx)
{
    struct report_totals *tot = ctx;
    suppress_fini();
    set_path(opt.suppressions, "no-such-file.supp");
    run_report(FORMAT_JSON, "missing.json", tot);
    opt.suppressions[0] = 0;
    suppress_fini();
}

static void test_bad_suppressions_file(void)
{
    struct report_totals tot;
    const char *err = capture_stderr(report_missing_supp, &tot);
    CHECK(matches(err, "^guardshim: error: .*no-such-file\\.supp") && strchr(err, '\n') == strrchr(err, '\n'),
          "a missing suppressions file gives one error line naming it");
    CHECK(tot.records == 11, "... and the report goes on unsuppressed");
}

static void test_destination_safety(void)
{
    char target[OPT_STR_MAX], planted[OPT_STR_MAX];
    set_path(target, "victim");
    set_path(planted, "link.json");
    write_file("victim", "precious\n");
    unlink(planted);
    CHECK(symlink(target, planted) == 0, "symlink planted");
    opt.format = FORMAT_JSON;
    snprintf(opt.log_path, sizeof opt.log_path, "%s", planted);
    struct scan_result r = {.leaks = t.blocks, .n_leaks = 10};
    int err = report_write(&r, TRIGGER_EXIT, false, NULL);
    CHECK(err == ELOOP && !strcmp(slurp(target), "precious\n"),
          "a symlink at log_path is refused and its target untouched (err %d)", err);

    char fifo[OPT_STR_MAX];
    set_path(fifo, "fifo");
    unlink(fifo);
    mkfifo(fifo, 0600);
    snprintf(opt.log_path, sizeof opt.log_path, "%s", fifo);
    err = report_write(&r, TRIGGER_EXIT, false, NULL);
    CHECK(err == EINVAL || err == ENXIO, "a FIFO at log_path is refused without blocking (err %d)", err);

    /* A second name for a file of ours: refused, the file untouched. */
    char linked[OPT_STR_MAX];
    set_path(linked, "linked.json");
    unlink(linked);
    CHECK(link(target, linked) == 0, "hard link planted");
    snprintf(opt.log_path, sizeof opt.log_path, "%s", linked);
    err = report_write(&r, TRIGGER_EXIT, false, NULL);
    CHECK(err == EPERM && !strcmp(slurp(target), "precious\n"),
          "a file with two links at log_path is refused (err %d)", err);
    /* Created new: O_EXCL, 0600 whatever the umask; then appended to. */
    char fresh[OPT_STR_MAX];
    set_path(fresh, "fresh.json");
    unlink(fresh);
    snprintf(opt.log_path, sizeof opt.log_path, "%s", fresh);
    mode_t old_umask = umask(0);
    int err1 = report_write(&r, TRIGGER_EXIT, false, NULL);
    umask(old_umask);
    size_t len1 = strlen(slurp(fresh));
    int err2 = report_write(&r, TRIGGER_EXIT, false, NULL);
    struct stat st;
    CHECK(err1 == 0 && err2 == 0 && stat(fresh, &st) == 0 && (st.st_mode & 0777) == 0600 &&
              len1 > 0 && strlen(slurp(fresh)) == 2 * len1,
          "a new report file is 0600 under umask 0, and a second report appends to it");

    if (geteuid() == 0) {
        char other[OPT_STR_MAX];
        set_path(other, "others.json");
        write_file("others.json", "");
        CHECK(chown(other, 65534, 65534) == 0, "file given to nobody");
        snprintf(opt.log_path, sizeof opt.log_path, "%s", other);
        err = report_write(&r, TRIGGER_EXIT, false, NULL);
        CHECK(err == EPERM && slurp(other)[0] == 0, "a file owned by another user is refused");
    }
    opt.log_path[0] = 0;
}

static void test_odd_input(void)
{
    struct report_totals tot;
    opt.format = FORMAT_JSON;
    set_path(opt.log_path, "odd.json");
    int err = report_write(NULL, TRIGGER_API, false, &tot);
    CHECK(err == 0 && tot.records == 0, "a NULL scan result gives an empty report");
    struct scan_result r = {.n_leaks = 5, .scan_ms = 0.0 / 0.0};
    err = report_write(&r, (enum report_trigger)42, false, &tot);
    CHECK(err == 0 && tot.records == 0, "leaks NULL with n_leaks 5 is treated as none");
    JQ_EQ(opt.log_path, "[.summary.scan_ms,.trigger]", "[0,\"api\"]\n[0,\"api\"]");

    /* Programs like sort close fd 2 before exit: the text report is lost, quietly. */
    opt.format = FORMAT_TEXT;
    opt.log_path[0] = 0;
    struct scan_result some = {.leaks = t.blocks, .n_leaks = 10};
    int saved = dup(2);
    close(2);
    err = report_write(&some, TRIGGER_EXIT, false, &tot);
    dup2(saved, 2);
    close(saved);
    CHECK(err == EBADF && tot.records == 1, "a closed stderr loses the report without harm");
}

static void test_json_emitter(void)
{
    char path[OPT_STR_MAX];
    set_path(path, "emit.json");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    struct outbuf o;
    outbuf_init(&o, fd);
    struct json j;
    json_init(&j, &o);
    json_begin_object(&j, NULL);
    json_str(&j, "s", "tab\there \"q\" \\ \x7f \x1f");
    json_str(&j, "bad", "\xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 ok\xe2\x82\xac");
    json_begin_array(&j, "a");
    json_int(&j, NULL, -3);
    json_null(&j, NULL);
    json_bool(&j, NULL, false);
    json_begin_object(&j, NULL);
    json_end_object(&j);
    json_end_array(&j);
    json_hex(&j, "h", 0xdeadbeef);
    json_end_object(&j);
    outbuf_putc(&o, '\n');
    CHECK(outbuf_fini(&o) == 0, "emitter output flushed");
    close(fd);
    CHECK(!strcmp(slurp(path), "{\"s\":\"tab\\there \\\"q\\\" \\\\ \x7f \\u001f\","
                               "\"bad\":\"\\u00c0\\u00af \\u00ed\\u00a0\\u0080 \\u00f4\\u0090\\u0080"
                               "\\u0080 ok\xe2\x82\xac\",\"a\":[-3,null,false,{}],\"h\":\"0xdeadbeef\"}\n"),
          "escaping: controls, quotes, overlong/surrogate/out-of-range UTF-8 as \\u00XX");
    JQ_EQ(path, ".a", "[-3,null,false,{}]");
}

static void test_speed(void)
{
    /* 5,000 distinct stacks that share their outer frames, as real ones do. */
    size_t saved_n = t.n_blocks;
    unsigned first = t.n_stacks + 1;
    uintptr_t span = t.mods[M_EXE].hi - t.mods[M_EXE].lo;
    for (unsigned k = 0; k < 5000 && t.n_stacks < MAX_STACKS; k++) {
        uintptr_t pcs[6] = {(uintptr_t)&malloc + 4, t.mods[M_EXE].lo + (k * 7919u) % span,
                            t.mods[M_EXE].lo + (k * 104729u) % span, t.pc_make_node,
                            t.pc_list_main, (uintptr_t)&exit + 8};
        uint16_t mods[6] = {M_LIBC, M_EXE, M_EXE, M_EXE, M_EXE, M_LIBC};
        stack_id s = add_stack(6, pcs, mods);
        t.blocks[t.n_blocks++] = (struct leak_block){0, 8, s, 0, KIND_DIRECT, false};
    }
    struct timespec a, b;
    struct report_totals tot;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int err = run_report(FORMAT_JSON, "speed.json", &tot);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    printf("# 5,000 stacks + 100k blocks reported in %.0f ms\n", ms);
    CHECK(err == 0 && tot.records >= 5000 + 11 - 0, "5,000 distinct stacks reported (%zu records)",
          tot.records);
    /* Generous bound (not a benchmark): catches a lost cache, not noise. */
    CHECK(ms < 3000, "symbolising 5,000 stacks stays fast (%.0f ms)", ms);
    t.n_blocks = saved_n;
    t.n_stacks = first - 1;
}

static const struct {
    const char *name;
    void (*fn)(void);
} tests[] = {
    {"json", test_json},
    {"json_clean_append", test_json_clean_and_append},
    {"text", test_text},
    {"suppressions", test_suppressions},
    {"bad_suppressions", test_bad_suppressions_file},
    {"destination", test_destination_safety},
    {"odd_input", test_odd_input},
    {"emitter", test_json_emitter},
    {"speed", test_speed},
};

int main(int argc, char **argv)
{
    t.filter = argc > 1 && argv[1][0] ? argv[1] : NULL;
    snprintf(t.dir, sizeof t.dir, "/tmp/gs-report-test.XXXXXX");
    if (!mkdtemp(t.dir)) {
        perror("mkdtemp");
        return 2;
    }
    build_fixture(argc > 2 ? argv[2] : getenv("GS_TEST_DSO"));
    for (size_t i = 0; i < GS_ARRAY_LEN(tests); i++) {
        if (t.filter && !strstr(tests[i].name, t.filter))
            continue;
        printf("# %s\n", tests[i].name);
        tests[i].fn();
    }
    printf("# %d checks, %d failed\n", t.checks, t.failures);
    if (!t.failures) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t.dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", t.dir);
    } else {
        printf("# files kept in %s\n", t.dir);
    }
    return t.failures ? 1 : 0;
}
