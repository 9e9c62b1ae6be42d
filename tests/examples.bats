#!/usr/bin/env bats
# The examples in examples/ (built by make) under the shim and without it.
load helper
bats_require_minimum_version 1.5.0

@test "event_loop_guardian frees every request through its guardian and exits clean (#3)" {
	run -0 gs_run_example event_loop_guardian 1000 100
	assert_line "events 1000 registered 1000 freed_by_guardian 1000"
	assert_clean_report
}

@test "event_loop_guardian without the shim frees requests itself (#3)" {
	run -0 gs_native_example event_loop_guardian 1000 100
	assert_line "events 1000 registered 0 freed_by_guardian 0"
}

@test "wrapper_finalizer releases the fd and buffer of every forgotten wrapper in its finalizer (#3)" {
	run -0 gs_run_example wrapper_finalizer 200
	assert_line "wrappers 200 kept 20 finalized 180"
	assert_line --regexp '^fds before ([0-9]+) after \1$'
	assert_clean_report
}

@test "wrapper_finalizer without the shim runs no finalizer and closes by hand (#3)" {
	run -0 gs_native_example wrapper_finalizer 200
	assert_line "wrappers 200 kept 20 finalized 0"
	assert_line --regexp '^fds before ([0-9]+) after \1$'
}

@test "reclaim_loop's RSS stays flat under reclaim=1 (#3)" {
	EXTRA_OPTS=reclaim=1
	run -23 gs_run_example reclaim_loop 2000 50 16384
	local growth
	growth="$(sed -n 's/.*growth \(-\{0,1\}[0-9]*\)$/\1/p' <<<"$output")"
	[ -n "$growth" ] && [ "$growth" -lt 8192 ] || fail "RSS grew by $growth KiB: $output"
}

@test "reclaim_loop's RSS grows by the leaked 32 MiB without reclaim (#3)" {
	run -23 gs_run_example reclaim_loop 2000 50 16384
	local growth
	growth="$(sed -n 's/.*growth \(-\{0,1\}[0-9]*\)$/\1/p' <<<"$output")"
	[ -n "$growth" ] && [ "$growth" -gt 24576 ] || fail "RSS grew by only $growth KiB: $output"
}
