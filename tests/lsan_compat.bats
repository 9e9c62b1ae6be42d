#!/usr/bin/env bats
# LeakSanitizer's public interface and hooks, for a program built without a
# sanitizer.
load helper
bats_require_minimum_version 1.5.0

@test "__lsan_ignore_object keeps a dropped block out of the report (#3)" {
	run -0 gs_run lsan_compat_interface ignore
	assert_clean_report
}

@test "__lsan_ignore_object given an interior pointer (p + 8) ignores the enclosing block, as LeakSanitizer does (#3)" {
	run -0 gs_run lsan_compat_interface ignore-interior
	assert_clean_report
}

@test "without __lsan_ignore_object the block is a direct leak (#3)" {
	run -23 gs_run lsan_compat_interface ignore-off
	assert_leaks "direct lsan_ignored_48 48 1"
}

@test "__lsan_register_root_region makes an unscanned mapping a root; unregistered, the block leaks (#3)" {
	EXTRA_OPTS=scan_mappings=0
	run -0 gs_run lsan_compat_interface root
	assert_clean_report
	rm -f "$BATS_TEST_TMPDIR"/r.*.json
	run -23 gs_run lsan_compat_interface root-unregister
	assert_leaks "direct lsan_region_96 96 1"
}

@test "__lsan_disable/__lsan_enable hide what is allocated between them (#3)" {
	run -0 gs_run lsan_compat_interface disable
	assert_clean_report
}

@test "without __lsan_disable the same block is reported (#3)" {
	run -23 gs_run lsan_compat_interface disable-off
	assert_leaks "direct lsan_disabled_40 40 1"
}

@test "__lsan_do_recoverable_leak_check returns 1 when it reports leaks, then 0 (#3)" {
	run -23 gs_run lsan_compat_interface recoverable
	assert_line "recoverable 1"
	assert_line "recoverable 0"
	assert_leaks "direct lsan_recoverable_24 24 1"
}

@test "__lsan_do_leak_check with a leak ends the program with exit 23 at the call (#3)" {
	run -23 gs_run lsan_compat_interface leak-check
	refute_output --partial "after"
	assert_leaks "direct lsan_final_56 56 1"
}

@test "__lsan_do_leak_check without leaks returns and turns the exit check off (#3)" {
	run -0 gs_run lsan_compat_interface leak-check-clean
	assert_line "after"
	assert_clean_report
	[ "$(jq -s 'length' "$(gs_report)")" = 1 ] || fail "more than one report: the exit check ran"
}

@test "the program's own __lsan_default_suppressions() suppresses its leak (#3)" {
	run -23 gs_run lsan_compat_defaults
	assert_leaks "direct lsan_reported_64 64 1"
}

@test "without the program's default suppressions both leaks are reported (#3)" {
	run -23 gs_run lsan_compat_interface defaults-control
	assert_leaks "$(printf '%s\n' "direct lsan_reported_64 64 1" "direct lsan_suppressed_32 32 1")"
}

@test "the program's own __lsan_is_turned_off() returning 1 turns the exit check off (#3)" {
	LSAN_TEST_OFF=1 run -0 gs_run lsan_compat_defaults
	[ -z "$(gs_reports | xargs -r jq -c 'select(.trigger == "exit")' 2>/dev/null)" ] || fail "an exit report was written"
}

@test "the LSan-annotated programs build without a sanitizer and run without the shim (#3)" {
	run -0 gs_native lsan_compat_interface ignore
	assert_line --partial "skip:"
	run -0 gs_native lsan_compat_defaults
	! nm "$GS_PROGS/lsan_compat_interface" | grep -q '__asan\|__lsan_init'
}
