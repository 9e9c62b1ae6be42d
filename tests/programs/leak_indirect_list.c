/* Proves: blocks reached only from a leaked block are indirect; the lost head is direct
 * Expect: lost → `direct alloc_list_head 32 1` + `indirect alloc_list_node 96 4`; keep → leaks:[]; keep-node2 → head direct 32, node1 indirect 24 */
#include "gs_test.h"

struct node { struct node *next; long value; long pad; };          /* 24 bytes */
struct list { struct node *first; long count; long pad[2]; };       /* 32 bytes */

struct list *volatile list_root;
struct node *volatile node_root;

static GS_NOINLINE struct list *alloc_list_head(void)
{
	return malloc(sizeof(struct list));
}

static GS_NOINLINE struct node *alloc_list_node(long v)
{
	struct node *n = malloc(sizeof(struct node));
	n->next = NULL;
	n->value = v;
	n->pad = 0;
	return n;
}

static GS_NOINLINE void build(const char *mode)
{
	struct list *volatile l = alloc_list_head();
	struct node *prev = NULL;
	l->first = NULL;
	l->count = 4;
	for (long i = 0; i < 4; i++) {
		struct node *n = alloc_list_node(i);
		if (prev)
			prev->next = n;
		else
			l->first = n;
		prev = n;
	}
	gs_test_print_address("head", l);
	gs_test_print_address("node1", l->first);
	if (strcmp(mode, "keep") == 0)
		list_root = l;
	else if (strcmp(mode, "keep-node2") == 0)
		node_root = l->first->next;
	prev = NULL;
	l = NULL;
}

/* usage: leak_indirect_list [lost|keep|keep-node2] */
int main(int argc, char **argv)
{
	build(gs_test_arg(argc, argv, 1, "lost"));
	gs_test_clear_stack();
	return 0;
}
