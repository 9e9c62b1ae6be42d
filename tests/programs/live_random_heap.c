/* Proves: the verdict of a scan does not depend on how it is taken: a seeded random pointer graph (blocks of random sizes from four allocation functions, start and interior edges, cycles) is mutated between ROUNDS gs_check_leaks calls (roots dropped, edges added and removed, blocks freed with every pointer to them cleared, fresh blocks and cycles hung off roots or dropped at once), so scan_mode=full and scan_mode=snapshot must write identical api and exit reports
 * Expect: SEED [N [ROUNDS]] → "round R unreachable U check C" per round (U = the program's own count of blocks no root reaches by any chain of start or interior edges), then exit 23 with the leaks; the same SEED always gives the same output and the same records; keep → every block stays rooted: each check 0, leaks:[], exit 0 */
#include "guardshim.h"
#include "gs_test.h"

#define K 4         /* edge slots per node */
#define MAXN 20000  /* node ids ever created */
#define NROOTS 256

struct node {
	uint32_t id, nwords;
	struct node *edge[K];
	uint64_t payload[];
};

/* Bookkeeping the scanner must not see: addresses are stored inverted. */
static uintptr_t addr_h[MAXN];
static int32_t eid[MAXN][K];     /* target id of edge k, -1 = none */
static uint8_t interior[MAXN][K]; /* edge k points 8 bytes into its target */
static uint8_t alive[MAXN], reach[MAXN];
static int32_t work[MAXN];
static int n_ids;
static int32_t root_id[NROOTS];
static struct node *volatile roots[NROOTS]; /* the only roots */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct node *node_at(int32_t id)
{
	return (struct node *)~addr_h[id];
}

/* Payload words are odd small-ish values: never a heap address. */
static struct node *init_node(struct node *n, uint32_t nwords)
{
	int id = n_ids++;
	n->id = (uint32_t)id;
	n->nwords = nwords;
	for (uint32_t w = 0; w < nwords; w++)
		n->payload[w] = ((uint64_t)id << 8 | w) * 2 + 1;
	for (int k = 0; k < K; k++) {
		n->edge[k] = NULL;
		eid[id][k] = -1;
		interior[id][k] = 0;
	}
	addr_h[id] = ~(uintptr_t)n;
	alive[id] = 1;
	return n;
}

/* Four allocation sites, so records group by stack. */
static GS_NOINLINE void alloc_small(void)
{
	uint32_t w = (uint32_t)(rnd() % 4);
	init_node(malloc(sizeof(struct node) + w * 8), w);
}

static GS_NOINLINE void alloc_medium(void)
{
	uint32_t w = 8 + (uint32_t)(rnd() % 16);
	init_node(malloc(sizeof(struct node) + w * 8), w);
}

static GS_NOINLINE void alloc_large(void)
{
	uint32_t w = 64 + (uint32_t)(rnd() % 64);
	init_node(malloc(sizeof(struct node) + w * 8), w);
}

static GS_NOINLINE void alloc_zeroed(void)
{
	uint32_t w = (uint32_t)(rnd() % 12);
	init_node(calloc(1, sizeof(struct node) + w * 8), w);
}

static int32_t new_node(void)
{
	if (n_ids >= MAXN)
		return -1;
	switch (rnd() % 4) {
	case 0: alloc_small(); break;
	case 1: alloc_medium(); break;
	case 2: alloc_large(); break;
	default: alloc_zeroed(); break;
	}
	return n_ids - 1;
}

static int32_t random_alive(void)
{
	for (int tries = 0; tries < 64; tries++) {
		int32_t j = (int32_t)(rnd() % (uint64_t)n_ids);
		if (alive[j])
			return j;
	}
	return -1;
}

static void set_edge(int32_t from, int k, int32_t to, int inner)
{
	eid[from][k] = to;
	interior[from][k] = (uint8_t)(to >= 0 && inner);
	node_at(from)->edge[k] =
	    to < 0 ? NULL : (struct node *)((char *)node_at(to) + (inner ? 8 : 0));
}

static void set_root(int r, int32_t to)
{
	root_id[r] = to;
	roots[r] = to < 0 ? NULL : node_at(to);
}

/* Frees a block after clearing every pointer to it, so no dangling value
 * can alias a later block at the same address. */
static GS_NOINLINE void free_node(int32_t id)
{
	for (int r = 0; r < NROOTS; r++)
		if (root_id[r] == id)
			set_root(r, -1);
	for (int32_t i = 0; i < n_ids; i++)
		if (alive[i])
			for (int k = 0; k < K; k++)
				if (eid[i][k] == id)
					set_edge(i, k, -1, 0);
	alive[id] = 0;
	free(node_at(id));
	addr_h[id] = 0;
}

static GS_NOINLINE void build(int n)
{
	for (int i = 0; i < n; i++)
		new_node();
	for (int32_t i = 0; i < n_ids; i++) {
		int ne = 1 + (int)(rnd() % 3);
		for (int k = 0; k < ne; k++) {
			int32_t j = (int32_t)(rnd() % (uint64_t)n_ids);
			if (rnd() % 100 < 60 && i + 1 < n_ids) /* mostly forward: chains */
				j = i + 1 + (int32_t)(rnd() % (uint64_t)(n_ids - i - 1));
			set_edge(i, k, j, rnd() % 100 < 10);
		}
	}
	for (int r = 0; r < NROOTS; r++)
		set_root(r, (int32_t)(rnd() % (uint64_t)n_ids));
}

/* One round of mutations; `keep` only adds (all new blocks rooted). */
static GS_NOINLINE void mutate(int keep)
{
	int ops = 20 + (int)(rnd() % 40);
	for (int op = 0; op < ops; op++) {
		unsigned what = (unsigned)(rnd() % 6);
		if (keep && what != 1 && what != 5)
			continue;
		switch (what) {
		case 0: /* drop a root */
			set_root((int)(rnd() % NROOTS), -1);
			break;
		case 1: { /* add an edge (start or interior) */
			int32_t a = random_alive(), b = random_alive();
			if (a >= 0 && b >= 0)
				set_edge(a, keep ? 1 + (int)(rnd() % (K - 1)) : (int)(rnd() % K), b,
					 rnd() % 100 < 15);
			break;
		}
		case 2: { /* remove an edge */
			int32_t a = random_alive();
			if (a >= 0)
				set_edge(a, (int)(rnd() % K), -1, 0);
			break;
		}
		case 3: { /* free a block */
			int32_t a = random_alive();
			if (a >= 0)
				free_node(a);
			break;
		}
		case 4: { /* a fresh cycle of 2..4 blocks, entered from a root or dropped */
			int len = 2 + (int)(rnd() % 3);
			int32_t first = -1, prev = -1;
			for (int i = 0; i < len; i++) {
				int32_t x = new_node();
				if (x < 0)
					break;
				if (prev >= 0)
					set_edge(prev, 0, x, 0);
				else
					first = x;
				prev = x;
			}
			if (first >= 0 && prev >= 0) {
				set_edge(prev, 0, first, 0);
				if (rnd() % 2)
					set_root((int)(rnd() % NROOTS), first);
			}
			break;
		}
		case 5: { /* a fresh block hung off a root's chain, or off nothing */
			int32_t x = new_node();
			if (x < 0)
				break;
			int r = (int)(rnd() % NROOTS);
			if (keep || rnd() % 2) {
				if (root_id[r] >= 0)
					set_edge(x, 0, root_id[r], 0);
				set_root(r, x);
			}
			break;
		}
		}
	}
}

/* Blocks no root reaches through any edge (start or interior). */
static int count_unreachable(void)
{
	int top = 0, un = 0;
	memset(reach, 0, (size_t)n_ids);
	for (int r = 0; r < NROOTS; r++)
		if (root_id[r] >= 0 && !reach[root_id[r]]) {
			reach[root_id[r]] = 1;
			work[top++] = root_id[r];
		}
	while (top) {
		int32_t x = work[--top];
		for (int k = 0; k < K; k++) {
			int32_t j = eid[x][k];
			if (j >= 0 && !reach[j]) {
				reach[j] = 1;
				work[top++] = j;
			}
		}
	}
	for (int32_t i = 0; i < n_ids; i++)
		if (alive[i] && !reach[i])
			un++;
	return un;
}

static GS_NOINLINE size_t check(void)
{
	gs_test_clear_stack();
	return gs_check_leaks();
}

/* usage: live_random_heap SEED [N [ROUNDS]] [keep] */
int main(int argc, char **argv)
{
	rng_state = strtoull(gs_test_arg(argc, argv, 1, "1"), NULL, 0);
	int n = atoi(gs_test_arg(argc, argv, 2, "2000"));
	int rounds = atoi(gs_test_arg(argc, argv, 3, "5"));
	int keep = strcmp(gs_test_arg(argc, argv, 4, ""), "keep") == 0;
	if (n < 1 || n > MAXN / 2 || rounds < 1) {
		fprintf(stderr, "usage: live_random_heap SEED [N<=%d [ROUNDS]] [keep]\n", MAXN / 2);
		return 2;
	}
	if (keep)
		n = n < NROOTS ? n : NROOTS; /* every initial block is a root */
	build(n);
	if (keep)
		for (int r = 0; r < NROOTS; r++)
			set_root(r, r < n_ids ? r : -1);
	for (int round = 1; round <= rounds; round++) {
		mutate(keep);
		gs_test_clear_stack();
		int un = count_unreachable();
		size_t c = check();
		printf("round %d unreachable %d check %zu\n", round, un, c);
		fflush(stdout);
	}
	gs_test_clear_stack();
	return 0;
}
