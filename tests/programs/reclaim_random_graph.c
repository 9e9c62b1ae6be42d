/* Proves: with reclaim=1, on a random object graph (thousands of blocks of random sizes, random edges, random root and edge drops) two scans free exactly the blocks the program's own exact reachability says are unreachable and never one it reaches: every reachable block keeps its address, size and checksum
 * Expect (reclaim=1): SEED [N] drop → per phase "phase P reachable R live R", "reclaim_random_graph: ok", exit 0, leaks:[]; without reclaim → "live N" each phase, FAIL lines, exit 1; hidden-root (a root XOR-ed away from the scanner) → FAIL lines (reachable blocks reclaimed), exit 1 */
#include <malloc.h>

#include "guardshim.h"
#include "gs_test.h"

#define K 4
#define MAXN 50000

struct node {
	uint32_t id, nwords;
	struct node *edge[K];
	uint64_t payload[];
};

static uintptr_t addr_h[MAXN];
static int32_t eid[MAXN][K];
static uint8_t alive[MAXN], reach[MAXN];
static uint32_t nwords_of[MAXN];
static int32_t work[MAXN];
static int n_nodes, n_roots;
static int32_t *root_id;
static struct node *volatile *roots;
static uintptr_t hidden_root_h;
static int32_t hidden_root_id = -1;
static uint64_t rng_state;
static gs_owner owner;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t payload_word(uint32_t id, uint32_t w)
{
	return ((uint64_t)id * 0x9e3779b97f4a7c15ull ^ (uint64_t)w * 0xc2b2ae3d27d4eb4full) | (1ull << 63);
}

static int node_intact(const struct node *n, uint32_t id)
{
	if (n->id != id || n->nwords != nwords_of[id] ||
	    malloc_usable_size((void *)n) < sizeof *n + n->nwords * sizeof(uint64_t))
		return 0;
	for (uint32_t w = 0; w < n->nwords; w++)
		if (n->payload[w] != payload_word(id, w))
			return 0;
	for (int k = 0; k < K; k++) {
		uintptr_t want = eid[id][k] < 0 ? 0 : ~addr_h[eid[id][k]];
		if ((uintptr_t)n->edge[k] != want)
			return 0;
	}
	return 1;
}

static GS_NOINLINE void rand_node_alloc(int id)
{
	uint32_t nwords = (uint32_t)(rnd() % 30);
	struct node *n = malloc(sizeof *n + nwords * sizeof(uint64_t));
	n->id = (uint32_t)id;
	n->nwords = nwords;
	nwords_of[id] = nwords;
	for (uint32_t w = 0; w < nwords; w++)
		n->payload[w] = payload_word((uint32_t)id, w);
	for (int k = 0; k < K; k++)
		n->edge[k] = NULL;
	addr_h[id] = ~(uintptr_t)n;
}

static GS_NOINLINE void build(void)
{
	gs_owner prev = gs_owner_set(owner);
	for (int i = 0; i < n_nodes; i++) {
		rand_node_alloc(i);
		alive[i] = 1;
	}
	gs_owner_set(prev);
	for (int i = 0; i < n_nodes; i++) {
		struct node *n = (struct node *)~addr_h[i];
		int ne = (int)(rnd() % 3); /* sparse: no giant component */
		for (int k = 0; k < K; k++) {
			int32_t j = k < ne ? (int32_t)(rnd() % (uint64_t)n_nodes) : -1;
			if (k < ne && rnd() % 100 < 60 && i + 1 < n_nodes) /* mostly forward: long chains */
				j = i + 1 + (int32_t)(rnd() % (uint64_t)(n_nodes - i - 1));
			eid[i][k] = j;
			n->edge[k] = j < 0 ? NULL : (struct node *)~addr_h[j];
		}
	}
	for (int r = 0; r < n_roots; r++) {
		int32_t j = (int32_t)(rnd() % (uint64_t)n_nodes);
		root_id[r] = j;
		roots[r] = (struct node *)~addr_h[j];
	}
}

static void compute_reach(void)
{
	int top = 0;
	memset(reach, 0, (size_t)n_nodes);
	for (int r = 0; r < n_roots; r++)
		if (root_id[r] >= 0 && !reach[root_id[r]]) {
			reach[root_id[r]] = 1;
			work[top++] = root_id[r];
		}
	if (hidden_root_id >= 0 && !reach[hidden_root_id]) {
		reach[hidden_root_id] = 1;
		work[top++] = hidden_root_id;
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
}

static GS_NOINLINE void drop_some(int pct)
{
	for (int r = 0; r < n_roots; r++)
		if (root_id[r] >= 0 && (int)(rnd() % 100) < pct) {
			roots[r] = NULL;
			root_id[r] = -1;
		}
	for (int i = 0; i < n_nodes; i++)
		if (reach[i] && rnd() % 100 < 5) {
			int k = (int)(rnd() % K);
			((struct node *)~addr_h[i])->edge[k] = NULL;
			eid[i][k] = -1;
		}
}

static size_t owner_live(void)
{
	struct gs_owner_stats s = {.size = sizeof s};
	GS_CHECK(gs_owner_stats(owner, &s) == 0, "gs_owner_stats");
	return s.live_blocks;
}

/* Two scans, then: every reachable node intact, nothing else alive. */
static GS_NOINLINE void check_phase(int phase)
{
	compute_reach();
	gs_test_collect();
	gs_test_collect();
	size_t nreach = 0;
	for (int i = 0; i < n_nodes; i++) {
		if (!reach[i])
			continue;
		nreach++;
		GS_CHECK(node_intact((struct node *)~addr_h[i], (uint32_t)i),
			 "phase %d: reachable node %d damaged or freed", phase, i);
	}
	for (int i = 0; i < n_nodes; i++)
		if (!reach[i])
			alive[i] = 0; /* the shim owns it now: never touched again */
	size_t live = owner_live();
	printf("phase %d reachable %zu live %zu\n", phase, nreach, live);
	fflush(stdout);
	GS_CHECK(live == nreach, "phase %d: %zu blocks live, %zu reachable", phase, live, nreach);
}

static GS_NOINLINE void free_reachable(void)
{
	for (int r = 0; r < n_roots; r++)
		roots[r] = NULL;
	compute_reach();
	for (int i = 0; i < n_nodes; i++)
		if (reach[i])
			free((void *)~addr_h[i]);
}

/* usage: reclaim_random_graph SEED [N] [drop|hidden-root]   (EXTRA_OPTS reclaim=1) */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	uint64_t seed = strtoull(gs_test_arg(argc, argv, 1, "1"), NULL, 0);
	n_nodes = atoi(gs_test_arg(argc, argv, 2, "4000"));
	const char *mode = gs_test_arg(argc, argv, 3, "drop");
	int hidden = !strcmp(mode, "hidden-root");
	if (n_nodes < 10 || n_nodes > MAXN || (!hidden && strcmp(mode, "drop")))
		return 2;
	rng_state = seed;
	owner = gs_owner_new("graph");
	n_roots = n_nodes / 10;
	root_id = calloc((size_t)n_roots, sizeof *root_id);
	roots = calloc((size_t)n_roots, sizeof *roots);
	build();
	if (hidden) {
		hidden_root_id = (int32_t)(rnd() % (uint64_t)n_nodes);
		hidden_root_h = addr_h[hidden_root_id];
	}
	for (int phase = 0; phase < 4; phase++) {
		if (phase)
			drop_some(phase == 3 ? 100 : 40);
		check_phase(phase);
	}
	hidden_root_id = -1;
	free_reachable();
	gs_test_clear_stack();
	return gs_test_summary("reclaim_random_graph");
}
