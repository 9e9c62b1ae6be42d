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

@test "leak records carry the owner's name next to its id, JSON and text, escaped (#3)" {
	run -23 gs_run owner_report owners
	local parser cache
	parser="$(sed -n 's/^owner parser //p' <<<"$output")"
	cache="$(sed -n 's/^owner cache //p' <<<"$output")"
	[ "$(gs_jq '.leaks[] | "\(.owner)=\(.owner_name)"' | sort)" = \
		"$(printf '%s\n' "$parser=parser" "$cache=cache \"L2\"" | sort)" ] || fail "$(gs_jq '.leaks')"
	run -23 gs_run_text owner_report owners
	assert_line "Direct leak of 80 byte(s) in 2 object(s) allocated from: [owner $parser \"parser\"]"
	assert_line "Direct leak of 120 byte(s) in 3 object(s) allocated from: [owner $cache \"cache \\\"L2\\\"\"]"
}

@test "per-owner stats count each owner's leaked blocks and bytes of the last scan (#3)" {
	run -23 gs_run owner_report owners
	assert_line "leaked parser 0 0"
	assert_line "leaked parser 2 80"
	assert_line "leaked cache 3 120"
}

@test "blocks leaked under no owner count for no owner's stats (#3)" {
	run -23 gs_run owner_report none
	refute_line --regexp "^leaked .* [1-9]"
	assert_line "leaked cache 0 0"
}

@test "the same leaks without owners are one record with no owner field (#3)" {
	run -23 gs_run owner_report none
	assert_leaks "direct owned_leak_40 200 5"
	[ "$(gs_jq '[.leaks[] | select(has("owner") or has("owner_name"))] | length')" = 0 ]
}
