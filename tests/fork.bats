#!/usr/bin/env bats
# fork and exec: each process writes its own report.
load helper
bats_require_minimum_version 1.5.0

@test "parent and child of a fork each report exactly their own leak in their own file (#2)" {
	run -23 gs_run fork_child_leak leak
	assert_line "child status 23"
	ppid="$(gs_pid_from_output "parent pid")"
	cpid="$(gs_pid_from_output "child pid")"
	assert [ -n "$ppid" ]
	assert [ -n "$cpid" ]
	assert [ "$ppid" != "$cpid" ]
	assert_equal "$(gs_reports | wc -l)" 2
	assert_leaks "direct parent_leak_24 24 1" "$(gs_report "$ppid")"
	assert_leaks "direct child_leak_40 40 1" "$(gs_report "$cpid")"
	assert_equal "$(gs_jq .pid "$(gs_report "$cpid")")" "$cpid"
	assert_equal "$(gs_jq .pid "$(gs_report "$ppid")")" "$ppid"
}

@test "parent and child that free their blocks each write a report with no leaks (#2)" {
	run -0 gs_run fork_child_leak clean
	assert_line "child status 0"
	ppid="$(gs_pid_from_output "parent pid")"
	cpid="$(gs_pid_from_output "child pid")"
	assert_clean_report "$(gs_report "$ppid")"
	assert_clean_report "$(gs_report "$cpid")"
}

@test "a program exec'ed under the inherited LD_PRELOAD writes its own report with only its leak (#2)" {
	run -23 gs_run exec_leaky leak
	pid="$(gs_pid_from_output "exec pid")"
	assert_line "pid $pid"
	assert_equal "$(gs_reports | wc -l)" 1
	assert_leaks "direct leak_direct_48 48 1" "$(gs_report "$pid")"
	run gs_jq .exe "$(gs_report "$pid")"
	assert_output --regexp '/leak_direct$'
}

@test "the exec'ed program that frees its block reports no leaks (#2)" {
	run -0 gs_run exec_leaky free
	pid="$(gs_pid_from_output "exec pid")"
	assert_clean_report "$(gs_report "$pid")"
}
