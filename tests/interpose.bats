#!/usr/bin/env bats
# Interposition of the malloc family: every entry point, libc-internal and C++
# allocations, and the C semantics the shim must keep.
load helper
bats_require_minimum_version 1.5.0

ENTRY_LEAKS="$(printf '%s\n' \
	"direct leak_aligned_alloc_384 384 1" \
	"direct leak_calloc_120 120 1" \
	"direct leak_malloc_100 100 1" \
	"direct leak_memalign_96 96 1" \
	"direct leak_posix_memalign_256 256 1" \
	"direct leak_pvalloc_4096 4096 1" \
	"direct leak_realloc_200 200 1" \
	"direct leak_reallocarray_220 220 1" \
	"direct leak_valloc_1000 1000 1" | LC_ALL=C sort)"

@test "every allocator entry point leaks a known size from its own function (#2)" {
	run -23 gs_run interpose_entry_points leak
	assert_leaks "$ENTRY_LEAKS"
}

@test "the same blocks freed leave a report with no leaks (#2)" {
	run -0 gs_run interpose_entry_points free
	assert_clean_report
}

@test "frame #0 is the shim's entry point named after the call and frame #1 the caller (#2)" {
	run -23 gs_run interpose_entry_points leak
	run gs_jq '.leaks[] | "\(.stack[1].function) \(.stack[0].function) \(.stack[0].module | test("libguardshim\\.so$"))"'
	assert_success
	expected="$(printf '%s\n' \
		"leak_aligned_alloc_384 aligned_alloc true" \
		"leak_calloc_120 calloc true" \
		"leak_malloc_100 malloc true" \
		"leak_memalign_96 memalign true" \
		"leak_posix_memalign_256 posix_memalign true" \
		"leak_pvalloc_4096 pvalloc true" \
		"leak_realloc_200 realloc true" \
		"leak_reallocarray_220 reallocarray true" \
		"leak_valloc_1000 valloc true")"
	assert_equal "$(LC_ALL=C sort <<<"$output")" "$expected"
}

@test "records are sorted by bytes, largest first (#2)" {
	run -23 gs_run interpose_entry_points leak
	run gs_jq '[.leaks[].bytes] | map(tostring) | join(" ")'
	assert_output "4096 1000 384 256 220 200 120 100 96"
}

@test "strdup, asprintf and getline buffers leaked by the program are reported with its functions (#2)" {
	run -23 gs_run leak_libc_internal leak
	assert_line "0 hello guardshim"
	run gs_leaks_with_frame leak_strdup
	assert_output "direct 16 1"
	run gs_leaks_with_frame leak_asprintf
	assert_output --regexp '^direct [0-9]+ 1$'
	run gs_leaks_with_frame leak_getline
	assert_output --regexp '^direct [0-9]+ 1$'
	run gs_jq '.leaks | length'
	assert_output 3
}

@test "the same libc-made buffers freed leave a report with no leaks (fmemopen/fclose included) (#2)" {
	run -0 gs_run leak_libc_internal free
	assert_clean_report
}

@test "C++ new and new[] leaks are reported with the C++ caller and exact sizes (#2)" {
	run -23 gs_run leak_cpp_new leak
	assert_leaks "$(printf '%s\n' \
		"direct leak_new_array_cookie 56 1" \
		"direct leak_new_ints 100 1" \
		"direct leak_new_node 40 1")"
}

@test "C++ leaks have operator new or new[] of the shim as frame #0 (#2)" {
	run -23 gs_run leak_cpp_new leak
	run gs_jq '.leaks[] | "\(.stack[1].function) \(.stack[0].function) \(.stack[0].module | test("libguardshim\\.so$"))"'
	assert_success
	assert_line --regexp '^leak_new_node (_Znwm|operator new\(unsigned long\)) true$'
	assert_line --regexp '^leak_new_ints (_Znam|operator new\[\]\(unsigned long\)) true$'
	assert_line --regexp '^leak_new_array_cookie (_Znam|operator new\[\]\(unsigned long\)) true$'
}

@test "C++ delete and delete[] of the same objects leave no leaks (#2)" {
	run -0 gs_run leak_cpp_new free
	assert_clean_report
}

@test "allocation semantics are the same with and without the shim (realloc 0, free NULL, ENOMEM, alignment, usable size) (#2)" {
	run -0 gs_native interpose_semantics
	native="$output"
	refute_line --partial FAIL
	run -0 gs_run interpose_semantics
	refute_line --partial FAIL
	assert_line "failures 0"
	assert_equal "$output" "$native"
	assert_clean_report
}
