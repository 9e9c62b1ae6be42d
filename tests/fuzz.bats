#!/usr/bin/env bats
# fuzz.bats: a short bounded libFuzzer run of every harness in fuzz/ (the
# options parser, the suppressions parser and matcher, the `guardshim
# report` reader), FUZZ_SECONDS each (20 here; fuzz/run defaults to 60).
# Every seed in fuzz/corpus/ (crash reproducers included) runs first.
bats_require_minimum_version 1.5.0
load helper

setup() {
	command -v clang >/dev/null || skip "clang not installed (apt-get install clang): fuzzing skipped"
	printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
		>"$BATS_TEST_TMPDIR/probe.c"
	clang -fsanitize=fuzzer -o "$BATS_TEST_TMPDIR/probe" "$BATS_TEST_TMPDIR/probe.c" 2>/dev/null ||
		skip "clang cannot link -fsanitize=fuzzer (libFuzzer missing): fuzzing skipped"
	command -v pkg-config >/dev/null && pkg-config --exists jansson ||
		[ -f /usr/include/jansson.h ] || skip "libjansson-dev missing: fuzzing skipped"
}

@test "fuzzing the options parser, the suppressions parser and the report reader finds no crash (#7)" {
	cd "$GS_ROOT"
	FUZZ_SECONDS="${FUZZ_SECONDS:-20}" run fuzz/run
	echo "$output" | sed 's/^/# /' >&3
	[ "$status" -eq 0 ] || fail "$(printf 'fuzz/run failed (status %s):\n%s' "$status" "$output")"
	assert_line --regexp '^options: [0-9]+ execs in [0-9]+ s, corpus [0-9]+, ok$'
	assert_line --regexp '^suppress: [0-9]+ execs in [0-9]+ s, corpus [0-9]+, ok$'
	assert_line --regexp '^report: [0-9]+ execs in [0-9]+ s, corpus [0-9]+, ok$'
}
