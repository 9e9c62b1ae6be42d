#!/usr/bin/env bats
# suppressions=FILE with LSan's leak:PATTERN syntax (function, file or module; * wildcards).
load helper
bats_require_minimum_version 1.5.0

SUPP="$BATS_TEST_DIRNAME/fixtures/suppressions"

@test "suppressing the only leak by function name removes its record and restores exit 0 (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/leak_direct_48.supp" run -0 gs_run leak_direct leak
	assert_clean_report
}

@test "a suppression that matches nothing leaves the leak and exit 23 (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/no_match.supp" run -23 gs_run leak_direct leak
	assert_leaks "direct leak_direct_48 48 1"
}

@test "suppressing one of nine leaks removes exactly that record and keeps exit 23 (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/malloc_100.supp" run -23 gs_run interpose_entry_points leak
	assert_leaks "$(printf '%s\n' \
		"direct leak_aligned_alloc_384 384 1" \
		"direct leak_calloc_120 120 1" \
		"direct leak_memalign_96 96 1" \
		"direct leak_posix_memalign_256 256 1" \
		"direct leak_pvalloc_4096 4096 1" \
		"direct leak_realloc_200 200 1" \
		"direct leak_reallocarray_220 220 1" \
		"direct leak_valloc_1000 1000 1")"
}

@test "a * wildcard suppresses every matching function and nothing else (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/align_wildcard.supp" run -23 gs_run interpose_entry_points leak
	assert_leaks "$(printf '%s\n' \
		"direct leak_calloc_120 120 1" \
		"direct leak_malloc_100 100 1" \
		"direct leak_pvalloc_4096 4096 1" \
		"direct leak_realloc_200 200 1" \
		"direct leak_reallocarray_220 220 1" \
		"direct leak_valloc_1000 1000 1")"
}

@test "a suppression naming a source file removes the direct and indirect records from it (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/by_file.supp" run -0 gs_run leak_indirect_list lost
	assert_clean_report
}

@test "a suppression naming a module removes the leak of a dlclose'd library (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/by_module.supp" run -0 gs_run leak_dlclosed_lib leak
	assert_clean_report
}

@test "an LSan suppression by a C++ method's demangled name removes its record and only it (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/cxx_demangled.supp" run -23 gs_run leak_cpp_demangle leak
	assert_leaks "direct ns::Registry<int>::add(int) 24 1"
}

@test "a suppression by the mangled symbol of a C++ frame matches as well (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/cxx_mangled.supp" run -23 gs_run leak_cpp_demangle leak
	assert_leaks "direct ns::Widget::make_buffer() 41 1"
}

@test "a C++ suppression naming another class keeps both C++ leaks (#2)" {
	EXTRA_OPTS="suppressions=$SUPP/cxx_no_match.supp" run -23 gs_run leak_cpp_demangle leak
	assert_leaks "$(printf '%s\n' \
		"direct ns::Registry<int>::add(int) 24 1" \
		"direct ns::Widget::make_buffer() 41 1")"
}

