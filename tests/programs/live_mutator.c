/* Proves: a scan that marks while the program runs (scan_mode=incremental) loses nothing the program can still reach: a mutator thread keeps moving pointers while ROUNDS gs_check_leaks calls run (parents between two holder arrays of 100,000 slots, children between parents: the new place is written before the old one is cleared, so every node stays reachable at every instant; some nodes are replaced by fresh copies and freed, some realloc'ed), which loses nodes in any concurrent mark that does not re-scan what was written under it; then the mutator stops and leak_some() drops exactly 5 blocks
 * Expect: [ROUNDS] → "rounds R moves M false F": every api report before the last is empty (F = records they had, 0); the last has one record: 5 direct blocks, 240 bytes, allocated in leak_some; exit 0 (ends with _exit: the exit check is not part of this) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "guardshim.h"
#include "gs_test.h"

#define SLOTS 100000 /* per holder array: 800 KB, its own mapping */
#define PARENTS 4000
#define CHILDREN 6   /* slots per parent */

struct node {
	struct node *child[CHILDREN];
	uint64_t tag, pad;
};

static struct node **volatile holder[2];
static atomic_int stop;
static atomic_ulong moves;
static void *volatile sink[5];

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void put(struct node **slot, struct node *v)
{
	__atomic_store_n(slot, v, __ATOMIC_RELEASE);
}

static GS_NOINLINE struct node *new_node(void)
{
	struct node *n = calloc(1, sizeof *n);
	n->tag = 0x5151; /* odd payload, never an address */
	return n;
}

/* Returns the index of a random non-empty (want=1) or empty (want=0) slot. */
static size_t pick(struct node **a, size_t n, int want, uint64_t *s)
{
	for (;;) {
		size_t i = rnd(s) % n;
		if ((a[i] != NULL) == want)
			return i;
	}
}

static void *mutator(void *arg)
{
	(void)arg;
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned long m = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int from = (int)(rnd(&s) & 1);
		struct node **src = holder[from], **dst = holder[!from];
		size_t i = pick(src, SLOTS, 1, &s), j = pick(dst, SLOTS, 0, &s);
		struct node *p = src[i];
		switch (rnd(&s) % 5) {
		case 0: /* a parent moves to the other array */
			put(&dst[j], p);
			put(&src[i], NULL);
			break;
		case 1: { /* a child moves to another parent */
			struct node *q = src[pick(src, SLOTS, 1, &s)];
			int a = (int)(rnd(&s) % CHILDREN), b = (int)(rnd(&s) % CHILDREN);
			struct node *c = p->child[a];
			if (c && q != p && !q->child[b]) {
				put(&q->child[b], c);
				put(&p->child[a], NULL);
			}
			break;
		}
		case 2: { /* a child is replaced by a fresh copy, the old one freed */
			int a = (int)(rnd(&s) % CHILDREN);
			struct node *c = p->child[a];
			if (c) {
				struct node *c2 = new_node();
				put(&p->child[a], c2);
				free(c);
			}
			break;
		}
		case 4: { /* a child is realloc'ed (moved or resized in place) */
			int a = (int)(rnd(&s) % CHILDREN);
			struct node *c = p->child[a];
			if (c)
				put(&p->child[a], realloc(c, (rnd(&s) & 1) ? 96 : 64));
			break;
		}
		case 3: { /* a parent is replaced by a fresh copy holding its children */
			struct node *p2 = new_node();
			for (int k = 0; k < CHILDREN; k++)
				put(&p2->child[k], p->child[k]);
			put(&src[i], p2);
			free(p);
			break;
		}
		}
		m++;
	}
	atomic_store(&moves, m);
	return NULL;
}

static GS_NOINLINE void leak_some(void)
{
	for (int i = 0; i < 5; i++)
		sink[i] = calloc(1, 48); /* zeroed: no stale pointer makes one leak "indirect" */
	for (int i = 0; i < 5; i++)
		sink[i] = NULL;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 30;
	uint64_t s = 12345;
	for (int h = 0; h < 2; h++)
		holder[h] = calloc(SLOTS, sizeof(struct node *));
	for (int i = 0; i < PARENTS; i++) {
		struct node *p = new_node();
		for (int k = 0; k < CHILDREN; k += 2)
			p->child[k] = new_node();
		holder[i & 1][pick(holder[i & 1], SLOTS, 0, &s)] = p;
	}
	pthread_t t;
	pthread_create(&t, NULL, mutator, NULL);
	size_t false_records = 0;
	for (int r = 0; r < rounds; r++) {
		false_records += gs_check_leaks();
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	leak_some();
	gs_test_clear_stack();
	gs_check_leaks();
	printf("rounds %d moves %lu false %zu\n", rounds, atomic_load(&moves), false_records);
	fflush(stdout);
	_exit(0);
}
