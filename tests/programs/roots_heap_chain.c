/* Proves: a 10,000-node heap chain hanging off a global is reachable end to end; dropping the head leaks all of it as 1 direct + 9999 indirect
 * Expect: keep → leaks:[], exit 0; drop → `direct chain_node 32 1` + `indirect chain_node 319968 9999`, exit 23 */
#include "gs_test.h"

#define CHAIN_LEN 10000

struct link { struct link *next; long pad[3]; };                    /* 32 bytes */

struct link *volatile chain_root;

static GS_NOINLINE struct link *chain_node(void)
{
	struct link *l = malloc(sizeof(struct link));
	memset(l, 0, sizeof *l);
	return l;
}

static GS_NOINLINE void build(void)
{
	struct link *head = chain_node();
	struct link *tail = head;
	for (int i = 1; i < CHAIN_LEN; i++) {
		tail->next = chain_node();
		tail = tail->next;
	}
	chain_root = head;
	gs_test_print_address("head", head);
	head = tail = NULL;
}

/* usage: roots_heap_chain [keep|drop] */
int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "keep");
	build();
	if (strcmp(mode, "drop") == 0)
		chain_root = NULL;
	gs_test_clear_stack();
	return 0;
}
