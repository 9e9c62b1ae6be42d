/* SPDX-License-Identifier: MIT
 * json.h: a tiny streaming JSON emitter (no parser) over an outbuf. It
 * places commas and colons itself: inside an object every value call takes
 * a `key`, inside an array or at the top level `key` must be NULL.
 * Output has no whitespace, so a report object is exactly one line.
 * String escaping: `"` `\` and control characters are escaped (`\n`, `\t`,
 * ... or `\u00XX`); valid UTF-8 passes through; each byte that is not part
 * of a valid UTF-8 sequence becomes `\u00XX` (its Latin-1 reading, so the
 * original bytes of a non-UTF-8 path can be recovered). Never fails: output
 * errors are kept in the outbuf. Not thread-safe (one emitter per report). */
#ifndef GS_JSON_H
#define GS_JSON_H

#include "common.h"
#include "outbuf.h"

#define JSON_MAX_DEPTH 32

struct json {
    struct outbuf *out;
    unsigned depth;
    bool has_items[JSON_MAX_DEPTH]; /* a value was written at this depth */
};

void json_init(struct json *j, struct outbuf *out);

/* Containers. Nesting deeper than JSON_MAX_DEPTH is written but its commas
 * may be wrong (reports nest 5 deep). */
void json_begin_object(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key);
void json_end_array(struct json *j);

/* Values. `json_str` with `val` NULL writes null. */
void json_str(struct json *j, const char *key, const char *val);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_int(struct json *j, const char *key, int64_t val);
/* `val` with `decimals` digits; NaN and infinities are written as 0. */
void json_double(struct json *j, const char *key, double val, int decimals);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* `val` as a string "0x..." (lower-case hex, no padding). */
void json_hex(struct json *j, const char *key, uint64_t val);

/* Writes `s[0..n)` as a quoted, escaped JSON string (no key, no comma). */
void json_write_string(struct outbuf *out, const char *s, size_t n);

#endif
