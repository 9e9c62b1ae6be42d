/* SPDX-License-Identifier: MIT
 * json.c: streaming JSON emitter (see json.h).
 * locks: none (state is the caller's struct). STW: no. allocates: no.
 * async-signal-safe: no (snprintf for doubles). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void json_init(struct json *j, struct outbuf *out)
{
    memset(j, 0, sizeof *j);
    j->out = out;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_valid_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    unsigned cp = c & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void json_write_string(struct outbuf *out, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    outbuf_putc(out, '"');
    size_t i = 0;
    while (i < n) {
        /* Copy the longest run that needs no escaping in one write. */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            outbuf_write(out, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_valid_len(s + i, n - i);
            if (len) {
                outbuf_write(out, s + i, len);
                i += len;
                continue;
            }
        }
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            /* Control character or a byte outside valid UTF-8. */
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        outbuf_write(out, esc, elen);
        i++;
    }
    outbuf_putc(out, '"');
}

/* Comma before every item but the first of its container, then the key. */
static void item(struct json *j, const char *key)
{
    unsigned d = GS_MIN(j->depth, JSON_MAX_DEPTH - 1);
    if (j->has_items[d])
        outbuf_putc(j->out, ',');
    j->has_items[d] = true;
    if (key) {
        json_write_string(j->out, key, strlen(key));
        outbuf_putc(j->out, ':');
    }
}

static void open_container(struct json *j, const char *key, char c)
{
    item(j, key);
    outbuf_putc(j->out, c);
    if (j->depth + 1 < JSON_MAX_DEPTH)
        j->has_items[j->depth + 1] = false;
    j->depth++;
}

static void close_container(struct json *j, char c)
{
    if (j->depth == 0)
        return;
    j->depth--;
    outbuf_putc(j->out, c);
}

void json_begin_object(struct json *j, const char *key) { open_container(j, key, '{'); }
void json_end_object(struct json *j) { close_container(j, '}'); }
void json_begin_array(struct json *j, const char *key) { open_container(j, key, '['); }
void json_end_array(struct json *j) { close_container(j, ']'); }

void json_str(struct json *j, const char *key, const char *val)
{
    item(j, key);
    if (val)
        json_write_string(j->out, val, strlen(val));
    else
        outbuf_puts(j->out, "null");
}

void json_uint(struct json *j, const char *key, uint64_t val)
{
    item(j, key);
    outbuf_printf(j->out, "%llu", (unsigned long long)val);
}

void json_int(struct json *j, const char *key, int64_t val)
{
    item(j, key);
    outbuf_printf(j->out, "%lld", (long long)val);
}

void json_double(struct json *j, const char *key, double val, int decimals)
{
    item(j, key);
    if (!isfinite(val))
        val = 0;
    outbuf_printf(j->out, "%.*f", GS_MAX(0, GS_MIN(decimals, 17)), val);
}

void json_bool(struct json *j, const char *key, bool val)
{
    item(j, key);
    outbuf_puts(j->out, val ? "true" : "false");
}

void json_null(struct json *j, const char *key)
{
    item(j, key);
    outbuf_puts(j->out, "null");
}

void json_hex(struct json *j, const char *key, uint64_t val)
{
    item(j, key);
    outbuf_printf(j->out, "\"0x%llx\"", (unsigned long long)val);
}
