/* SPDX-License-Identifier: MIT
 * outbuf.h: a buffered writer onto a file descriptor, for the report.
 * The buffer is mapped with sys_map (never malloc); if that fails a small
 * buffer inside the struct is used, so writing never fails for lack of
 * memory. The first write error is kept in `err` and later output is
 * dropped: a report to a closed stderr is silently lost (FACTS: `sort`
 * closes fd 2 before exit). Not thread-safe: one outbuf per writer. */
#ifndef GS_OUTBUF_H
#define GS_OUTBUF_H

#include "common.h"

#define OUTBUF_CAP (64 * 1024)

struct outbuf {
    int fd;
    int err;          /* first errno seen by write(2), 0 if none */
    size_t len, cap;
    char *buf;        /* `map` when mapped, else `small` */
    char *map;
    char small[512];
};

/* Starts writing to `fd` (which the caller owns and closes). */
void outbuf_init(struct outbuf *o, int fd);

void outbuf_write(struct outbuf *o, const void *p, size_t n);
void outbuf_puts(struct outbuf *o, const char *s);
void outbuf_putc(struct outbuf *o, char c);
/* printf-style; `fmt` is always a literal in the shim. Output longer than
 * 1 KiB per call is truncated. */
void outbuf_printf(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes out everything buffered, retrying on EINTR and partial writes.
 * returns: 0 or the first errno seen. */
int outbuf_flush(struct outbuf *o);

/* Flushes and unmaps the buffer (the fd stays open). returns: as flush. */
int outbuf_fini(struct outbuf *o);

#endif
