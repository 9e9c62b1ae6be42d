/* event_loop_guardian.c: the Vicare example in C. An event loop allocates a
 * request per event and hands it to handlers that keep it for a while and
 * then simply forget it. Every request is registered with a guardian; every
 * N events the loop asks the shim which requests became unreachable
 * (gs_collect), polls the guardian and frees them: the program, not the
 * scanner, decides when and how a request is cleaned up.
 *
 * usage: event_loop_guardian [EVENTS [N]]
 * Prints "events E registered R freed_by_guardian F". Under the shim F == R
 * and the exit report is clean; without it (gs_active is NULL) the loop
 * frees requests itself when handlers forget them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guardshim.h"

struct request {
    int id;
    char *body; /* owned: freed with the request */
};

#define WINDOW 32
static struct request *inflight[WINDOW]; /* what the handlers still hold */

static int have_shim(void) { return gs_active && gs_active(); }

static void request_free(struct request *r)
{
    free(r->body);
    free(r);
}

/* Polls the guardian: every request found unreachable comes back here. */
static int drain_guardian(gs_guardian *g)
{
    int n = 0;
    struct request *r;
    while ((r = gs_guardian_poll(g)) != NULL) {
        request_free(r);
        n++;
    }
    return n;
}

/* Keeps the dead part of the stack from holding stale request pointers. */
static void __attribute__((noinline)) clear_stack(void)
{
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof buf);
}

static size_t __attribute__((noinline)) collect(void)
{
    clear_stack();
    return gs_collect();
}

int main(int argc, char **argv)
{
    int events = argc > 1 ? atoi(argv[1]) : 1000;
    int every = argc > 2 ? atoi(argv[2]) : 100;
    gs_guardian *g = have_shim() ? gs_guardian_new() : NULL;
    int registered = 0, freed = 0;
    unsigned seed = 42;

    for (int e = 0; e < events; e++) {
        struct request *r = malloc(sizeof *r);
        r->id = e;
        r->body = malloc(64 + e % 64);
        snprintf(r->body, 64, "event %d", e);
        if (g && gs_guardian_register(g, r) == 0)
            registered++;
        /* A handler keeps it in a random slot, forgetting what was there. */
        seed = seed * 1103515245 + 12345;
        int slot = (int)((seed >> 16) % WINDOW);
        if (!g && inflight[slot])
            request_free(inflight[slot]);
        inflight[slot] = r;
        r = NULL;
        if (g && (e + 1) % every == 0) {
            collect();
            freed += drain_guardian(g);
        }
    }
    /* Shutdown: the handlers forget everything. */
    for (int i = 0; i < WINDOW; i++) {
        if (!g && inflight[i])
            request_free(inflight[i]);
        inflight[i] = NULL;
    }
    if (g) {
        for (int round = 0; round < 5 && freed < registered; round++) {
            collect();
            freed += drain_guardian(g);
        }
        gs_guardian_free(g);
    }
    printf("events %d registered %d freed_by_guardian %d\n", events, registered, freed);
    return 0;
}
