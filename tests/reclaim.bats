#!/usr/bin/env bats
# reclaim=1: blocks unreachable in two consecutive scans are freed, never a
# reachable one.
load helper
bats_require_minimum_version 1.5.0

@test "with reclaim=1 a dropped block and its child are freed at the second scan and not reported (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans drop
	assert_line "scan1 2"
	assert_line "scan2 0"
	assert_clean_report
}

@test "without reclaim the same blocks stay allocated and are reported at exit (#3)" {
	run -23 gs_run reclaim_two_scans drop
	assert_line "scan2 2"
	assert_leaks "$(printf '%s\n' "direct reclaim_victim_64 64 1" "indirect reclaim_child_32 32 1")"
}

@test "a block reachable again between two scans is not reclaimed; the count restarts (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans rescue
	assert_line "scan2 2"
	assert_line "scan3 2"
	assert_line "scan4 0"
	assert_clean_report
}

@test "gs_check_leaks counts as the first of the two scans (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans check-leaks
	assert_line "check 2"
	assert_line "scan2 0"
}

@test "a block reached only through an interior pointer (possible) is never reclaimed (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans possible
	assert_line "scan3 2"
	assert_clean_report
}

@test "random graphs: reclaim frees exactly the unreachable blocks and never damages a reachable one (#3)" {
	EXTRA_OPTS=reclaim=1
	local seed
	for seed in 1 2 3 42; do
		rm -f "$BATS_TEST_TMPDIR"/r.*.json
		run -0 gs_run reclaim_random_graph "$seed" 4000
		refute_line --partial "FAIL"
		assert_line "reclaim_random_graph: ok"
		assert_line "phase 3 reachable 0 live 0"
		assert_clean_report
	done
}

@test "without reclaim the random graph's unreachable blocks stay live (#3)" {
	run -23 gs_run reclaim_random_graph 1 4000
	assert_line "phase 3 reachable 0 live 4000"
}

@test "the reclaim checker catches a reachable block freed because its root was hidden from the scanner (#3)" {
	EXTRA_OPTS=reclaim=1
	run -1 gs_run reclaim_random_graph 1 4000 hidden-root
	assert_line --partial "damaged or freed"
}

@test "a guarded block and its child survive many scans under reclaim=1 until polled (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run guardian_poll basic
	refute_line --partial "FAIL"
	assert_line "polled A"
	assert_line "polled B"
	assert_clean_report
}

@test "a block whose finalizer was cleared is reclaimed like any other (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans finalizer-cleared
	refute_line --partial "FAIL"
	assert_line "scan1 2"
	assert_line "scan2 0"
	assert_line "drained 0"
	assert_clean_report
}

@test "a block that keeps its finalizer is never reclaimed; gs_drain finalizes it (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans finalizer-kept
	assert_line "scan3 2"
	assert_line "drained 1"
	assert_line "finalized 1 live 0"
	assert_clean_report
}

@test "a queued block whose guardian was freed, and a polled block dropped again, are reclaimed (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans guardian-freed
	refute_line --partial "FAIL"
	assert_line "scan1 2"
	assert_line "scan2 2"
	assert_line "scan3 0"
	assert_line "polled NULL"
	assert_clean_report
	run -0 gs_run reclaim_two_scans polled-dropped
	refute_line --partial "FAIL"
	assert_line "scan3 0"
	assert_line "polled NULL"
}

@test "while its guardian lives, or once re-registered after a poll, a block is queued instead of reclaimed (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans guardian-kept
	assert_line "scan3 2"
	assert_line "polled victim"
	assert_clean_report
	run -0 gs_run reclaim_two_scans polled-reregistered
	refute_line --partial "FAIL"
	assert_line "scan3 2"
	assert_line "polled victim"
}

@test "gs_drain runs the second scan when the last scan left leaks, and frees them; a second drain scans no more (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans drain
	refute_line --partial "FAIL"
	assert_line "scan1 2 scans 1"
	assert_line "drain1 0 scans 2"
	assert_line "drain2 0 scans 2"
	assert_clean_report
}

@test "gs_drain scans nothing when the last scan found nothing unreachable, or without reclaim (#3)" {
	EXTRA_OPTS=reclaim=1
	run -0 gs_run reclaim_two_scans drain-reachable
	assert_line "drain1 2 scans 1"
	assert_line "drain2 2 scans 1"
	assert_clean_report
	unset EXTRA_OPTS
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -23 gs_run reclaim_two_scans drain
	assert_line "drain1 2 scans 1"
	assert_leaks "$(printf '%s\n' "direct reclaim_victim_64 64 1" "indirect reclaim_child_32 32 1")"
}

@test "the scan_interval thread alone reclaims 1000 dropped blocks by its third scan (#3)" {
	EXTRA_OPTS=reclaim=1:scan_interval=1
	run -0 gs_run reclaim_interval drop
	refute_line --partial "FAIL"
	assert_line "scans>=3 live 0"
	[ "$(gs_jq '.leaks | length')" = 0 ] || fail "leaks reported at exit"
}

@test "the interval thread keeps 1000 reachable blocks, and frees nothing without reclaim (#3)" {
	EXTRA_OPTS=reclaim=1:scan_interval=1
	run -0 gs_run reclaim_interval keep
	assert_line "scans>=3 live 1000"
	[ "$(gs_jq '.leaks | length')" = 0 ] || fail "leaks reported at exit"
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	EXTRA_OPTS=scan_interval=1
	run -23 gs_run reclaim_interval drop
	assert_line "scans>=3 live 1000"
	assert_leaks "direct interval_leak_1024 1024000 1000"
}
