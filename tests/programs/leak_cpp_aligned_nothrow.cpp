/* Proves: the aligned (std::align_val_t) and nothrow forms of C++ operator new and new[] are tracked with the C++ caller, keep their alignment, and the matching aligned, sized and nothrow deletes release them
 * Expect: leak → `direct leak_new_aligned 192 1` (frame #0 `operator new(unsigned long, std::align_val_t)`), `direct leak_new_aligned_array 384 1` (`operator new[](unsigned long, std::align_val_t)`), `direct leak_new_aligned_nothrow 192 1` (`operator new(unsigned long, std::align_val_t, std::nothrow_t const&)`), `direct leak_new_nothrow 40 1` (`operator new(unsigned long, std::nothrow_t const&)`), `direct leak_new_nothrow_array 60 1` (`operator new[](unsigned long, std::nothrow_t const&)`); prints "aligned 1"; free → leaks:[] */
#include "gs_test.h"
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

struct alignas(64) Line {                     /* over-aligned (> 16): the align_val_t operators */
	char bytes[192];                           /* 192 bytes, a multiple of 64 */
};
struct Node {                                 /* 40 bytes */
	Node *next;
	long a, b, c, d;
};

static Line *volatile aligned_sink, *volatile aligned_array_sink, *volatile aligned_nothrow_sink;
static Node *volatile nothrow_sink;
static int *volatile nothrow_array_sink;

extern "C" __attribute__((noinline)) Line *leak_new_aligned(void)
{
	return new Line;                                  /* operator new(192, align_val_t(64)) */
}

extern "C" __attribute__((noinline)) Line *leak_new_aligned_array(void)
{
	return new Line[2];                               /* trivial dtor, no cookie: 384 bytes */
}

extern "C" __attribute__((noinline)) Line *leak_new_aligned_nothrow(void)
{
	return new (std::nothrow) Line;
}

extern "C" __attribute__((noinline)) Node *leak_new_nothrow(void)
{
	return new (std::nothrow) Node();
}

extern "C" __attribute__((noinline)) int *leak_new_nothrow_array(void)
{
	return new (std::nothrow) int[15];                /* 60 bytes */
}

static int aligned64(const void *p) { return ((std::uintptr_t)p & 63) == 0; }

/* usage: leak_cpp_aligned_nothrow [leak|free] */
int main(int argc, char **argv)
{
	bool do_free = argc > 1 && std::strcmp(argv[1], "free") == 0;
	aligned_sink = leak_new_aligned();
	aligned_array_sink = leak_new_aligned_array();
	aligned_nothrow_sink = leak_new_aligned_nothrow();
	nothrow_sink = leak_new_nothrow();
	nothrow_array_sink = leak_new_nothrow_array();
	if (!aligned_nothrow_sink || !nothrow_sink || !nothrow_array_sink)
		return 2;
	std::printf("aligned %d\n", aligned64(aligned_sink) && aligned64(aligned_array_sink) &&
					    aligned64(aligned_nothrow_sink));
	if (do_free) {
		delete aligned_sink;                      /* operator delete(void *, size_t, align_val_t) */
		delete[] aligned_array_sink;              /* operator delete[](void *, align_val_t) */
		::operator delete(aligned_nothrow_sink, std::align_val_t(alignof(Line)), std::nothrow);
		::operator delete(nothrow_sink, std::nothrow);
		::operator delete[](nothrow_array_sink, std::nothrow);
	}
	aligned_sink = aligned_array_sink = aligned_nothrow_sink = nullptr;
	nothrow_sink = nullptr;
	nothrow_array_sink = nullptr;
	std::fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
