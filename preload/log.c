/* SPDX-License-Identifier: MIT
 * log.c: one-line stderr messages. Formats into a stack buffer with
 * vsnprintf (no allocation for the formats the shim uses) and writes it
 * with one write(2), so lines from several threads never interleave.
 * locks: none. STW: no. allocates: no. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "options.h"

static void log_line(const char *prefix, const char *fmt, va_list ap)
{
    char buf[1024];
    int saved = errno;
    int n = snprintf(buf, sizeof buf, "guardshim: %s", prefix);
    if (n < 0 || (size_t)n >= sizeof buf)
        n = 0;
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    size_t len = GS_MIN((size_t)n + (size_t)m, sizeof buf - 2);
    buf[len++] = '\n';
    /* stderr may be closed (sort closes fd 2): the message is then lost, which is fine. */
    ssize_t GS_UNUSED w = write(STDERR_FILENO, buf, len);
    errno = saved;
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("error: ", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("warning: ", fmt, ap);
    va_end(ap);
}

void log_info(int level, const char *fmt, ...)
{
    if (opt.verbosity < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line("", fmt, ap);
    va_end(ap);
}
