/* Proves: C++ frames are reported demangled, as LeakSanitizer shows them (a namespaced static method, a class template's method, operator new and new[]), with the raw symbol in "mangled", so LSan suppressions by either name match
 * Expect: leak → `direct ns::Widget::make_buffer() 41 1` (frame #0 `operator new[](unsigned long)`, mangled `_Znam`) and `direct ns::Registry<int>::add(int) 24 1` (frame #0 `operator new(unsigned long)`, mangled `_Znwm`); free → leaks:[]; dlerror → the same two records in a gs_check_leaks report ("records 2"), and the program's pending dlerror() survives it ("dlerror kept 1") */
#include "gs_test.h"
#include "guardshim.h"
#include <cstdio>
#include <cstring>
#include <dlfcn.h>

namespace ns {

struct Widget {
	static char *make_buffer();
};

template <typename T> struct Registry {
	struct Entry {                                    /* 4 + 4 padding + 8 + 8 = 24 bytes */
		T value;
		Entry *next;
		long serial;
	};
	Entry *add(T value);
};

__attribute__((noinline)) char *Widget::make_buffer()
{
	return new char[41];                              /* operator new[]: 41 bytes */
}

template <typename T> __attribute__((noinline)) typename Registry<T>::Entry *Registry<T>::add(T value)
{
	return new Entry{value, nullptr, 7};              /* operator new: 24 bytes */
}

template struct Registry<int>;

} // namespace ns

static char *volatile buffer_sink;
static ns::Registry<int>::Entry *volatile entry_sink;

/* usage: leak_cpp_demangle [leak|free|dlerror] */
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "leak";
	bool do_free = std::strcmp(mode, "free") == 0;
	ns::Registry<int> registry;
	buffer_sink = ns::Widget::make_buffer();
	entry_sink = registry.add(42);
	std::printf("buffer %p entry %p\n", (void *)buffer_sink, (void *)entry_sink);
	if (std::strcmp(mode, "dlerror") == 0) {
		/* A report that symbolises C++ frames on this thread, between a
		 * failed dlopen and the dlerror() that reads why. */
		buffer_sink = nullptr;
		entry_sink = nullptr;
		if (dlopen("/nonexistent/libguardshim-test.so", RTLD_NOW))
			return 2;
		gs_test_clear_stack();
		std::size_t records = gs_check_leaks ? gs_check_leaks() : 0;
		const char *err = dlerror();
		std::printf("records %zu\n", records);
		std::printf("dlerror kept %d\n", err && std::strstr(err, "libguardshim-test.so") != nullptr);
	}
	if (do_free) {
		delete[] buffer_sink;
		delete entry_sink;
	}
	buffer_sink = nullptr;
	entry_sink = nullptr;
	gs_test_clear_stack();
	return 0;
}
