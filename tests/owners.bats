#!/usr/bin/env bats
# Ownership domains: per-owner stats and leak records grouped by owner.
load helper
bats_require_minimum_version 1.5.0

@test "per-owner counters follow allocations, frees, realloc and the per-thread current owner (#3)" {
	run -0 gs_run owner_stats
	refute_line --partial "FAIL"
	assert_line "owner_stats: ok"
	assert_clean_report
}

@test "leaks from one stack under two owners are two records carrying their owner ids (#3)" {
	run -23 gs_run owner_report owners
	local parser cache
	parser="$(sed -n 's/^owner parser //p' <<<"$output")"
	cache="$(sed -n 's/^owner cache //p' <<<"$output")"
	assert_leaks "$(printf '%s\n' "direct owned_leak_40 120 3" "direct owned_leak_40 80 2")"
	[ "$(gs_jq '.leaks[] | "\(.owner) \(.bytes)"' | sort)" = "$(printf '%s\n' "$parser 80" "$cache 120" | sort)" ]
}

@test "the same leaks without owners are one record with no owner field (#3)" {
	run -23 gs_run owner_report none
	assert_leaks "direct owned_leak_40 200 5"
	[ "$(gs_jq '[.leaks[] | select(has("owner"))] | length')" = 0 ]
}
