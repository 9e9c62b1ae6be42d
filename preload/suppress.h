/* SPDX-License-Identifier: MIT
 * suppress.h: LeakSanitizer-style suppressions (DESIGN §3 `suppressions`).
 * Lines are `leak:PATTERN`; `#` starts a comment line; blank lines are
 * ignored; leading and trailing blanks are trimmed. Other LSan types
 * (`race:`, ...) are skipped with a warning. PATTERN follows compiler-rt's
 * TemplateMatch: it matches anywhere in the string (substring) unless it
 * starts with `^` (anchored at the start) or ends with `$` (anchored at
 * the end); `*` matches any run of characters. A record is suppressed when
 * a pattern matches the module path, the function name (demangled, as
 * LSan matches it, or the mangled symbol, so files written for either
 * form work) or the source file of any frame of its stack (LSan's
 * GetSuppressionForAddr, over all frames).
 * Thread-safety: none. The core calls these before the first report or
 * under the lock that serialises report_write. */
#ifndef GS_SUPPRESS_H
#define GS_SUPPRESS_H

#include "common.h"

/* Loads the suppressions file `path` (skipped when NULL or "") and LSan's
 * standard suppressions (`leak:*tls_get_addr*`). Only the first call per
 * process does anything, so a bad file is reported once, not per report.
 * A missing or unreadable file gives one log_error naming it; reporting
 * goes on without it. returns: 0, or the errno of the failed file. */
int suppress_init(const char *path);

/* Adds the suppression lines in `text` (same syntax as the file), e.g. the
 * string of a program's `__lsan_default_suppressions()`. NULL is ignored.
 * returns: the number of patterns added. */
int suppress_add_builtin(const char *text);

/* returns: true when at least one pattern is loaded. */
bool suppress_any(void);

/* The index of the first pattern matching any of the strings (each may be
 * NULL), or -1 when none does. `mangled`: the symbol name when `function`
 * is its demangled form. */
int suppress_match(const char *module, const char *function, const char *mangled,
                   const char *file);

/* Counts one suppressed record of `bytes` against pattern `idx`. */
void suppress_hit(int idx, size_t blocks, size_t bytes);
/* Zeroes the hit counts (each report lists the suppressions it used). */
void suppress_clear_hits(void);
/* Calls fn for every pattern with a hit, in file order. */
void suppress_for_each_hit(void (*fn)(const char *pattern, size_t blocks, size_t bytes, void *ctx),
                           void *ctx);

/* TemplateMatch itself (exposed for unit tests). */
bool suppress_template_match(const char *templ, const char *str);

/* Forgets every pattern and the init flag (tests; fork children keep them). */
void suppress_fini(void);

#endif
