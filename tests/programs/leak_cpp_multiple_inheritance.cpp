/* Proves: an object of a class with two polymorphic bases, `C : A, B`, reached only through a `B *` (which points 16 bytes into the block, at the B subobject) is reachable, as LeakSanitizer and Valgrind (multipleinheritance heuristic) say
 * Expect: keep (a global B * into the object) → leaks:[]; drop (no pointer) → `direct alloc_multiple_inheritance_40 40 1`; the program prints "B at offset 16 of 40" */
#include "gs_test.h"
#include <cstdio>
#include <cstring>

struct A {                                  /* vptr + a: 16 bytes */
	virtual ~A() {}
	long a = 1;
};
struct B {                                  /* vptr + b: 16 bytes */
	virtual ~B() {}
	long b = 2;
};
struct C : A, B {                           /* A at 0, B at 16, c at 32: 40 bytes */
	long c = 3;
};

static B *volatile g_b;                     /* the only pointer: into the block, at +16 */

/* Returns the B subobject's offset in the block. */
extern "C" __attribute__((noinline)) long alloc_multiple_inheritance_40(bool keep)
{
	C *c = new C;
	B *b = c;                                   /* implicit upcast: c + 16 */
	long offset = (long)((char *)b - (char *)c);
	if (keep)
		g_b = b;
	c = nullptr;
	b = nullptr;
	return offset;
}

/* usage: leak_cpp_multiple_inheritance keep|drop */
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "keep";
	if (std::strcmp(mode, "keep") != 0 && std::strcmp(mode, "drop") != 0)
		return 2;
	long offset = alloc_multiple_inheritance_40(std::strcmp(mode, "keep") == 0);
	std::printf("B at offset %ld of %zu\n", offset, sizeof(C));
	std::fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
