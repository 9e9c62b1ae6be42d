#!/usr/bin/env bats
# Roots: globals, statics, bss, long heap chains, other threads' stacks, static
# and dynamic TLS, dlopen'ed libraries' data.
load helper
bats_require_minimum_version 1.5.0

@test "a block kept in an initialised global (.data) is reachable (#2)" {
	run -0 gs_run roots_global data
	assert_clean_report
}

@test "a block kept in a static local is reachable (#2)" {
	run -0 gs_run roots_global static
	assert_clean_report
}

@test "a block kept in a bss array is reachable (#2)" {
	run -0 gs_run roots_global bss
	assert_clean_report
}

@test "clearing the .data, static or bss root makes the same block a direct leak (#2)" {
	for mode in data-clear static-clear bss-clear; do
		rm -f "$BATS_TEST_TMPDIR"/r.*.json
		run -23 gs_run roots_global "$mode"
		assert_leaks "direct alloc_rooted_80 80 1"
	done
}

@test "a 10,000-node chain hanging off a global is reachable to its end (#2)" {
	run -0 gs_run roots_heap_chain keep
	assert_clean_report
}

@test "dropping the chain's head leaks it as 1 direct block and 9999 indirect ones in one record (#2)" {
	run -23 gs_run roots_heap_chain drop
	assert_leaks "$(printf '%s\n' \
		"direct chain_node 32 1" \
		"indirect chain_node 319968 9999")"
}

@test "a pointer on the stack of a blocked thread keeps its block reachable while main exits (#2)" {
	run -0 gs_run roots_thread_stack keep
	assert_clean_report
}

@test "the blocked thread that keeps nothing on its stack leaves a direct leak (#2)" {
	run -23 gs_run roots_thread_stack none
	assert_leaks "direct thread_alloc_64 64 1"
}

@test "a __thread variable of the main program is a root for the main thread (#2)" {
	run -0 gs_run roots_tls main
	assert_clean_report
}

@test "a __thread variable of a live thread is a root (#2)" {
	run -0 gs_run roots_tls thread
	assert_clean_report
}

@test "clearing the __thread variable makes the block a direct leak (main and thread) (#2)" {
	run -23 gs_run roots_tls main-clear
	assert_leaks "direct alloc_tls_main_72 72 1"
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -23 gs_run roots_tls thread-clear
	assert_leaks "direct alloc_tls_thread_88 88 1"
}

@test "pthread_setspecific values are roots for keys past the first 32, main thread and live thread (#2)" {
	run -0 gs_run roots_tsd_keys main
	assert_clean_report
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -0 gs_run roots_tsd_keys thread
	assert_clean_report
}

@test "clearing the key's value makes the block a direct leak (main and thread) (#2)" {
	run -23 gs_run roots_tsd_keys main-clear
	assert_leaks "direct tsd_alloc_main_99 99 1"
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -23 gs_run roots_tsd_keys thread-clear
	assert_leaks "direct tsd_alloc_thread_77 77 1"
}

@test "a __thread variable of a dlopen'ed library is a root for the main thread (#2)" {
	run -0 gs_run roots_tls_dynamic main
	assert_line "slot set"
	assert_clean_report
}

@test "a __thread variable of a dlopen'ed library is a root for a blocked thread (#2)" {
	run -0 gs_run roots_tls_dynamic thread
	assert_line "slot set"
	assert_clean_report
}

@test "clearing the dlopen'ed library's __thread variable makes the block a direct leak (#2)" {
	run -23 gs_run roots_tls_dynamic main-clear
	assert_line "slot empty"
	assert_leaks "direct alloc_tls_dyn_104 104 1"
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -23 gs_run roots_tls_dynamic thread-clear
	assert_leaks "direct alloc_tls_dyn_104 104 1"
}

@test "a pointer in the .bss or .data of a dlopen'ed library keeps its block reachable (#2)" {
	run -0 gs_run roots_dlopen_data bss
	assert_clean_report
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -0 gs_run roots_dlopen_data data
	assert_clean_report
}

@test "clearing the dlopen'ed library's pointer makes the block a direct leak (#2)" {
	run -23 gs_run roots_dlopen_data clear
	assert_leaks "direct alloc_lib_kept_112 112 1"
}

@test "a leak made in a library dlclose'd before exit is reported with the library's function (#2)" {
	run -23 gs_run leak_dlclosed_lib leak
	assert_line "unloaded yes"
	assert_leaks "direct leaker_leak_56 56 1"
}

@test "the dlclose'd library's frame keeps its module path and offset (#2)" {
	run -23 gs_run leak_dlclosed_lib leak
	run gs_jq '.leaks[0].stack[] | select(.function == "leaker_leak_56") | "\(.module) \(.offset)"'
	assert_output --regexp '/libleaker\.so 0x[0-9a-f]+$'
}

@test "the dlclose'd library's frame keeps its source file and the line of the malloc (#2)" {
	run -23 gs_run leak_dlclosed_lib leak
	assert_line "unloaded yes"
	src="$GS_ROOT/tests/programs/libleaker.c"
	line="$(grep -n 'malloc(56)' "$src" | cut -d: -f1)"
	run gs_jq '.leaks[0].stack[] | select(.function == "leaker_leak_56") | "\(.file):\(.line)"'
	# as DWARF names it: relative to the build directory, or absolute
	assert_output --regexp "^($GS_ROOT/)?tests/programs/libleaker\.c:$line\$"
}

@test "a block whose only root was in a library's data becomes a leak when the library is dlclose'd (#2)" {
	run -23 gs_run leak_dlclosed_lib keep
	assert_line "unloaded yes"
	assert_leaks "direct leaker_keep_64 64 1"
}

@test "the library that frees its blocks before dlclose leaves no leak (#2)" {
	run -0 gs_run leak_dlclosed_lib free
	assert_line "unloaded yes"
	assert_clean_report
}

@test "blocks whose only references are the slots of a calloc'd array kept in a global are reachable (#2)" {
	run -0 gs_run roots_calloc_array keep
	assert_line "array kept"
	assert_clean_report
}

@test "dropping the calloc'd array makes it direct and the blocks it held one indirect record (#2)" {
	run -23 gs_run roots_calloc_array drop
	assert_line "array dropped"
	assert_leaks "$(printf '%s\n' \
		"direct alloc_pointer_array_64 64 1" \
		"indirect alloc_element_24 192 8")"
}

@test "zeroing the kept array's slots makes the blocks it held direct leaks (#2)" {
	run -23 gs_run roots_calloc_array clear-slots
	assert_line "array kept"
	assert_leaks "direct alloc_element_24 192 8"
}
