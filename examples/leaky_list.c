/* leaky_list.c: the demo program `make demo` runs under the shim.
 * It keeps one list reachable from a global, drops the head of another
 * (one direct leak, the rest indirect), and leaks a two-node cycle.
 * Expected report: direct 24 B (make_node via build_list, lost list head),
 * indirect 4 x 24 B, direct 24 B "cycle" (make_cycle) + indirect 24 B. */
#include <stdio.h>
#include <stdlib.h>

struct node {
    struct node *next;
    long value;
    long pad;
};

static struct node *kept; /* reachable: never reported */

static struct node *make_node(long value, struct node *next)
{
    struct node *n = malloc(sizeof *n);
    n->value = value;
    n->next = next;
    return n;
}

static struct node *build_list(int len)
{
    struct node *head = NULL;
    for (int i = 0; i < len; i++)
        head = make_node(i, head);
    return head;
}

static void make_cycle(void)
{
    struct node *a = make_node(1, NULL);
    struct node *b = make_node(2, a);
    a->next = b; /* a <-> b, and nothing else points to them */
}

/* The scan is conservative: a stale copy of a pointer left in a dead stack
 * slot that exit() later reuses looks like a live reference. Real programs
 * rarely care; a demo that wants an exact report clears what it used. */
static void scrub_stack(void)
{
    volatile char junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 0;
}

int main(void)
{
    kept = build_list(3);
    struct node *lost = build_list(5);
    printf("built a list at %p; dropping it\n", (void *)lost);
    lost = NULL;
    make_cycle();
    scrub_stack();
    printf("made a two-node cycle; exiting\n");
    return 0;
}
