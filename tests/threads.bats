#!/usr/bin/env bats
# Threads: concurrent allocation, short-lived threads.
load helper
bats_require_minimum_version 1.5.0

@test "8 threads allocating at once, each leaking 10 blocks of 32 bytes, give one record of 80 blocks (#2)" {
	run -23 gs_run threads_concurrent leak
	assert_line "threads 8 allocations 8000"
	assert_leaks "direct thread_leak_32 2560 80"
}

@test "the same 8 threads freeing their blocks leave no leaks (#2)" {
	run -0 gs_run threads_concurrent free
	assert_clean_report
}

@test "100 threads that exit during the program leave no false leaks (#2)" {
	run -0 gs_run threads_short_lived clean
	assert_line "threads 100"
	assert_clean_report
}

@test "100 exited threads that each dropped one block give one record of 100 blocks (#2)" {
	run -23 gs_run threads_short_lived leak
	assert_leaks "direct short_thread_leak_16 1600 100"
}
