/* SPDX-License-Identifier: MIT
 * log.h: one-line messages on stderr, prefixed "guardshim: ". Formats into
 * a fixed stack buffer and write(2)s it: never allocates, never locks, so
 * it may be called from any context except a signal handler on the scan
 * path (vsnprintf is not async-signal-safe). Printf-style format strings
 * are always literals in the shim; nothing from the environment is used as
 * a format. */
#ifndef GS_LOG_H
#define GS_LOG_H

#include "common.h"

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed when verbosity >= level. */
void log_info(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
