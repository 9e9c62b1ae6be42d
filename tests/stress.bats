#!/usr/bin/env bats
# stress.bats: the shim under load (not a benchmark: nothing here asserts a
# time). 64 threads allocate, free, create+join threads, fork and take
# signals while scans run; every run is bounded by a deadline inside the
# program (3 s) and by `timeout` (GS_TIMEOUT, 60 s: status 124 = a hang).
# The figures (operations, threads, forks, signals, scans) go to stderr.
bats_require_minimum_version 1.5.0
load helper

# stress_check OUTPUT-PID: the counters were consistent, no child died of a
# signal, and the parent's exit report holds exactly the 64 dropped blocks.
stress_check() {
	assert_line "stats consistent"
	assert_line "children ok"
	local pid
	pid="$(gs_pid_from_output)"
	[ -n "$pid" ] || fail "no pid line"
	assert_leaks "direct stress_leak_40 2560 64" "$(gs_report "$pid")"
}

@test "64 threads doing malloc/calloc/realloc/free while a thread calls gs_collect in a loop: no hang, counters consistent, exact report (#7)" {
	run -23 gs_run stress_threads collect 3 -
	stress_check
}

@test "64 threads allocating, creating+joining threads, forking and taking SIGUSR1 (empty handler) and SIGUSR2 (malloc+free handler) while gs_collect loops (#7)" {
	run -23 gs_run stress_threads collect 3 tfem
	stress_check
	echo "# $(grep '^figures' <<<"$stderr" || true)" >&3
}

@test "the same load with scan_interval=1 (background scans) instead of gs_collect (#7)" {
	EXTRA_OPTS=scan_interval=1
	run -23 gs_run stress_threads interval 3 tfem
	stress_check
	local scans
	scans="$(sed -n 's/^scans //p' <<<"$output")"
	[ "${scans:-0}" -ge 1 ] || fail "no background scan ran in 3 s (scans=${scans:-?})"
}

@test "creating+joining threads while gs_collect loops (scan of mappings that change under it) (#7)" {
	run -23 gs_run stress_threads collect 3 t
	stress_check
}

@test "forking while gs_collect loops (#7)" {
	run -23 gs_run stress_threads collect 3 f
	stress_check
}

@test "signal handlers that malloc+free, interrupting threads inside the shim (#7)" {
	run -23 gs_run stress_threads none 3 m
	stress_check
}

@test "stress_threads natively: same verdict lines without the shim (negative control) (#7)" {
	run -0 gs_native stress_threads collect 2 tfem
	assert_line "stats consistent"
	assert_line "children ok"
}

@test "exit while 8 other threads are inside malloc/free: no crash or hang, the exit report is written (#7)" {
	run gs_run stress_exit_in_malloc
	[ "$status" = 0 ] || [ "$status" = 23 ] || fail "status $status (124 = hang, >128 = signal)"
	assert_line "exiting"
	local f
	f="$(gs_report "$(gs_pid_from_output)")"
	assert_equal "$(jq -r 'select(.trigger == "exit") | .trigger' "$f")" "exit"
}

@test "200 forks while 8 threads allocate heavily: every child mallocs and _exit(0)s, none deadlocks (#7)" {
	run -0 gs_run stress_fork_alloc
	assert_line "forks 200 ok 200"
	assert_clean_report "$(gs_report "$(gs_pid_from_output)")"
}
