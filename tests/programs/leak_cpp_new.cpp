/* Proves: C++ operator new and new[] are tracked (frame #0 _Znwm/_Znam) and leaks name the C++ caller
 * Expect: leak → `direct leak_new_array_cookie 56 1`, `direct leak_new_ints 100 1`, `direct leak_new_node 40 1`; free → leaks:[] */
#include "gs_test.h"
#include <cstdio>
#include <cstring>
#include <unistd.h>

struct Node { Node *next; long a, b, c, d; };                 /* 40 bytes */
struct Tracked { long x, y; ~Tracked() { x = 0; } };          /* 16 bytes, non-trivial dtor: new[] adds an 8-byte cookie */

extern "C" __attribute__((noinline)) Node *leak_new_node(void)
{
	return new Node();
}

extern "C" __attribute__((noinline)) int *leak_new_ints(void)
{
	return new int[25];                               /* 100 bytes */
}

extern "C" __attribute__((noinline)) Tracked *leak_new_array_cookie(void)
{
	return new Tracked[3];                            /* 3*16 + 8 = 56 bytes */
}

/* usage: leak_cpp_new [leak|free] */
int main(int argc, char **argv)
{
	bool do_free = argc > 1 && std::strcmp(argv[1], "free") == 0;
	Node *n = leak_new_node();
	int *ints = leak_new_ints();
	Tracked *t = leak_new_array_cookie();
	std::printf("node %p ints %p tracked %p\n", (void *)n, (void *)ints, (void *)t);
	if (do_free) {
		delete n;
		delete[] ints;
		delete[] t;
	}
	n = nullptr;
	ints = nullptr;
	t = nullptr;
	gs_test_clear_stack();
	return 0;
}
