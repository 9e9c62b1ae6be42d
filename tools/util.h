/* SPDX-License-Identifier: MIT
 * util.h: small helpers shared by the `guardshim` command's files:
 * allocation that exits on failure, one-line error messages, whole-file
 * reading and a growable string buffer.
 * Single-threaded tool: no locks; everything may allocate. */
#ifndef GS_TOOLS_UTIL_H
#define GS_TOOLS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of the tool itself (the `run` subcommand passes the
 * program's own status on instead). Distinct, so that a script can tell a
 * wrong invocation from missing files and from corrupt reports; the man
 * page's EXIT STATUS lists them. */
#define EXIT_USAGE 2      /* bad flag or option value */
#define EXIT_IO 3         /* `report`: a file cannot be read, or the output not written */
#define EXIT_MALFORMED 4  /* `report`: input that is not a guardshim report */
#define EXIT_NOPROG 127   /* program not found */
#define EXIT_NOEXEC 126   /* program found but not executable */

/* Allocation that cannot fail: out of memory ends the tool (status 2). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t n);
char *xstrndup(const char *s, size_t n);

/* One line on stderr: "guardshim: " + message + "\n". */
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads all of `path` ("-" = stdin) into a NUL-terminated buffer.
 * returns: 0 with *buf (caller frees) and *len set, or an errno value. */
int util_read_file(const char *path, char **buf, size_t *len);

/* Parses a non-negative decimal integer that fits `max`.
 * returns: true on success. */
bool util_parse_uint(const char *s, uint64_t max, uint64_t *out);

/* Growable NUL-terminated string. Zero-initialised is empty. */
struct strbuf {
    char *s;
    size_t len, cap;
};
void sb_add(struct strbuf *b, const char *s);
void sb_addn(struct strbuf *b, const char *s, size_t n);
void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *b);

/* The last path component of `path` (a pointer into it). */
const char *util_basename(const char *path);

#endif
