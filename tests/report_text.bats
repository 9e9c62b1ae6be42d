#!/usr/bin/env bats
# The text report: LeakSanitizer's shape on stderr, silent when clean.
load helper
bats_require_minimum_version 1.5.0

# LeakSanitizer opens its report with an optional blank line and a line of
# '=' signs before "==PID==ERROR: ..."; both are accepted and dropped here.
text_body() {
	awk 'started || !/^(=+)?$/ { started = 1; print }'
}

@test "the text report of a direct leak has LeakSanitizer's shape (#2)" {
	run --separate-stderr -23 gs_run_text leak_direct leak
	pid="$(gs_pid_from_output pid)"
	assert_equal "$(text_body <<<"$stderr" | head -n1)" "==$pid==ERROR: guardshim: detected memory leaks"
	run normalize_text <<<"$stderr"
	assert_line "Direct leak of 48 byte(s) in 1 object(s) allocated from:"
	assert_line --regexp '^    #0 0xADDR in malloc \(.*libguardshim\.so\+0xADDR\)$'
	assert_line --regexp '^    #1 0xADDR in leak_direct_48 .*leak_direct\.c:LINE$'
	assert_equal "$(grep -v '^$' <<<"$output" | tail -n1)" "SUMMARY: guardshim: 48 byte(s) leaked in 1 allocation(s)."
}

@test "the text report's leak lines come in the right order: header, blank, record, frames (#2)" {
	run --separate-stderr -23 gs_run_text leak_direct leak
	# bats' $lines drops blank lines, so compare the first five lines as text
	head5="$(text_body <<<"$stderr" | normalize_text | head -n5 | sed -E 's/^(    #[01] 0xADDR in [a-z_0-9]+) .*/\1/')"
	assert_equal "$head5" "$(printf '%s\n' \
		"==PID==ERROR: guardshim: detected memory leaks" \
		"" \
		"Direct leak of 48 byte(s) in 1 object(s) allocated from:" \
		"    #0 0xADDR in malloc" \
		"    #1 0xADDR in leak_direct_48")"
}

@test "the text report names direct and indirect records and sums them up (#2)" {
	run --separate-stderr -23 gs_run_text leak_indirect_list lost
	run printf '%s\n' "$stderr"
	assert_line "Direct leak of 32 byte(s) in 1 object(s) allocated from:"
	assert_line "Indirect leak of 96 byte(s) in 4 object(s) allocated from:"
	assert_line "SUMMARY: guardshim: 128 byte(s) leaked in 5 allocation(s)."
}

@test "the text format is silent on a clean program (and speaks on a leaking one) (#2)" {
	run --separate-stderr -23 gs_run_text leak_direct leak
	assert [ -n "$stderr" ]
	run --separate-stderr -0 gs_run_text clean_exit
	assert_equal "$stderr" ""
	assert_line "done"
}

@test "the text format is silent when the leaking block was freed (#2)" {
	run --separate-stderr -0 gs_run_text leak_direct free
	assert_equal "$stderr" ""
}

@test "the text report goes to log_path instead of stderr when set (#2)" {
	EXTRA_OPTS="log_path=$BATS_TEST_TMPDIR/t.%p" run --separate-stderr -23 gs_run_text leak_direct leak
	pid="$(gs_pid_from_output pid)"
	assert_equal "$stderr" ""
	assert [ -f "$BATS_TEST_TMPDIR/t.$pid" ]
	run normalize_text < <(text_body <"$BATS_TEST_TMPDIR/t.$pid")
	assert_line --index 0 "==PID==ERROR: guardshim: detected memory leaks"
	assert_line "Direct leak of 48 byte(s) in 1 object(s) allocated from:"
}

@test "the text report shows C++ frames demangled, as LeakSanitizer does (#2)" {
	run --separate-stderr -23 gs_run_text leak_cpp_demangle leak
	run normalize_text <<<"$stderr"
	assert_line "Direct leak of 41 byte(s) in 1 object(s) allocated from:"
	assert_line "    #0 0xADDR in operator new[](unsigned long) (libguardshim.so+0xADDR)"
	assert_line --regexp '^    #1 0xADDR in ns::Widget::make_buffer\(\) .*leak_cpp_demangle\.cpp:LINE$'
	assert_line --regexp '^    #1 0xADDR in ns::Registry<int>::add\(int\) .*leak_cpp_demangle\.cpp:LINE$'
	refute_output --partial "_ZN"
}

