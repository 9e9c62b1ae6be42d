#!/usr/bin/env bats
# Direct, indirect, cycle and possible leaks: exact records and their negative controls.
load helper
bats_require_minimum_version 1.5.0

@test "a dropped malloc block is one direct leak with the allocating function, exit 23 (#2)" {
	run -23 gs_run leak_direct leak
	assert_line --regexp '^leak_direct_48 0x[0-9a-f]+$'
	assert_leaks "direct leak_direct_48 48 1"
}

@test "the same block freed gives a report with no leaks and exit 0 (#2)" {
	run -0 gs_run leak_direct free
	assert_clean_report
}

@test "the same block kept in a global is not reported (#2)" {
	run -0 gs_run leak_direct keep
	assert_clean_report
}

@test "a lost list head is direct and the nodes behind it are one indirect record (#2)" {
	run -23 gs_run leak_indirect_list lost
	assert_leaks "$(printf '%s\n' \
		"direct alloc_list_head 32 1" \
		"indirect alloc_list_node 96 4")"
}

@test "a list whose head stays in a global is not reported (#2)" {
	run -0 gs_run leak_indirect_list keep
	assert_clean_report
}

@test "a global pointing into the middle of a list leaks only what is in front of it (#2)" {
	run -23 gs_run leak_indirect_list keep-node2
	assert_leaks "$(printf '%s\n' \
		"direct alloc_list_head 32 1" \
		"indirect alloc_list_node 24 1")"
}

@test "a leaked 2-block cycle is one direct cycle record and one indirect block (#2)" {
	run -23 gs_run leak_cycle 2
	assert_leaks "$(printf '%s\n' \
		"direct cycle_node 40 1" \
		"indirect cycle_node 40 1")"
	run gs_jq '[.leaks[] | select(.kind == "direct") | .cycle] | map(tostring) | join(",")'
	assert_output "true"
}

@test "a leaked 3-block cycle is one direct cycle record and two indirect blocks (#2)" {
	run -23 gs_run leak_cycle 3
	assert_leaks "$(printf '%s\n' \
		"direct cycle_node 40 1" \
		"indirect cycle_node 80 2")"
	run gs_jq '[.leaks[] | select(.kind == "direct") | .cycle] | map(tostring) | join(",")'
	assert_output "true"
}

@test "a cycle a global points into is not reported (2 and 3 blocks) (#2)" {
	run -0 gs_run leak_cycle keep2
	assert_clean_report
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -0 gs_run leak_cycle keep3
	assert_clean_report
}

@test "a plain direct leak is not marked as a cycle (#2)" {
	run -23 gs_run leak_direct leak
	run gs_jq '[.leaks[] | .cycle // false] | map(tostring) | join(",")'
	assert_output "false"
}

@test "a block reached only through an interior pointer is a possible leak (#2)" {
	run -23 gs_run leak_possible_interior interior
	assert_leaks "possible alloc_interior_64 64 1"
}

@test "the same block reached through its start pointer is not reported (#2)" {
	run -0 gs_run leak_possible_interior start
	assert_clean_report
}

@test "the same block with no pointer at all is direct, not possible (#2)" {
	run -23 gs_run leak_possible_interior none
	assert_leaks "direct alloc_interior_64 64 1"
}

# C : A, B with vtables: B sits at offset 16 of the 40-byte object, so a
# B * is an interior pointer that Valgrind's multipleinheritance heuristic
# (and LeakSanitizer) accept as a reference.
@test "a global B * into a new C (C : A, B; B at offset 16 of 40) keeps the object reachable (#2)" {
	run -0 gs_run leak_cpp_multiple_inheritance keep
	assert_line "B at offset 16 of 40"
	assert_clean_report
}

@test "the same multiple-inheritance object with no pointer left is a direct leak of 40 bytes (#2)" {
	run -23 gs_run leak_cpp_multiple_inheritance drop
	assert_line "B at offset 16 of 40"
	assert_leaks "direct alloc_multiple_inheritance_40 40 1"
}
