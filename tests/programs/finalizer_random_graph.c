/* Proves: on a random object graph (thousands of blocks, random edges, random root and edge drops) every finalizer call is for a block the program's own exact reachability says is unreachable and not reachable from another unreachable finalizable block (Boehm order), runs exactly once, and once collect+drain rounds stop making progress every unreachable finalizable block not in or below a finalizable cycle was finalized; finalizers allocate, free and set new finalizers
 * Expect: SEED [N] drop → "finalizer_random_graph: ok", exit 0, leaks:[]; keep (every block rooted) → "finalized 0"; hidden-root (one root XOR-ed away from the scanner) → "FAIL …" lines, exit 1 (the checker catches a finalizer run for a block the program still reaches) */
#include "guardshim.h"
#include "gs_test.h"

#define K 4          /* edges per node */
#define MAXN 50000
#define NROOTS_DIV 20

struct node {
	uint32_t id, nwords;
	struct node *edge[K];
	uint64_t payload[]; /* nwords words, all non-canonical (top bit set) */
};

/* Program-side bookkeeping: ids and hidden addresses only, nothing the
 * scanner could mistake for a pointer to a node. */
static uintptr_t addr_h[MAXN]; /* ~address */
static int32_t eid[MAXN][K];   /* shadow edges by id, -1 = none */
static uint8_t fin[MAXN], alive[MAXN], reach[MAXN], blocked[MAXN], nfinal[MAXN], mark[MAXN];
static int32_t work[MAXN];
static int n_nodes, n_roots;
static int32_t *root_id;
static struct node *volatile *roots;
static uintptr_t hidden_root_h; /* hidden-root mode: a root only the program knows */
static int32_t hidden_root_id = -1;
static uint64_t rng_state;
static int round_no;
static size_t total_final, extra_made, extra_final;

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
	if (n->id != id)
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

static void fin_extra(void *block, void *arg)
{
	(void)block;
	GS_CHECK(arg == (void *)0xe7, "fin_extra arg %p", arg);
	extra_final++;
}

static void fin_node(void *block, void *arg)
{
	struct node *n = block;
	uintptr_t id = (uintptr_t)arg;
	total_final++;
	if (id >= (uintptr_t)n_nodes || ~addr_h[id] != (uintptr_t)block) {
		GS_CHECK(0, "finalizer for unknown block %p arg %lu", block, (unsigned long)id);
		return;
	}
	GS_CHECK(alive[id] && fin[id], "node %lu finalized but not alive/finalizable", (unsigned long)id);
	GS_CHECK(nfinal[id] == 0, "node %lu finalized %d times", (unsigned long)id, nfinal[id] + 1);
	GS_CHECK(!reach[id], "node %lu finalized while reachable (round %d)", (unsigned long)id, round_no);
	GS_CHECK(!blocked[id], "node %lu finalized before an unreachable finalizable block pointing to it",
		 (unsigned long)id);
	GS_CHECK(node_intact(n, (uint32_t)id), "node %lu not intact in its finalizer", (unsigned long)id);
	nfinal[id]++;
	alive[id] = 0;
	/* Finalizers may allocate, free and set finalizers. */
	if (total_final % 7 == 0) {
		char *volatile tmp = malloc(24 + total_final % 100);
		memset(tmp, 0, 24);
		free(tmp);
	}
	if (total_final % 13 == 0) {
		void *volatile extra = calloc(1, 40);
		GS_CHECK(gs_set_finalizer(extra, fin_extra, (void *)0xe7) == 0, "set_finalizer in finalizer");
		extra_made++;
		extra = NULL; /* dropped: finalized in a later round */
	}
}

static GS_NOINLINE void rand_node_alloc(int id)
{
	uint32_t nwords = (uint32_t)(rnd() % 9);
	struct node *n = malloc(sizeof *n + nwords * sizeof(uint64_t));
	n->id = (uint32_t)id;
	n->nwords = nwords;
	for (uint32_t w = 0; w < nwords; w++)
		n->payload[w] = payload_word((uint32_t)id, w);
	for (int k = 0; k < K; k++)
		n->edge[k] = NULL;
	addr_h[id] = ~(uintptr_t)n;
}

static GS_NOINLINE void build(int keep_all)
{
	for (int i = 0; i < n_nodes; i++) {
		rand_node_alloc(i);
		alive[i] = 1;
		fin[i] = rnd() % 2;
	}
	for (int i = 0; i < n_nodes; i++) {
		struct node *n = (struct node *)~addr_h[i];
		int ne = (int)(rnd() % (K + 1));
		for (int k = 0; k < K; k++) {
			int32_t j = -1;
			if (k < ne) {
				uint64_t r = rnd() % 100;
				if (r < 5)
					j = i; /* self-pointer */
				else if (r < 15 && i > 0)
					j = i - 1 - (int32_t)(rnd() % (uint64_t)(i < 6 ? i : 6)); /* short back edge: cycles */
				else if (i + 1 < n_nodes)
					j = i + 1 + (int32_t)(rnd() % (uint64_t)(n_nodes - i - 1));
			}
			eid[i][k] = j;
			n->edge[k] = j < 0 ? NULL : (struct node *)~addr_h[j];
		}
		if (fin[i])
			GS_CHECK(gs_set_finalizer(n, fin_node, (void *)(uintptr_t)i) == 0, "set_finalizer");
	}
	for (int r = 0; r < n_roots; r++) {
		int32_t j = keep_all ? r : (int32_t)(rnd() % (uint64_t)n_nodes);
		root_id[r] = j;
		roots[r] = (struct node *)~addr_h[j];
	}
}

/* Drops about `pct` % of the remaining roots and clears a few edges of live nodes. */
static GS_NOINLINE void drop_some(int pct)
{
	for (int r = 0; r < n_roots; r++)
		if (root_id[r] >= 0 && (int)(rnd() % 100) < pct) {
			roots[r] = NULL;
			root_id[r] = -1;
		}
	for (int i = 0; i < n_nodes; i++)
		if (alive[i] && reach[i] && rnd() % 100 < 3) {
			int k = (int)(rnd() % K);
			((struct node *)~addr_h[i])->edge[k] = NULL;
			eid[i][k] = -1;
		}
}

/* reach[] from the roots (and the hidden root) over live nodes. */
static void compute_reach(void)
{
	int top = 0;
	memset(reach, 0, (size_t)n_nodes);
	for (int r = 0; r < n_roots; r++)
		if (root_id[r] >= 0 && !reach[root_id[r]]) {
			reach[root_id[r]] = 1;
			work[top++] = root_id[r];
		}
	if (hidden_root_id >= 0 && alive[hidden_root_id] && !reach[hidden_root_id]) {
		reach[hidden_root_id] = 1;
		work[top++] = hidden_root_id;
	}
	while (top) {
		int32_t x = work[--top];
		for (int k = 0; k < K; k++) {
			int32_t j = eid[x][k];
			if (j >= 0 && !reach[j]) {
				GS_CHECK(alive[j], "reachable node %d points to freed node %d", x, j);
				reach[j] = 1;
				work[top++] = j;
			}
		}
	}
}

/* blocked[x]: x is reached, by a path of length >= 1 that does not start
 * with a self-edge, from an unreachable finalizable live node. */
static void compute_blocked(void)
{
	int top = 0;
	memset(blocked, 0, (size_t)n_nodes);
	for (int y = 0; y < n_nodes; y++) {
		if (!alive[y] || reach[y] || !fin[y])
			continue;
		for (int k = 0; k < K; k++) {
			int32_t j = eid[y][k];
			if (j >= 0 && j != y && alive[j] && !blocked[j]) {
				blocked[j] = 1;
				work[top++] = j;
			}
		}
	}
	while (top) {
		int32_t x = work[--top];
		for (int k = 0; k < K; k++) {
			int32_t j = eid[x][k];
			if (j >= 0 && alive[j] && !reach[j] && !blocked[j]) {
				blocked[j] = 1;
				work[top++] = j;
			}
		}
	}
}

/* One collect + drain with the program's own view computed first. */
static GS_NOINLINE size_t round_(void)
{
	round_no++;
	compute_reach();
	compute_blocked();
	gs_test_collect();
	return gs_drain();
}

/* Rounds until two in a row run no finalizer. */
static GS_NOINLINE void settle(void)
{
	int idle = 0;
	for (int i = 0; i < 400 && idle < 2; i++)
		idle = round_() ? 0 : idle + 1;
	GS_CHECK(idle == 2, "still finalizing after 400 rounds");
}

/* Independent end check: alive finalizable unreachable nodes must be exactly
 * those reachable (length >= 0) from a finalizable node on a cycle of length
 * >= 2 (self-edges do not count). */
static GS_NOINLINE void check_quiescent(size_t *stuck_out)
{
	compute_reach();
	memset(blocked, 0, (size_t)n_nodes); /* reused: "stuck" */
	int top = 0;
	for (int z = 0; z < n_nodes; z++) {
		if (!alive[z] || reach[z] || !fin[z])
			continue;
		memset(mark, 0, (size_t)n_nodes);
		int t = 0, cyclic = 0;
		for (int k = 0; k < K; k++) {
			int32_t j = eid[z][k];
			if (j >= 0 && j != z && alive[j] && !mark[j]) {
				mark[j] = 1;
				work[t++] = j;
			}
		}
		while (t && !cyclic) {
			int32_t x = work[--t];
			if (x == z)
				cyclic = 1;
			for (int k = 0; k < K; k++) {
				int32_t j = eid[x][k];
				if (j >= 0 && alive[j] && !reach[j] && !mark[j]) {
					mark[j] = 1;
					work[t++] = j;
				}
			}
		}
		if (cyclic)
			blocked[z] = 2; /* seed */
	}
	for (int z = 0; z < n_nodes; z++)
		if (blocked[z] == 2)
			work[top++] = z;
	while (top) {
		int32_t x = work[--top];
		for (int k = 0; k < K; k++) {
			int32_t j = eid[x][k];
			if (j >= 0 && alive[j] && !reach[j] && !blocked[j]) {
				blocked[j] = 1;
				work[top++] = j;
			}
		}
	}
	size_t stuck = 0;
	for (int i = 0; i < n_nodes; i++) {
		if (!fin[i] || reach[i])
			continue;
		if (blocked[i]) {
			stuck++;
			GS_CHECK(alive[i] && nfinal[i] == 0, "node %d under a finalizable cycle was finalized", i);
		} else {
			GS_CHECK(!alive[i] && nfinal[i] == 1,
				 "unreachable finalizable node %d not finalized exactly once (%d)", i, nfinal[i]);
		}
	}
	for (int i = 0; i < n_nodes; i++)
		if (reach[i] && alive[i])
			GS_CHECK(nfinal[i] == 0 && node_intact((struct node *)~addr_h[i], (uint32_t)i),
				 "reachable node %d finalized or damaged", i);
	GS_CHECK(extra_final == extra_made, "finalizers set in finalizers: %zu made, %zu run", extra_made,
		 extra_final);
	*stuck_out = stuck;
}

static GS_NOINLINE void free_everything(void)
{
	for (int r = 0; r < n_roots; r++)
		roots[r] = NULL;
	for (int i = 0; i < n_nodes; i++)
		if (alive[i]) {
			void *p = (void *)~addr_h[i];
			if (fin[i])
				gs_set_finalizer(p, NULL, NULL);
			free(p);
			alive[i] = 0;
		}
}

/* usage: finalizer_random_graph SEED [N] [drop|keep|hidden-root] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	uint64_t seed = strtoull(gs_test_arg(argc, argv, 1, "1"), NULL, 0);
	n_nodes = atoi(gs_test_arg(argc, argv, 2, "4000"));
	const char *mode = gs_test_arg(argc, argv, 3, "drop");
	int keep = !strcmp(mode, "keep"), hidden = !strcmp(mode, "hidden-root");
	if (n_nodes < 10 || n_nodes > MAXN || (!keep && !hidden && strcmp(mode, "drop")))
		return 2;
	rng_state = seed;
	n_roots = keep ? n_nodes : n_nodes / NROOTS_DIV;
	root_id = calloc((size_t)n_roots, sizeof *root_id);
	roots = calloc((size_t)n_roots, sizeof *roots);
	build(keep);
	if (hidden) {
		/* The program roots a finalizable node the scanner cannot see. */
		for (int i = 0; i < n_nodes; i++)
			if (fin[i]) {
				hidden_root_id = i;
				break;
			}
		hidden_root_h = addr_h[hidden_root_id];
	}
	settle(); /* garbage from the start: never rooted */
	size_t first = total_final;
	for (int phase = 0; phase < 4 && !keep; phase++) {
		drop_some(phase == 3 ? 100 : 30);
		settle();
	}
	size_t stuck;
	check_quiescent(&stuck);
	printf("seed %llu nodes %d rounds %d finalized %zu (first settle %zu) stuck %zu extra %zu\n",
	       (unsigned long long)seed, n_nodes, round_no, total_final, first, stuck, extra_made);
	free_everything();
	gs_test_clear_stack();
	return gs_test_summary("finalizer_random_graph");
}
