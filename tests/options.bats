#!/usr/bin/env bats
# GUARDSHIM_OPTIONS (DESIGN §3): parsing, bad input, exitcode, leak_check_at_exit,
# stack_depth, log_path.
load helper
bats_require_minimum_version 1.5.0

@test "an unknown option gives one stderr line naming it and the program and its report go on (#2)" {
	EXTRA_OPTS="bogus=1" run --separate-stderr -23 gs_run leak_direct leak
	assert_line --regexp '^leak_direct_48 0x'
	assert_equal "$(grep -c . <<<"$stderr")" 1
	assert_equal "$(grep -c bogus <<<"$stderr")" 1
	assert_leaks "direct leak_direct_48 48 1"
}

@test "a bad exitcode value gives one stderr line naming exitcode and the default 23 is kept (#2)" {
	EXTRA_OPTS="exitcode=abc" run --separate-stderr -23 gs_run leak_direct leak
	assert_equal "$(grep -c . <<<"$stderr")" 1
	assert_equal "$(grep -c exitcode <<<"$stderr")" 1
	assert_leaks "direct leak_direct_48 48 1"
}

@test "good options print nothing on stderr (#2)" {
	EXTRA_OPTS="exitcode=23:stack_depth=16" run --separate-stderr -23 gs_run leak_direct leak
	assert_equal "$stderr" ""
}

@test "options may be separated by commas (#2)" {
	run -9 timeout 60 env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json,log_path=$BATS_TEST_TMPDIR/r.%p.json,exitcode=9" \
		"$GS_PROGS/leak_direct" leak
	assert_leaks "direct leak_direct_48 48 1"
}

@test "exitcode=0 leaves the program's status alone but still reports the leak (#2)" {
	EXTRA_OPTS="exitcode=0" run -0 gs_run leak_direct leak
	assert_leaks "direct leak_direct_48 48 1"
	EXTRA_OPTS="exitcode=0" run -5 gs_run leak_direct leak 5
}

@test "exitcode=7 makes a leaking program exit 7 (#2)" {
	EXTRA_OPTS="exitcode=7" run -7 gs_run leak_direct leak
	assert_leaks "direct leak_direct_48 48 1"
}

@test "leak_check_at_exit=0 writes no report and keeps the exit status (#2)" {
	EXTRA_OPTS="leak_check_at_exit=0" run --separate-stderr -0 gs_run leak_direct leak
	assert_equal "$(gs_reports)" ""
	assert_equal "$stderr" ""
	# control: leak_check_at_exit=1 (the default, spelled out) checks
	EXTRA_OPTS="leak_check_at_exit=1" run -23 gs_run leak_direct leak
	assert_leaks "direct leak_direct_48 48 1"
}

@test "stack_depth=2 records exactly the entry point and the allocating function (#2)" {
	EXTRA_OPTS="stack_depth=2" run -23 gs_run leak_direct leak
	assert_leaks "direct leak_direct_48 48 1"
	run gs_jq '.leaks[0].stack | "\(length) \(.[0].function) \(.[1].function)"'
	assert_output "2 malloc leak_direct_48"
}

@test "the default stack depth reaches past the allocating function up to main (#2)" {
	run -23 gs_run leak_direct leak
	run gs_jq '.leaks[0].stack | "\(length > 2) \(any(.[]; .function == "work")) \(any(.[]; .function == "main"))"'
	assert_output "true true true"
}

@test "stack_depth=1 keeps one frame per stack (#2)" {
	EXTRA_OPTS="stack_depth=1" run -23 gs_run leak_direct leak
	run gs_jq '[.leaks[].stack | length] | map(tostring) | join(" ")'
	assert_output "1"
}

@test "stack_depth out of 1..64 gives a stderr line naming stack_depth and the default is kept (#2)" {
	for bad in 0 65 x; do
		rm -f "$BATS_TEST_TMPDIR"/r.*.json
		EXTRA_OPTS="stack_depth=$bad" run --separate-stderr -23 gs_run leak_direct leak
		assert_equal "$(grep -c stack_depth <<<"$stderr")" 1
		run gs_jq '.leaks[0].stack | any(.[]; .function == "main")'
		assert_output true
	done
}

@test "log_path expands %p to the pid and %% to a percent sign (#2)" {
	run -23 timeout 60 env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$BATS_TEST_TMPDIR/x%%y.%p.json" \
		"$GS_PROGS/leak_direct" leak
	pid="$(gs_pid_from_output pid)"
	assert [ -f "$BATS_TEST_TMPDIR/x%y.$pid.json" ]
	assert_leaks "direct leak_direct_48 48 1" "$BATS_TEST_TMPDIR/x%y.$pid.json"
}
