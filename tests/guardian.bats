#!/usr/bin/env bats
# Guardians: queueing of unreachable registered blocks, polling, resurrection,
# re-registration, several guardians, gs_guardian_free.
load helper
bats_require_minimum_version 1.5.0

@test "dropped guarded blocks are polled FIFO across scans, still allocated with their children (#3)" {
	run -0 gs_run guardian_poll basic
	refute_line --partial "FAIL"
	[ "${lines[0]}" = "polled A" ] && [ "${lines[1]}" = "polled B" ] && [ "${lines[2]}" = "poll NULL" ] \
		|| fail "order: ${lines[*]}"
	assert_clean_report
}

@test "a guarded block that stays reachable is never queued (#3)" {
	run -0 gs_run guardian_poll reachable
	assert_line "poll NULL"
	refute_line --partial "polled"
	assert_clean_report
}

@test "a polled block resurrected and re-registered is queued again when dropped again (#3)" {
	run -0 gs_run guardian_poll reregister
	assert_line "polled A"
	assert_line "polled again A"
	assert_clean_report
}

@test "without re-registration the resurrected block is not queued again and leaks at exit (#3)" {
	run -23 gs_run guardian_poll used-up
	assert_line "polled again NULL"
	assert_leaks "$(printf '%s\n' "direct guarded_block 64 1" "indirect guarded_child 32 1")"
}

@test "a block registered with two guardians is queued on both (#3)" {
	run -0 gs_run guardian_poll two-guardians
	assert_line "g1 A"
	assert_line "g2 A"
	assert_line "guardian_poll: ok"
}

@test "a block registered twice with one guardian is polled twice, then NULL (#3)" {
	run -0 gs_run guardian_poll twice
	assert_line "first A"
	assert_line "second A"
	assert_line "third NULL"
}

@test "a queued block never polled is the guardian's, not a leak (#3)" {
	run -0 gs_run guardian_poll unpolled
	assert_clean_report
}

@test "gs_guardian_free turns its queued block back into an ordinary leak (#3)" {
	run -23 gs_run guardian_poll free-guardian
	assert_leaks "$(printf '%s\n' "direct guarded_block 64 1" "indirect guarded_child 32 1")"
}

@test "guarded blocks dropped by allocating threads are polled exactly once while several threads collect at once (#3)" {
	GS_TIMEOUT=30
	run -0 gs_run finalizer_threads 2 2 1500
	assert_line "made 1500 finalizable 1500 guarded"
	assert_line "finalized 1500 polled 1500"
	assert_line "finalizer_threads: ok"
}

@test "a block freed after one guardian returned it leaves the other's poll loop with exactly the remaining block (#3)" {
	run -0 gs_run guardian_poll freed-while-queued
	refute_line --partial "FAIL"
	assert_line "g1 A"
	assert_line "g2 B"
	refute_line "g2 A"
	assert_line "g2 loop 1"
	assert_clean_report
}

@test "the same poll loop without the free returns both blocks (#3)" {
	run -0 gs_run guardian_poll kept-while-queued
	assert_line "g2 A"
	assert_line "g2 B"
	assert_line "g2 loop 2"
	assert_clean_report
}
