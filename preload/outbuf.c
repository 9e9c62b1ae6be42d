/* SPDX-License-Identifier: MIT
 * outbuf.c: buffered fd writer for reports (see outbuf.h).
 * locks: none (state is the caller's struct). STW: no. allocates: one
 * sys_map'd buffer per outbuf_init. async-signal-safe: no (vsnprintf). */
#include "outbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"

void outbuf_init(struct outbuf *o, int fd)
{
    o->fd = fd;
    o->err = 0;
    o->len = 0;
    o->map = sys_map(OUTBUF_CAP, false);
    o->buf = o->map ? o->map : o->small;
    o->cap = o->map ? OUTBUF_CAP : sizeof o->small;
}

/* Loops until all of buf[0..n) is written or a non-EINTR error occurs. */
static void write_all(struct outbuf *o, const char *p, size_t n)
{
    while (n > 0 && !o->err) {
        ssize_t w = write(o->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            o->err = errno ? errno : EIO;
            return;
        }
        if (w == 0) {
            o->err = EIO;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

int outbuf_flush(struct outbuf *o)
{
    if (o->len) {
        write_all(o, o->buf, o->len);
        o->len = 0;
    }
    return o->err;
}

void outbuf_write(struct outbuf *o, const void *p, size_t n)
{
    const char *s = p;
    if (o->err)
        return;
    while (n > 0) {
        if (o->len == o->cap && outbuf_flush(o))
            return;
        size_t k = GS_MIN(n, o->cap - o->len);
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

void outbuf_puts(struct outbuf *o, const char *s)
{
    outbuf_write(o, s, strlen(s));
}

void outbuf_putc(struct outbuf *o, char c)
{
    if (o->len < o->cap) {
        o->buf[o->len++] = c;
        return;
    }
    outbuf_write(o, &c, 1);
}

void outbuf_printf(struct outbuf *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        outbuf_write(o, tmp, GS_MIN((size_t)n, sizeof tmp - 1));
}

int outbuf_fini(struct outbuf *o)
{
    int err = outbuf_flush(o);
    if (o->map)
        sys_unmap(o->map, OUTBUF_CAP);
    o->map = NULL;
    o->buf = o->small;
    o->cap = sizeof o->small;
    return err;
}
