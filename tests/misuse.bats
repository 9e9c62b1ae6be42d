#!/usr/bin/env bats
# Heap misuse by the program: reported once, with the stacks that matter, and survived.
load helper
bats_require_minimum_version 1.5.0

@test "double free, invalid frees, an interior free and realloc of a freed block are each reported once and the program goes on (#7)" {
	run -0 gs_run misuse_heap all
	assert_line "still running"
	assert_line "realloc of freed -> NULL"
	local r
	r="$(cat "$BATS_TEST_TMPDIR"/r.*.json)"
	run jq -r 'select(.trigger=="misuse") | .errors[] | "\(.kind) \(.stack[1].function)"' <<<"$r"
	assert_output "double-free free_twice
invalid-free misuse_all
invalid-free misuse_all
interior-free misuse_all
realloc-freed misuse_all"
}

@test "a double free names where the block was allocated and where it was freed first (#7)" {
	run -0 gs_run misuse_heap all
	run jq -r 'select(.trigger=="misuse") | .errors[] | select(.kind=="double-free") |
		"\(.size) \(.alloc_stack[1].function) \(.free_stack[0].function)"' "$BATS_TEST_TMPDIR"/r.*.json
	assert_output "48 alloc_48 free_once"
}

@test "an interior free names the block it points into (#7)" {
	run -0 gs_run misuse_heap all
	run jq -r 'select(.trigger=="misuse") | .errors[] | select(.kind=="interior-free") |
		"\((.address|ltrimstr("0x")|explode|length) > 0) \(.size)"' "$BATS_TEST_TMPDIR"/r.*.json
	assert_output "true 64"
}

@test "the same program using the heap correctly gets no misuse report (#7)" {
	run -0 gs_run misuse_heap none
	assert_line "still running"
	run jq -r 'select(.trigger=="misuse")' "$BATS_TEST_TMPDIR"/r.*.json
	assert_output ""
}

@test "the text report shows the misuse in AddressSanitizer's shape (#7)" {
	run -0 timeout 60 env LD_PRELOAD="$GS_LIB" "$(_gs_prog misuse_heap)" all
	assert_output --partial "ERROR: guardshim: attempting double-free on 0x"
	assert_output --partial "is a 48-byte region freed by:"
	assert_output --partial "previously allocated by:"
	assert_output --partial "attempting free on address which was not malloc()-ed"
	assert_output --partial "is located 16 bytes inside of 64-byte region allocated by:"
	assert_output --partial "attempting realloc of freed memory"
}

@test "abort_on_error=1 aborts at the first misuse (#7)" {
	EXTRA_OPTS="abort_on_error=1" run -134 gs_run misuse_heap all
	refute_output --partial "still running"
}
