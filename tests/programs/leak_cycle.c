/* Proves: a leaked cycle nothing points to is one direct record (cycle:true) for its entry block, the rest indirect
 * Expect: 2 → `direct cycle_node 40 1` (cycle) + `indirect cycle_node 40 1`; 3 → `direct cycle_node 40 1` + `indirect cycle_node 80 2`; keep2/keep3 → leaks:[] */
#include "gs_test.h"

struct cnode { struct cnode *next; long pad[4]; };                  /* 40 bytes */

struct cnode *volatile cycle_root;

static GS_NOINLINE struct cnode *cycle_node(void)
{
	struct cnode *n = malloc(sizeof(struct cnode));
	memset(n, 0, sizeof *n);
	return n;
}

static GS_NOINLINE void build(int len, int keep)
{
	struct cnode *volatile first = cycle_node();
	struct cnode *volatile prev = first;
	for (int i = 1; i < len; i++) {
		struct cnode *n = cycle_node();
		prev->next = n;
		prev = n;
	}
	prev->next = first;
	for (struct cnode *n = first;; ) {
		gs_test_print_address("cycle_node", n);
		n = n->next;
		if (n == first)
			break;
	}
	if (keep)
		cycle_root = first->next;
	first = prev = NULL;
}

/* usage: leak_cycle [2|3|keep2|keep3] */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "2");
	int keep = strncmp(mode, "keep", 4) == 0;
	int len = atoi(keep ? mode + 4 : mode);
	if (len < 2)
		return 2;
	build(len, keep);
	gs_test_clear_stack();
	return 0;
}
