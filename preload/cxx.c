/* SPDX-License-Identifier: MIT
 * cxx.c: C++ operator new and delete, so frame 0 of a C++ allocation is
 * the operator and frame 1 the C++ code that called it (as LeakSanitizer
 * shows them). Memory comes from glibc directly; only when it runs out
 * does a throwing operator defer to the next definition (libstdc++), which
 * runs the new_handler loop and throws std::bad_alloc with exact C++
 * semantics (its retry goes through the shim's malloc and is tracked).
 * locks: one handle shard per call. STW: no. allocates: glibc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

#include "interpose.h"

extern void *__libc_malloc(size_t);
extern void *__libc_memalign(size_t, size_t);

/* glibc entry points in the shape interpose_alloc calls. */
static void *libc_malloc2(size_t n, size_t unused)
{
    (void)unused;
    return __libc_malloc(n);
}

static void *libc_memalign2(size_t align, size_t n) { return __libc_memalign(align, n); }

typedef void *(*new_fn)(size_t);
typedef void *(*new_aligned_fn)(size_t, size_t);

/* The out-of-memory path: the next operator new in lookup order. */
static void *next_new(const char *name, size_t n)
{
    new_fn fn = (new_fn)dlsym(RTLD_NEXT, name);
    if (!fn)
        abort(); /* no C++ runtime to throw std::bad_alloc */
    return fn(n);
}

static void *next_new_aligned(const char *name, size_t n, size_t align)
{
    new_aligned_fn fn = (new_aligned_fn)dlsym(RTLD_NEXT, name);
    if (!fn)
        abort();
    return fn(n, align);
}

/* Each operator is declared here with its mangled name, and given a
 * hidden alias that names frame 0 (see interpose.c for why). */
#define NEW_OP(mangled, next_name)                                                             \
    extern void *entry_##mangled(size_t) __attribute__((visibility("hidden")));                \
    GS_EXPORT void *mangled(size_t n);                                                         \
    void *mangled(size_t n)                                                                    \
    {                                                                                          \
        void *p = interpose_alloc(libc_malloc2, n, 0, n, (uintptr_t)&entry_##mangled,          \
                                  INTERPOSE_CALLER_RA, INTERPOSE_CALLER_CFA);                  \
        if (__builtin_expect(!p, 0))                                                           \
            return next_new(next_name, n);                                                     \
        return p;                                                                              \
    }                                                                                          \
    extern __typeof__(mangled) entry_##mangled __attribute__((alias(#mangled)));

#define NEW_OP_NOTHROW(mangled)                                                                \
    extern void *entry_##mangled(size_t, const void *) __attribute__((visibility("hidden")));  \
    GS_EXPORT void *mangled(size_t n, const void *tag);                                        \
    void *mangled(size_t n, const void *tag)                                                   \
    {                                                                                          \
        (void)tag;                                                                             \
        return interpose_alloc(libc_malloc2, n, 0, n, (uintptr_t)&entry_##mangled,             \
                               INTERPOSE_CALLER_RA, INTERPOSE_CALLER_CFA);                     \
    }                                                                                          \
    extern __typeof__(mangled) entry_##mangled __attribute__((alias(#mangled)));

#define NEW_OP_ALIGNED(mangled, next_name)                                                     \
    extern void *entry_##mangled(size_t, size_t) __attribute__((visibility("hidden")));        \
    GS_EXPORT void *mangled(size_t n, size_t align);                                           \
    void *mangled(size_t n, size_t align)                                                      \
    {                                                                                          \
        void *p = interpose_alloc(libc_memalign2, align, n, n, (uintptr_t)&entry_##mangled,    \
                                  INTERPOSE_CALLER_RA, INTERPOSE_CALLER_CFA);                  \
        if (__builtin_expect(!p, 0))                                                           \
            return next_new_aligned(next_name, n, align);                                      \
        return p;                                                                              \
    }                                                                                          \
    extern __typeof__(mangled) entry_##mangled __attribute__((alias(#mangled)));

#define NEW_OP_ALIGNED_NOTHROW(mangled)                                                        \
    extern void *entry_##mangled(size_t, size_t, const void *)                                 \
        __attribute__((visibility("hidden")));                                                 \
    GS_EXPORT void *mangled(size_t n, size_t align, const void *tag);                          \
    void *mangled(size_t n, size_t align, const void *tag)                                     \
    {                                                                                          \
        (void)tag;                                                                             \
        return interpose_alloc(libc_memalign2, align, n, n, (uintptr_t)&entry_##mangled,       \
                               INTERPOSE_CALLER_RA, INTERPOSE_CALLER_CFA);                     \
    }                                                                                          \
    extern __typeof__(mangled) entry_##mangled __attribute__((alias(#mangled)));

NEW_OP(_Znwm, "_Znwm")
NEW_OP(_Znam, "_Znam")
NEW_OP_NOTHROW(_ZnwmRKSt9nothrow_t)
NEW_OP_NOTHROW(_ZnamRKSt9nothrow_t)
NEW_OP_ALIGNED(_ZnwmSt11align_val_t, "_ZnwmSt11align_val_t")
NEW_OP_ALIGNED(_ZnamSt11align_val_t, "_ZnamSt11align_val_t")
NEW_OP_ALIGNED_NOTHROW(_ZnwmSt11align_val_tRKSt9nothrow_t)
NEW_OP_ALIGNED_NOTHROW(_ZnamSt11align_val_tRKSt9nothrow_t)

/* Every delete is free: glibc frees aligned and unaligned blocks alike. */
#define DELETE_OP(mangled, ...)                                                                \
    GS_EXPORT void mangled(void *p, ##__VA_ARGS__);                                            \
    extern __typeof__(mangled) entry_##mangled __attribute__((visibility("hidden")));          \
    void mangled(void *p, ##__VA_ARGS__)                                                       \
    {                                                                                          \
        if (p)                                                                                 \
            interpose_free(p, (uintptr_t)&entry_##mangled, INTERPOSE_CALLER_RA,                \
                           INTERPOSE_CALLER_CFA);                                              \
    }                                                                                          \
    extern __typeof__(mangled) entry_##mangled __attribute__((alias(#mangled)));

DELETE_OP(_ZdlPv)
DELETE_OP(_ZdaPv)
DELETE_OP(_ZdlPvm, size_t n GS_UNUSED)
DELETE_OP(_ZdaPvm, size_t n GS_UNUSED)
DELETE_OP(_ZdlPvRKSt9nothrow_t, const void *t GS_UNUSED)
DELETE_OP(_ZdaPvRKSt9nothrow_t, const void *t GS_UNUSED)
DELETE_OP(_ZdlPvSt11align_val_t, size_t a GS_UNUSED)
DELETE_OP(_ZdaPvSt11align_val_t, size_t a GS_UNUSED)
DELETE_OP(_ZdlPvmSt11align_val_t, size_t n GS_UNUSED, size_t a GS_UNUSED)
DELETE_OP(_ZdaPvmSt11align_val_t, size_t n GS_UNUSED, size_t a GS_UNUSED)
DELETE_OP(_ZdlPvSt11align_val_tRKSt9nothrow_t, size_t a GS_UNUSED, const void *t GS_UNUSED)
DELETE_OP(_ZdaPvSt11align_val_tRKSt9nothrow_t, size_t a GS_UNUSED, const void *t GS_UNUSED)
