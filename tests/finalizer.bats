#!/usr/bin/env bats
# Finalizers: Boehm order, exactly once, never while reachable (random graphs),
# cycles reported, drains from several threads.
load helper
bats_require_minimum_version 1.5.0

@test "an unreachable finalizable chain A→B→C is finalized one block per collect+drain round, in order (#3)" {
	run -0 gs_run finalizer_order chain
	[ "$(printf '%s\n' "${lines[@]}" | grep '^round')" = "$(printf '%s\n' "round 1: A" "round 2: B" "round 3: C")" ] \
		|| fail "got: ${lines[*]}"
	assert_line "finalizer_order: ok"
	assert_clean_report
}

@test "order holds through a plain block between two finalizable ones (#3)" {
	run -0 gs_run finalizer_order via
	assert_line "round 1: A"
	assert_line "round 2: B"
	assert_clean_report
}

@test "a self-pointer does not block finalization (#3)" {
	run -0 gs_run finalizer_order self
	assert_line "round 1: S"
	assert_clean_report
}

@test "a rooted finalizable block is never finalized; dropped, it is finalized once (#3)" {
	run -0 gs_run finalizer_order keep
	assert_line "round 1: K"
	assert_line "finalizer_order: ok"
}

@test "a finalizable cycle is never finalized and is reported at exit as a cycle (#3)" {
	run -23 gs_run finalizer_order cycle
	refute_line --partial "round"
	assert_leaks "$(printf '%s\n' "direct fin_node 48 1" "indirect fin_node 48 1")"
	[ "$(gs_jq '[.leaks[] | select(.cycle == true)] | length')" = 1 ]
}

@test "the same two blocks without the back edge are finalized X then Y (#3)" {
	run -0 gs_run finalizer_order cycle-broken
	assert_line "round 1: X"
	assert_line "round 2: Y"
	assert_clean_report
}

@test "random graphs: finalizers run exactly once, never while reachable, in order, and all that can run do (#3)" {
	local seed
	for seed in 1 2 3 42 20260101; do
		rm -f "$BATS_TEST_TMPDIR"/r.*.json
		run -0 gs_run finalizer_random_graph "$seed" 4000
		refute_line --partial "FAIL"
		assert_line "finalizer_random_graph: ok"
		assert_clean_report
	done
}

@test "a larger random graph (20,000 blocks) passes the same checks (#3)" {
	run -0 gs_run finalizer_random_graph 7 20000
	assert_line "finalizer_random_graph: ok"
}

@test "a random graph whose every block stays rooted runs no finalizer (#3)" {
	run -0 gs_run finalizer_random_graph 5 4000 keep
	assert_line --regexp "finalized 0 "
	assert_line "finalizer_random_graph: ok"
}

@test "the random-graph checker catches a finalizer run for a block the program still reaches (#3)" {
	run -1 gs_run finalizer_random_graph 5 4000 hidden-root
	assert_line --partial "finalized while reachable"
}

@test "several threads draining at once while others allocate run every finalizer exactly once (#3)" {
	GS_TIMEOUT=30
	run -0 gs_run finalizer_threads 2 2 1500
	assert_line "finalized 1500 polled 1500"
	assert_line "finalizer_threads: ok"
	assert_clean_report
}

@test "with every block kept by its allocator no finalizer runs and nothing is polled (#3)" {
	GS_TIMEOUT=30
	run -0 gs_run finalizer_threads 2 2 1500 keep
	assert_line "finalized 0 polled 0"
	assert_line "finalizer_threads: ok"
}

@test "a finalizer that gives its block a finalizer again resurrects it: not freed, finalized again next round (#3)" {
	run -0 gs_run finalizer_rearm rearm
	refute_line --partial "FAIL"
	[ "$(printf '%s\n' "${lines[@]}" | grep -E '^(round|live)' | tr '\n' ' ')" = \
		"round 1: R live 1 round 2: R live 0 round 3: - live 0 " ] || fail "got: ${lines[*]}"
	assert_clean_report
}

@test "without the re-arm the block is freed after its one finalizer (#3)" {
	run -0 gs_run finalizer_rearm once
	[ "$(printf '%s\n' "${lines[@]}" | grep -E '^(round|live)' | tr '\n' ' ')" = \
		"round 1: R live 0 round 2: - live 0 " ] || fail "got: ${lines[*]}"
	assert_clean_report
}

@test "a finalizer that registers its block with a guardian hands it to the guardian instead of the free (#3)" {
	run -0 gs_run finalizer_rearm to-guardian
	refute_line --partial "FAIL"
	[ "$(printf '%s\n' "${lines[@]}" | grep -E '^(round|live|polled)' | tr '\n' ' ')" = \
		"round 1: R live 1 round 2: - live 1 polled R live 0 " ] || fail "got: ${lines[*]}"
	assert_clean_report
}

@test "a finalizer that frees its own block is not followed by a second free (#3)" {
	run -0 gs_run finalizer_rearm frees-itself
	refute_line --partial "FAIL"
	assert_line "round 1: R"
	assert_line "live 0"
	[ "$(gs_reports | xargs cat | jq -s '[.[] | select(.trigger == "misuse")] | length')" = 0 ]
	assert_clean_report
}
