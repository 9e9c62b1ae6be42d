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
	assert_output "direct 15 1"
	run gs_leaks_with_frame leak_getline
	assert_output "direct 120 1"
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
	assert_equal "$(LC_ALL=C sort <<<"$output")" "$(printf '%s\n' \
		"leak_new_array_cookie operator new[](unsigned long) true" \
		"leak_new_ints operator new[](unsigned long) true" \
		"leak_new_node operator new(unsigned long) true")"
}

@test "C++ delete and delete[] of the same objects leave no leaks (#2)" {
	run -0 gs_run leak_cpp_new free
	assert_clean_report
}

@test "C++ frames are demangled as LeakSanitizer shows them: a namespaced method, a template's method (#2)" {
	run -23 gs_run leak_cpp_demangle leak
	assert_leaks "$(printf '%s\n' \
		"direct ns::Registry<int>::add(int) 24 1" \
		"direct ns::Widget::make_buffer() 41 1")"
	run gs_jq '.leaks[] | "\(.stack[0].function) | \(.stack[0].mangled) | \(.stack[1].function) | \(.stack[1].mangled)"'
	assert_equal "$(LC_ALL=C sort <<<"$output")" "$(printf '%s\n' \
		"operator new(unsigned long) | _Znwm | ns::Registry<int>::add(int) | _ZN2ns8RegistryIiE3addEi" \
		"operator new[](unsigned long) | _Znam | ns::Widget::make_buffer() | _ZN2ns6Widget11make_bufferEv")"
}

@test "the demangled C++ objects deleted leave no leaks (#2)" {
	run -0 gs_run leak_cpp_demangle free
	assert_clean_report
}

@test "aligned and nothrow operator new and new[] are tracked with their caller and alignment (#2)" {
	run -23 gs_run leak_cpp_aligned_nothrow leak
	assert_line "aligned 1"
	assert_leaks "$(printf '%s\n' \
		"direct leak_new_aligned 192 1" \
		"direct leak_new_aligned_array 384 1" \
		"direct leak_new_aligned_nothrow 192 1" \
		"direct leak_new_nothrow 40 1" \
		"direct leak_new_nothrow_array 60 1")"
	run gs_jq '.leaks[] | "\(.stack[1].function) \(.stack[0].function)"'
	assert_equal "$(LC_ALL=C sort <<<"$output")" "$(printf '%s\n' \
		"leak_new_aligned operator new(unsigned long, std::align_val_t)" \
		"leak_new_aligned_array operator new[](unsigned long, std::align_val_t)" \
		"leak_new_aligned_nothrow operator new(unsigned long, std::align_val_t, std::nothrow_t const&)" \
		"leak_new_nothrow operator new(unsigned long, std::nothrow_t const&)" \
		"leak_new_nothrow_array operator new[](unsigned long, std::nothrow_t const&)")"
}

@test "the aligned, sized and nothrow deletes of the same objects leave no leaks (#2)" {
	run -0 gs_run leak_cpp_aligned_nothrow free
	assert_line "aligned 1"
	assert_clean_report
}

@test "blocks glibc allocates inside fopen, fgetc, qsort, pthread_create and dlopen are tracked and untracked when glibc frees them (#2)" {
	run -0 gs_run interpose_libc_calls
	assert_line "fopen blocks +1 bytes +472 tracked 1"
	assert_line --regexp '^fgetc blocks \+1 bytes \+[0-9]+ buffer [0-9]+$'
	read -r _ _ _ _ grown _ blksize <<<"$(grep '^fgetc ' <<<"$output")"
	assert_equal "$grown" "+$blksize"
	assert_line "fclose blocks +0 bytes +0"
	assert_line "qsort during blocks +1 bytes +16384"
	assert_line "qsort after blocks +0 bytes +0 allocs +1 frees +1"
	assert_line --regexp '^pthread_create blocks \+1 bytes \+[0-9]+ dtv [0-9]+$'
	read -r _ _ _ _ dtv _ expected <<<"$(grep '^pthread_create blocks' <<<"$output")"
	assert_equal "$dtv" "+$expected"
	assert_line "pthread_create again blocks +0 bytes +0"
	assert_line "dlopen libm.so.6 blocks +6 bytes +4162"
	assert_line "dlclose blocks +1 bytes +2304"
	assert_line "stdin tracked 0"
	assert_clean_report
}

@test "free of a block glibc handed out behind the shim's back is forwarded to glibc, same as without the shim (#2)" {
	run -0 gs_native interpose_foreign_free libc
	assert_output "reused 1"
	run -0 gs_run interpose_foreign_free libc
	assert_output "reused 1"
	assert_clean_report
	assert_equal "$(grep -c '"trigger":"misuse"' "$(gs_report)")" 0
}

@test "free of an mmap'ed page in glibc's mmapped-chunk layout is forwarded: glibc unmaps it, same as without the shim (#2)" {
	run -0 gs_native interpose_foreign_free mmap-chunk
	assert_output "released 1"
	run -0 gs_run interpose_foreign_free mmap-chunk
	assert_output "released 1"
	assert_clean_report
	assert_equal "$(grep -c '"trigger":"misuse"' "$(gs_report)")" 0
}

@test "realloc of a block the shim never saw returns a tracked block, reported when leaked (#2)" {
	run -23 gs_run interpose_foreign_free realloc
	assert_output "kept 1"
	assert_leaks "direct realloc_foreign_200 200 1"
	run -0 gs_run interpose_foreign_free realloc-free
	assert_output "kept 1"
	assert_clean_report "$(gs_reports | tail -n1)"
}

@test "free of a static buffer is reported as an invalid free, never reaches glibc, and the program goes on (#2)" {
	run -134 gs_native interpose_foreign_free static
	run -0 gs_run interpose_foreign_free static
	assert_output "still running"
	run jq -r 'select(.trigger == "misuse") | .errors[] | "\(.kind) \(.stack[1].function)"' "$(gs_report)"
	assert_output "invalid-free free_static_buffer"
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
