/* SPDX-License-Identifier: MIT
 * common.h: macros every shim file uses. No state, no functions.
 * Visibility: the library is built with -fvisibility=hidden; only what
 * exports.map lists leaves it, so GS_EXPORT marks the exported definitions. */
#ifndef GS_COMMON_H
#define GS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GS_EXPORT __attribute__((visibility("default")))
#define GS_HIDDEN __attribute__((visibility("hidden")))
#define GS_LIKELY(x) __builtin_expect(!!(x), 1)
#define GS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GS_UNUSED __attribute__((unused))
#define GS_NOINLINE __attribute__((noinline))
#define GS_ALIGNED(n) __attribute__((aligned(n)))
#define GS_CACHE_LINE 64

/* Pointers to user blocks that the shim keeps in memory the scanner could
 * read are stored bit-inverted, so its own tables never keep a block alive. */
#define GS_HIDE(p) (~(uintptr_t)(p))
#define GS_REVEAL(h) ((void *)~(uintptr_t)(h))

#define GS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define GS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define GS_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
