/* SPDX-License-Identifier: MIT
 * suppress.c: suppression patterns and their matching (see suppress.h).
 * Patterns are kept NUL-terminated in one sys_map'd text buffer, indexed by
 * a sys_map'd array; both grow by doubling. Nothing here calls malloc.
 * locks: none (callers serialise, see suppress.h). STW: no.
 * allocates: sys_map only. async-signal-safe: no. */
#define _GNU_SOURCE
#include "suppress.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sys.h"

/* A suppressions file larger than this is refused: it is surely not one. */
#define SUPPRESS_FILE_MAX (16u << 20)

struct pattern {
    size_t off; /* into `supp.text` */
    size_t hit_blocks, hit_bytes;
};

/* Invariant: pats[0..n) index NUL-terminated strings inside text[0..len). */
static struct {
    bool inited;
    char *text;
    size_t len, cap;
    struct pattern *pats;
    size_t n, pcap; /* pcap in bytes */
} supp;

/* LSan's built-in list (lsan_common.cpp kStdSuppressions, Linux part):
 * glibc's dynamic TLS blocks (sourceware bug 12650). */
static const char std_suppressions[] = "leak:*tls_get_addr*\n";

/* Makes room for `need` bytes in a sys_map'd buffer of `*cap` bytes of
 * which `used` are live. returns: false when out of memory. */
static bool grow(void **buf, size_t *cap, size_t used, size_t need)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    void *nb = sys_map(ncap, false);
    if (!nb)
        return false;
    if (*buf) {
        memcpy(nb, *buf, used);
        sys_unmap(*buf, *cap);
    }
    *buf = nb;
    *cap = ncap;
    return true;
}

static bool add_pattern(const char *p, size_t n)
{
    if (!grow((void **)&supp.text, &supp.cap, supp.len, supp.len + n + 1) ||
        !grow((void **)&supp.pats, &supp.pcap, supp.n * sizeof *supp.pats,
              (supp.n + 1) * sizeof *supp.pats))
        return false;
    memcpy(supp.text + supp.len, p, n);
    supp.text[supp.len + n] = 0;
    supp.pats[supp.n++] = (struct pattern){.off = supp.len};
    supp.len += n + 1;
    return true;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Parses suppression lines from text[0..n); `origin` names the source in
 * messages. returns: the number of patterns added. */
static int parse(const char *text, size_t n, const char *origin)
{
    int added = 0;
    unsigned lineno = 0;
    const char *end = text + n;
    for (const char *line = text; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *eol = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        lineno++;
        while (line < eol && is_blank(*line))
            line++;
        while (eol > line && is_blank(eol[-1]))
            eol--;
        if (line == eol || *line == '#') {
            line = next;
            continue;
        }
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (!colon) {
            log_warn("%s:%u: not a suppression (want leak:PATTERN); line ignored", origin, lineno);
        } else if ((size_t)(colon - line) != 4 || memcmp(line, "leak", 4) != 0) {
            /* A file shared with other sanitizers may carry their types. */
            log_info(1, "%s:%u: suppression type '%.*s' is not leak; line ignored", origin, lineno,
                     (int)GS_MIN(colon - line, 32), line);
        } else if (colon + 1 == eol) {
            /* TemplateMatch would match everything: surely a mistake. */
            log_warn("%s:%u: empty leak pattern; line ignored", origin, lineno);
        } else if (!add_pattern(colon + 1, (size_t)(eol - colon - 1))) {
            log_error("%s: out of memory for suppressions", origin);
            return added;
        } else {
            added++;
        }
        line = next;
    }
    return added;
}

/* Reads the whole regular file `path` into a sys_map'd buffer.
 * returns: 0 or errno (EINVAL: not a regular file, EFBIG: too large). */
static int read_file(const char *path, char **buf, size_t *len, size_t *cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return errno;
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode))
        err = EINVAL;
    else if ((uint64_t)st.st_size > SUPPRESS_FILE_MAX)
        err = EFBIG;
    else if (!(*buf = sys_map((size_t)st.st_size + 1, false)))
        err = ENOMEM;
    *len = 0;
    *cap = err ? 0 : (size_t)st.st_size + 1;
    /* Read at most the size fstat saw; a file growing meanwhile is cut. */
    while (!err && *len < (size_t)st.st_size) {
        ssize_t r = read(fd, *buf + *len, (size_t)st.st_size - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            err = errno;
        if (r <= 0)
            break;
        *len += (size_t)r;
    }
    close(fd);
    if (err && *cap) {
        sys_unmap(*buf, *cap);
        *buf = NULL;
        *cap = 0;
    }
    return err;
}

int suppress_init(const char *path)
{
    if (supp.inited)
        return 0;
    supp.inited = true;
    parse(std_suppressions, sizeof std_suppressions - 1, "built-in suppressions");
    if (!path || !path[0])
        return 0;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int err = read_file(path, &buf, &len, &cap);
    if (err) {
        log_error("cannot read suppressions file '%s': %s; reporting without it", path,
                  err == EINVAL ? "not a regular file" : strerror(err));
        return err;
    }
    int n = parse(buf, len, path);
    log_info(2, "%d suppression(s) loaded from '%s'", n, path);
    sys_unmap(buf, cap);
    return 0;
}

int suppress_add_builtin(const char *text)
{
    if (!text)
        return 0;
    return parse(text, strlen(text), "built-in suppressions");
}

bool suppress_any(void) { return supp.n > 0; }

/* Finds the segment t[0..n) in s (first occurrence), like strstr. */
static const char *find_segment(const char *s, const char *t, size_t n)
{
    return memmem(s, strlen(s), t, n);
}

/* compiler-rt's TemplateMatch semantics: `^` anchors at the start, `$` at
 * the end, `*` is any run; literal segments match at their first
 * occurrence. One deliberate difference: a segment right before `$` is
 * also tried at the end of the string, so `leak:a*b$` matches "abab"
 * (LSan misses it): it can only suppress more, never less, than LSan. */
bool suppress_template_match(const char *t, const char *s)
{
    if (!t || !s || !s[0])
        return false;
    bool start = false, star = false;
    if (*t == '^') {
        start = true;
        t++;
    }
    while (*t) {
        if (*t == '*') {
            t++;
            start = false;
            star = true;
            continue;
        }
        if (*t == '$')
            return *s == 0 || star;
        if (*s == 0)
            return false;
        size_t seg = strcspn(t, "*$");
        const char *p = find_segment(s, t, seg);
        if (!p || (start && p != s))
            return false;
        if (t[seg] == '$' && !start) {
            size_t sl = strlen(s);
            if (memcmp(s + sl - seg, t, seg) == 0)
                p = s + sl - seg;
        }
        s = p + seg;
        t += seg;
        start = false;
        star = false;
    }
    return true;
}

int suppress_match(const char *module, const char *function, const char *mangled,
                   const char *file)
{
    for (size_t i = 0; i < supp.n; i++) {
        const char *t = supp.text + supp.pats[i].off;
        if (suppress_template_match(t, module) || suppress_template_match(t, function) ||
            suppress_template_match(t, mangled) || suppress_template_match(t, file))
            return (int)i;
    }
    return -1;
}

void suppress_hit(int idx, size_t blocks, size_t bytes)
{
    if (idx < 0 || (size_t)idx >= supp.n)
        return;
    supp.pats[idx].hit_blocks += blocks;
    supp.pats[idx].hit_bytes += bytes;
}

void suppress_clear_hits(void)
{
    for (size_t i = 0; i < supp.n; i++)
        supp.pats[i].hit_blocks = supp.pats[i].hit_bytes = 0;
}

void suppress_for_each_hit(void (*fn)(const char *pattern, size_t blocks, size_t bytes, void *ctx),
                           void *ctx)
{
    for (size_t i = 0; i < supp.n; i++)
        if (supp.pats[i].hit_blocks)
            fn(supp.text + supp.pats[i].off, supp.pats[i].hit_blocks, supp.pats[i].hit_bytes, ctx);
}

void suppress_fini(void)
{
    sys_unmap(supp.text, supp.cap);
    sys_unmap(supp.pats, supp.pcap);
    memset(&supp, 0, sizeof supp);
}
