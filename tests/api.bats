#!/usr/bin/env bats
# The gs_* API: gs_collect, gs_check_leaks, bad pointers, gs_ignore,
# gs_disable/gs_enable, root regions, gs_get_stats, running without the shim.
load helper
bats_require_minimum_version 1.5.0

@test "gs_collect returns the 3 blocks newly found unreachable, then 0 on the next scan (#3)" {
	run -0 gs_run api_collect drop
	assert_line "collect1 3"
	assert_line "collect2 0"
	assert_line "api_collect: ok"
	assert_clean_report
}

@test "gs_collect finds nothing unreachable while the blocks are kept (#3)" {
	run -0 gs_run api_collect keep
	assert_line "collect1 0"
	assert_line "collect2 0"
}

@test "a pointer left in a dead frame below gs_collect's caller keeps nothing alive (#3)" {
	run -0 gs_run api_collect deadframe
	assert_line "deadframe 1"
}

@test "the same pointer in the caller's live frame keeps the block (#3)" {
	run -0 gs_run api_collect deadframe-keep
	assert_line "deadframe 0"
}

@test "a pointer held only in the caller's callee-saved register rbx keeps the block alive (#3)" {
	run -0 gs_run api_collect rbx
	assert_line "rbx 0"
}

@test "with rbx cleared the same block is found unreachable (#3)" {
	run -0 gs_run api_collect rbx-clear
	assert_line "rbx 1"
}

@test "gs_check_leaks reports only leaks not reported before and returns its record count (#3)" {
	run -23 gs_run api_check_leaks leak
	assert_line "check1 1"
	assert_line "check2 0"
	assert_line "check3 1"
	run -0 gs_api_reports
	[ "${#lines[@]}" -eq 3 ] || fail "expected 3 api reports, got ${#lines[@]}"
	[ "$(gs_api_reports | jq -r '.leaks | length' | tr '\n' ' ')" = "1 0 1 " ]
	[ "$(gs_api_reports | jq -r '.leaks[] | "\(.kind) \(.bytes)"' | tr '\n' ' ')" = "direct 48 direct 72 " ]
	assert_leaks "$(printf '%s\n' "direct leak_a_48 48 1" "direct leak_b_72 72 1")"
}

@test "gs_check_leaks on a program that frees everything writes empty api reports (#3)" {
	run -0 gs_run api_check_leaks free
	assert_line "check1 0"
	assert_line "check3 0"
	[ "$(gs_api_reports | jq -r '.leaks | length' | tr '\n' ' ')" = "0 0 0 " ]
	assert_clean_report
}

@test "every API call given NULL, a stack, interior, freed or bogus guardian pointer fails with EINVAL (#3)" {
	run -0 gs_run api_bad_pointers bad
	refute_line --partial "FAIL"
	assert_line "api_bad_pointers: ok"
	assert_clean_report
}

@test "the same API calls on good pointers succeed (#3)" {
	run -0 gs_run api_bad_pointers good
	assert_line "api_bad_pointers: ok"
}

@test "gs_ignore keeps a dropped block out of the report (#3)" {
	run -0 gs_run api_ignore_disable ignore
	assert_clean_report
}

@test "without gs_ignore the same block is a direct leak (#3)" {
	run -23 gs_run api_ignore_disable ignore-off
	assert_leaks "direct ignored_alloc_64 64 1"
}

@test "gs_ignore given an interior pointer ignores the enclosing block, near its start, in a 4 KiB block and in an mmapped one; not one past its end (#3)" {
	run -23 gs_run api_ignore_disable interior
	refute_line --partial "FAIL"
	assert_leaks "direct past_end_alloc_64 64 1"
}

@test "without gs_ignore the three blocks given interior pointers are direct leaks (#3)" {
	run -23 gs_run api_ignore_disable interior-off
	assert_leaks "$(printf '%s\n' "direct interior_alloc_262144 262144 1" "direct interior_alloc_4096 4096 1" \
		"direct interior_alloc_48 48 1" "direct past_end_alloc_64 64 1")"
}

@test "gs_disable nests per thread: only blocks allocated after the last gs_enable and another thread's are reported (#3)" {
	run -23 gs_run api_ignore_disable disable
	assert_leaks "$(printf '%s\n' "direct enabled_alloc_24 24 1" "direct thread_alloc_88 88 1")"
}

@test "without gs_disable all four blocks are reported (#3)" {
	run -23 gs_run api_ignore_disable disable-none
	assert_leaks "$(printf '%s\n' "direct disabled_alloc_40 40 1" "direct enabled_alloc_24 24 1" \
		"direct nested_alloc_56 56 1" "direct thread_alloc_88 88 1")"
}

@test "gs_register_root makes an unscanned mapping a root (#3)" {
	EXTRA_OPTS=scan_mappings=0
	run -0 gs_run api_root_region root
	assert_line "collect 0"
	assert_clean_report
}

@test "after gs_unregister_root, or without registering, the block in the mapping leaks (#3)" {
	EXTRA_OPTS=scan_mappings=0
	run -23 gs_run api_root_region unregister
	assert_line "collect 1"
	assert_leaks "direct region_alloc_96 96 1"
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -23 gs_run api_root_region none
	assert_leaks "direct region_alloc_96 96 1"
}

@test "registered roots the scan cannot read (never mapped, unmapped since, PROT_NONE) are skipped without a fault; the rest of the range is still a root (#3)" {
	local opts
	for opts in scan_mappings=0 scan_mappings=0:scan_mode=snapshot; do
		rm -f "$BATS_TEST_TMPDIR"/r.*.json
		EXTRA_OPTS=$opts
		run -0 gs_run api_root_region unreadable
		refute_line --partial "FAIL"
		assert_line "collect 0"
		assert_line "check 0"
		assert_clean_report
	done
}

@test "without the registered range the block behind the hole leaks (#3)" {
	EXTRA_OPTS=scan_mappings=0
	run -23 gs_run api_root_region unreadable-unregister
	assert_line "collect 1"
	assert_line "check 1"
	assert_leaks "direct region_alloc_96 96 1"
}

@test "gs_get_stats counts blocks, bytes, allocations, frees, scans, last leaks and pending finalizers (#3)" {
	run -0 gs_run api_stats
	refute_line --partial "FAIL"
	assert_line "api_stats: ok"
}

@test "every API test program runs unchanged without the shim and skips (#3)" {
	local p
	for p in api_collect api_check_leaks api_bad_pointers api_ignore_disable api_root_region api_stats \
		guardian_poll finalizer_order finalizer_random_graph finalizer_threads finalizer_rearm \
		reclaim_two_scans reclaim_random_graph reclaim_interval owner_stats owner_report \
		lsan_compat_interface; do
		run -0 gs_native "$p"
		assert_line --partial "skip:"
	done
}

@test "the programs that do not skip are API programs under the shim (#3)" {
	run -0 gs_run api_stats
	refute_line --partial "skip:"
}
