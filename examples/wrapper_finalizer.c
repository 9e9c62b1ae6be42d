/* wrapper_finalizer.c: the CCL terminate-when-unreachable / LuaJIT ffi.gc
 * pattern. A small wrapper object owns a foreign resource (a file
 * descriptor and a second malloc'd buffer) that the scanner cannot see
 * through; a finalizer releases them when the wrapper becomes unreachable.
 * The program calls gs_collect() and gs_drain() at points of its choosing;
 * finalizers run there, on this thread, and the shim then frees the wrapper.
 *
 * usage: wrapper_finalizer [WRAPPERS]
 * Prints "wrappers W kept K finalized F" and "fds before B after A". Under
 * the shim F == W - K and A == B; without it every wrapper is closed by
 * hand. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guardshim.h"

struct wrapper {
    int fd;          /* foreign resource #1 */
    char *scratch;   /* foreign resource #2: the wrapper's own buffer */
};

static int finalized;

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static void release(struct wrapper *w)
{
    close(w->fd);
    free(w->scratch);
}

/* The finalizer releases what the wrapper owns; the shim frees the wrapper. */
static void wrapper_finalize(void *block, void *arg)
{
    (void)arg;
    release(block);
    finalized++;
}

static struct wrapper *wrapper_open(void)
{
    struct wrapper *w = malloc(sizeof *w);
    w->fd = open("/dev/null", O_RDONLY);
    w->scratch = malloc(4096);
    memset(w->scratch, 0, 4096);
    if (gs_active && gs_active())
        gs_set_finalizer(w, wrapper_finalize, NULL);
    return w;
}

static void __attribute__((noinline)) clear_stack(void)
{
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

static void __attribute__((noinline)) collect_and_drain(void)
{
    clear_stack();
    gs_collect();
    gs_drain();
}

#define MAXW 1000
static struct wrapper *table[MAXW];

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    if (n < 1 || n > MAXW)
        return 2;
    int shim = gs_active && gs_active();
    int before = count_fds(), kept = 0;
    for (int i = 0; i < n; i++)
        table[i] = wrapper_open();
    /* The program forgets every wrapper but each tenth. */
    for (int i = 0; i < n; i++) {
        if (i % 10 == 0) {
            kept++;
            continue;
        }
        if (!shim) {
            release(table[i]);
            free(table[i]);
        }
        table[i] = NULL;
    }
    if (shim)
        for (int round = 0; round < 3; round++)
            collect_and_drain();
    printf("wrappers %d kept %d finalized %d\n", n, kept, finalized);
    /* Explicit close of the kept ones: clear the finalizer first. */
    for (int i = 0; i < n; i++)
        if (table[i]) {
            if (shim)
                gs_set_finalizer(table[i], NULL, NULL);
            release(table[i]);
            free(table[i]);
            table[i] = NULL;
        }
    printf("fds before %d after %d\n", before, count_fds());
    return 0;
}
