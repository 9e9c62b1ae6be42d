/* SPDX-License-Identifier: MIT
 * sites.c: per-site byte history (sites.h). Arrays indexed by stack id
 * grow with the depot; each scan aggregates the heap snapshot in one pass.
 * locks: none (the scan lock serialises). STW: no. allocates: sys_map. */
#include "sites.h"

#include <string.h>

#include "sys.h"

struct site {
    uint64_t bytes[SITES_WINDOW]; /* reachable bytes, ring indexed by scan number */
    uint64_t live_bytes, live_blocks, reach_blocks;
    bool reported;
};

static struct {
    struct site *s;
    size_t cap;          /* entries in s */
    uint64_t scans;      /* observations so far */
    double when[SITES_WINDOW];
    size_t n_top;
    struct growth_site top[16];
    size_t n_new;
    struct growth_site fresh[SCAN_MAX_GROWING];
} st;

static bool reserve(size_t need)
{
    if (need <= st.cap)
        return true;
    size_t ncap = st.cap ? st.cap : 1024;
    while (ncap < need)
        ncap *= 2;
    struct site *ns = sys_map(ncap * sizeof *ns, false);
    if (!ns)
        return false;
    if (st.s) {
        memcpy(ns, st.s, st.cap * sizeof *ns);
        sys_unmap(st.s, st.cap * sizeof *ns);
    }
    st.s = ns;
    st.cap = ncap;
    return true;
}

static void consider_top(stack_id id, const struct site *s)
{
    size_t n = st.n_top, cap = sizeof st.top / sizeof st.top[0];
    if (n == cap && s->live_bytes <= st.top[n - 1].bytes)
        return;
    size_t i = n < cap ? n++ : n - 1;
    while (i > 0 && st.top[i - 1].bytes < s->live_bytes) {
        st.top[i] = st.top[i - 1];
        i--;
    }
    st.top[i] = (struct growth_site){id, s->live_bytes, s->live_blocks, 0};
    st.n_top = n;
}

void sites_aggregate(const struct heap *h, struct site_agg *agg, size_t cap)
{
    for (size_t i = 0; i < h->n; i++) {
        const struct sblock *b = &h->blocks[i];
        if (b->stack >= cap)
            continue;
        struct site_agg *a = &agg[b->stack];
        a->live_bytes += b->size;
        a->live_blocks++;
        if (h->state[i] == BS_REACHED) {
            a->reach_bytes += b->size;
            a->reach_blocks++;
        }
    }
}

void sites_observe(const struct site_agg *agg, size_t cap, double now_ms)
{
    if (!reserve(cap))
        return;
    unsigned slot = (unsigned)(st.scans % SITES_WINDOW);
    for (size_t k = 0; k < st.cap; k++) {
        const struct site_agg *a = k < cap ? &agg[k] : NULL;
        st.s[k].bytes[slot] = a ? a->reach_bytes : 0;
        st.s[k].live_bytes = a ? a->live_bytes : 0;
        st.s[k].live_blocks = a ? a->live_blocks : 0;
        st.s[k].reach_blocks = a ? a->reach_blocks : 0;
    }
    st.when[slot] = now_ms;
    st.scans++;
    st.n_top = 0;
    for (size_t k = 1; k < st.cap; k++) {
        struct site *s = &st.s[k];
        if (s->live_bytes)
            consider_top((stack_id)k, s);
        if (st.scans < SITES_WINDOW || s->reported || st.n_new == SCAN_MAX_GROWING)
            continue;
        /* Oldest to newest over the window: strictly increasing. */
        bool steady = true;
        for (unsigned w = 1; w < SITES_WINDOW && steady; w++) {
            unsigned a = (unsigned)((st.scans - SITES_WINDOW + w - 1) % SITES_WINDOW);
            unsigned b = (unsigned)((st.scans - SITES_WINDOW + w) % SITES_WINDOW);
            steady = s->bytes[b] > s->bytes[a];
        }
        unsigned first = (unsigned)((st.scans - SITES_WINDOW) % SITES_WINDOW);
        if (!steady || s->bytes[slot] - s->bytes[first] < SITES_MIN_GROWTH)
            continue;
        double secs = (st.when[slot] - st.when[first]) / 1e3;
        s->reported = true;
        st.fresh[st.n_new++] = (struct growth_site){
            (stack_id)k, s->bytes[slot], s->reach_blocks,
            secs > 0 ? (double)(s->bytes[slot] - s->bytes[first]) / secs : 0};
    }
}

size_t sites_growing(struct growth_site *out, size_t cap)
{
    size_t n = GS_MIN(cap, st.n_new);
    memcpy(out, st.fresh, n * sizeof *out);
    st.n_new = 0;
    return n;
}

size_t sites_top(struct growth_site *out, size_t n)
{
    n = GS_MIN(n, st.n_top);
    memcpy(out, st.top, n * sizeof *out);
    return n;
}
