#!/usr/bin/env bats
# stress.bats: the shim under load (not a benchmark: nothing here asserts a
# time). 64 threads allocate, free, create+join threads, fork and take
# signals while scans run; every run is bounded by a deadline inside the
# program (3 s) and by `timeout` (GS_TIMEOUT, 60 s: status 124 = a hang).
# The figures (operations, threads, forks, signals, scans) go to stderr.
bats_require_minimum_version 1.5.0
load helper

# Hard bound per program run (s). A fork child that deadlocks inside the shim
# may block every signal but SIGKILL and would outlive timeout(1), keeping
# the bats pipe open: stress_run kills the whole session instead.
STRESS_TIMEOUT="${STRESS_TIMEOUT:-20}"

stress_alive() {
	local st
	st="$(ps -o stat= -p "$1" 2>/dev/null)" && [ "${st:0:1}" != Z ]
}

# stress_run PROG ARGS: like `run gs_run PROG ARGS` (STRESS_PRELOAD, if set,
# is preloaded before the shim), but the program runs in
# a session of its own; after STRESS_TIMEOUT s the session is SIGKILLed
# (status 124). Sets status, output, lines, stderr, and stragglers = the
# number of its processes (fork children) still alive when the parent
# exited (all SIGKILLed then).
stress_run() {
	local prog="$GS_PROGS/$1"
	shift
	local out="$BATS_TEST_TMPDIR/stdout" err="$BATS_TEST_TMPDIR/stderr"
	setsid env LD_PRELOAD="${STRESS_PRELOAD:+$STRESS_PRELOAD:}$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$BATS_TEST_TMPDIR/r.%p.json${EXTRA_OPTS:+:$EXTRA_OPTS}" \
		"$prog" "$@" >"$out" 2>"$err" &
	local pid=$! ticks=0
	while stress_alive "$pid" && [ "$ticks" -lt $((STRESS_TIMEOUT * 10)) ]; do
		sleep 0.1
		ticks=$((ticks + 1))
	done
	if stress_alive "$pid"; then
		kill -KILL -- -"$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		status=124
	else
		status=0
		wait "$pid" || status=$?
	fi
	sleep 0.2
	stragglers=$(pgrep -s "$pid" | wc -l || true)
	[ "$stragglers" -eq 0 ] || kill -KILL -- -"$pid" 2>/dev/null || true
	output="$(cat "$out")"
	stderr="$(cat "$err")"
	mapfile -t lines <"$out"
}

# stress_expect STATUS: the run ended with STATUS and left no process behind.
stress_expect() {
	[ "$status" != 124 ] || fail "hang: killed after ${STRESS_TIMEOUT} s (stdout: $(tr '\n' ' ' <<<"$output"))"
	[ "$stragglers" -eq 0 ] || fail "$stragglers fork child(ren) still alive after the parent exited (deadlocked in the child)"
	[ "$status" = "$1" ] || fail "exit status $status, want $1 (stderr: $(tail -c 1000 <<<"$stderr"))"
}

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
	stress_run stress_threads collect 3 -
	stress_expect 23
	stress_check
}

# Handlers that malloc are exercised on their own below, not together with
# forks: a handler that mallocs on a thread interrupted inside glibc's
# _int_malloc (arena lock held, e.g. in sysmalloc's mprotect) deadlocks in
# glibc itself whenever its tcache misses, shim or not, and a concurrent
# fork then waits for that arena lock forever (a CI run saw the native control
# hang that way too).
@test "64 threads allocating, creating+joining threads, forking and taking SIGUSR1 while gs_collect loops (#7)" {
	stress_run stress_threads collect 3 tfe
	stress_expect 23
	stress_check
}

@test "the same load with scan_interval=1 (background scans) instead of gs_collect (#7)" {
	EXTRA_OPTS=scan_interval=1
	stress_run stress_threads interval 3 tfe
	stress_expect 23
	stress_check
	local scans
	scans="$(sed -n 's/^scans //p' <<<"$output")"
	[ "${scans:-0}" -ge 1 ] || fail "no background scan ran (scans=${scans:-?})"
}

@test "the same load under incremental scans: gs_collect marks while 64 threads allocate, realloc, free, create threads, fork and take signals (#4, #7)" {
	EXTRA_OPTS=scan_mode=incremental:verbosity=2
	stress_run stress_threads collect 3 tfe
	stress_expect 23
	stress_check
	# the scans ran concurrently (a fallback would make this a full-scan test)
	grep -q 'incremental, pause' <<<"$stderr" || fail "no incremental scan ran: $(grep -m3 'scan\|incremental' <<<"$stderr")"
}

# Not tested: incremental scans with handlers that malloc. While such a scan
# runs, frees are deferred, so the tcache empties and a handler's malloc
# takes the arena lock far more often; when it interrupted a thread holding
# that lock (in sysmalloc's mprotect) glibc deadlocks, as described above.

@test "creating+joining threads while gs_collect loops (scan of mappings that change under it) (#7)" {
	stress_run stress_threads collect 3 t
	stress_expect 23
	stress_check
}

@test "forking while gs_collect loops (#7)" {
	stress_run stress_threads collect 3 f
	stress_expect 23
	stress_check
}

@test "signal handlers that malloc+free, interrupting threads inside the shim (#7)" {
	stress_run stress_threads none 3 m
	stress_expect 23
	stress_check
}

@test "stress_threads natively: same verdict lines without the shim (negative control) (#7)" {
	run -0 gs_native stress_threads collect 2 tfe
	assert_line "stats consistent"
	assert_line "children ok"
}

# Threads stopped inside malloc/free are scanned from their signal frames,
# which hold their registers: the block a thread has just been handed (only
# in a register so far) is reachable like the 16 each keeps on its stack.
@test "exit while 8 other threads are inside malloc/free: no crash or hang, exit 0, a clean exit report that saw their blocks (#7)" {
	stress_run stress_exit_in_malloc
	stress_expect 0
	assert_line "exiting"
	local f
	f="$(gs_report "$(gs_pid_from_output)")"
	assert_clean_report "$f"
	# the threads' 8 x 16 kept blocks were judged reachable, not missed
	[ "$(gs_jq '.summary.reachable_blocks' "$f")" -ge 128 ] ||
		fail "only $(gs_jq '.summary.reachable_blocks' "$f") reachable blocks"
}

@test "200 forks while 8 threads allocate heavily: every child mallocs and _exit(0)s, none deadlocks (#7)" {
	stress_run stress_fork_alloc
	stress_expect 0
	assert_line "forks 200 ok 200"
	assert_clean_report "$(gs_report "$(gs_pid_from_output)")"
}

# Deterministic: the program's __lsan_default_suppressions, which the shim's
# first leak check calls with its report lock held, keeps that lock until
# the forking thread is blocked in the shim's prepare handler (a futex wait)
# or its fork has returned.
@test "fork while another thread holds the shim's report lock: the fork waits for it, the child mallocs and runs two leak checks (#7)" {
	stress_run stress_fork_locked
	stress_expect 0
	assert_line "forked while locked"
	assert_line --regexp '^child pid [0-9]+ ok$'
	assert_line "child exited 0"
	local child
	child="$(sed -n -E 's/^child pid ([0-9]+) ok$/\1/p' <<<"$output")"
	assert_clean_report "$(gs_report "$(gs_pid_from_output)")"
	assert_clean_report "$(gs_report "$child")"
}

@test "negative control: with the shim's atfork handlers suppressed the same fork leaves the child blocked on the lock forever (#7)" {
	printf '%s\n' 'int __register_atfork(void (*p)(void), void (*a)(void), void (*c)(void), void *d);' \
		'int __register_atfork(void (*p)(void), void (*a)(void), void (*c)(void), void *d)' \
		'{ (void)p; (void)a; (void)c; (void)d; return 0; }' >"$BATS_TEST_TMPDIR/noatfork.c"
	cc -shared -fPIC -o "$BATS_TEST_TMPDIR/libnoatfork.so" "$BATS_TEST_TMPDIR/noatfork.c"
	STRESS_PRELOAD="$BATS_TEST_TMPDIR/libnoatfork.so" stress_run stress_fork_locked 2
	stress_expect 3
	assert_line "child stuck"
}

@test "scans stop threads that are inside libunwind (which blocks signals while it waits for the loader lock a scan holds): none is given up on (#4, #7)" {
	EXTRA_OPTS="verbosity=1" stress_run stress_stop_unwinding
	[ "$status" -eq 0 ]
	assert_line "collections 60"
	run grep -c "did not stop" "$BATS_TEST_TMPDIR/stderr"
	assert_output "0"
	assert_clean_report
}
