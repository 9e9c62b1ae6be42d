# helper.bash: load'ed by every suite (load helper).
#
#   gs_run PROG [ARGS]      run build/tests/PROG under the shim, JSON report to
#                           $BATS_TEST_TMPDIR/r.<pid>.json (EXTRA_OPTS appended)
#   gs_run_text PROG [ARGS] same with the default text format on stderr
#                           (GUARDSHIM_OPTIONS=$EXTRA_OPTS)
#   gs_native PROG [ARGS]   run it without the shim
#   gs_reports              the report files of this test, one a line
#   gs_report [PID]         the one report file (of PID); fails unless exactly one
#   gs_leaks [FILE]         the exit report's records as sorted lines
#                           "KIND FUNCTION BYTES BLOCKS", FUNCTION = first frame
#                           not in libguardshim.so and not a malloc-family name
#   gs_leaks_with_frame F [FILE]  "KIND BYTES BLOCKS" of records with a frame in function F
#   gs_jq FILTER [FILE]     jq -r FILTER over the exit report
#   normalize_text          stdin → stdout: ==PID==, 0xADDR, file:LINE
#   gs_run_example NAME     run build/examples/NAME under the shim (gs_native_example: without)
#   gs_api_reports          the trigger "api" reports (gs_check_leaks), one JSON a line
#
# Every program run is wrapped in `timeout` ($GS_TIMEOUT s, default 60) so a
# hang fails one test (status 124) instead of stalling CI.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

GS_ROOT="$(cd "$BATS_TEST_DIRNAME/.." && pwd)"
GS_LIB="${GS_LIB:-$GS_ROOT/build/libguardshim.so}"   # override to test an installed shim
GS_PROGS="$GS_ROOT/build/tests"
GS_TIMEOUT="${GS_TIMEOUT:-60}"
GS_FIXTURES="$GS_ROOT/tests/fixtures"

# Names of allocation entry points, skipped when looking for the caller.
GS_ALLOC_RE='^(malloc|calloc|realloc|reallocarray|free|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|__libc_(malloc|calloc|realloc|memalign|valloc|pvalloc)|_Zn[wa].*|operator new.*)$'

setup() {
	[ -f "$GS_LIB" ] || fail "shim not built: $GS_LIB (run make)"
	[ -d "$GS_PROGS" ] || fail "test programs not built: $GS_PROGS (run make test-programs)"
	unset EXTRA_OPTS
}

_gs_prog() {
	local p="$GS_PROGS/$1"
	[ -x "$p" ] || { echo "gs: no program $p" >&2; return 127; }
	printf '%s\n' "$p"
}

gs_run() {
	local prog
	prog="$(_gs_prog "$1")" || return 127
	shift
	timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$BATS_TEST_TMPDIR/r.%p.json${EXTRA_OPTS:+:$EXTRA_OPTS}" \
		"$prog" "$@"
}

gs_run_text() {
	local prog
	prog="$(_gs_prog "$1")" || return 127
	shift
	timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" GUARDSHIM_OPTIONS="${EXTRA_OPTS:-}" \
		"$prog" "$@"
}

gs_native() {
	local prog
	prog="$(_gs_prog "$1")" || return 127
	shift
	timeout -k 5 "$GS_TIMEOUT" env -u LD_PRELOAD "$prog" "$@"
}

gs_reports() {
	find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'r.*.json' | LC_ALL=C sort
}

gs_report() {
	if [ $# -gt 0 ]; then
		local f="$BATS_TEST_TMPDIR/r.$1.json"
		[ -f "$f" ] || { echo "gs: no report for pid $1; have: $(gs_reports | tr '\n' ' ')" >&2; return 1; }
		printf '%s\n' "$f"
		return 0
	fi
	local files n
	files="$(gs_reports)"
	n=$(printf '%s' "$files" | grep -c . || true)
	if [ "$n" -ne 1 ]; then
		echo "gs: expected exactly 1 report, found $n: $files" >&2
		return 1
	fi
	printf '%s\n' "$files"
}

# The exit report (trigger "exit") of FILE, as one compact JSON object.
_gs_exit_report() {
	local f="$1"
	[ -n "$f" ] || f="$(gs_report)" || return 1
	jq -c 'select(.trigger == "exit")' "$f"
}

# _gs_jq_on FILE JQ-ARGS...: jq -r over the exit report of FILE ("" = the one report).
_gs_jq_on() {
	local f="$1" json
	shift
	json="$(_gs_exit_report "$f")" || return 1
	[ -n "$json" ] || { echo "gs: no exit report in ${f:-the report}" >&2; return 1; }
	jq -r "$@" <<<"$json"
}

gs_jq() {
	_gs_jq_on "${2:-}" "$1"
}

gs_leaks() {
	local out
	out="$(_gs_jq_on "${1:-}" --arg re "$GS_ALLOC_RE" '
		.leaks[]
		| ([.stack[] | select(((.module // "") | test("libguardshim\\.so$") | not)
		                      and ((.function // "") | test($re) | not))][0].function // "?") as $fn
		| "\(.kind) \($fn) \(.bytes) \(.blocks)"')" || return 1
	[ -z "$out" ] || printf '%s\n' "$out" | LC_ALL=C sort
}

gs_leaks_with_frame() {
	local out
	out="$(_gs_jq_on "${2:-}" --arg fn "$1" \
		'.leaks[] | select(any(.stack[]; .function == $fn)) | "\(.kind) \(.bytes) \(.blocks)"')" || return 1
	[ -z "$out" ] || printf '%s\n' "$out" | LC_ALL=C sort
}

# assert_leaks EXPECTED [FILE]: the whole set of records, as gs_leaks prints it.
assert_leaks() {
	local got
	got="$(gs_leaks "${2:-}")" || fail "no readable exit report ($(gs_reports | tr '\n' ' '))"
	[ "$got" = "$1" ] || fail "$(printf 'records differ\n-- expected --\n%s\n-- got --\n%s\n-- report --\n%s' \
		"$1" "$got" "$(cat "${2:-$(gs_report)}" 2>/dev/null | head -c 4000)")"
}

# assert_clean_report [FILE]: an exit report exists and says "leaks":[].
assert_clean_report() {
	local n
	n="$(gs_jq '.leaks | if type == "array" then length else "not an array" end' "${1:-}")" \
		|| fail "no readable exit report ($(gs_reports | tr '\n' ' '))"
	[ "$n" = 0 ] || fail "$(printf 'expected "leaks":[], got %s record(s):\n%s' "$n" "$(gs_leaks "${1:-}")")"
}

normalize_text() {
	sed -E -e 's/^==[0-9]+==/==PID==/' -e 's/0x[0-9a-fA-F]+/0xADDR/g' -e 's/:[0-9]+$/:LINE/'
}

# Line "pid N" (or "LABEL pid N") of $output.
gs_pid_from_output() {
	local label="${1:-pid}"
	sed -n -E "s/^$label ([0-9]+)\$/\\1/p" <<<"$output" | head -n1
}

# gs_run_example NAME [ARGS]: like gs_run, for build/examples/NAME.
# gs_native_example NAME [ARGS]: the same example without the shim.
gs_run_example() {
	local prog="$GS_ROOT/build/examples/$1"
	[ -x "$prog" ] || { echo "gs: no example $prog" >&2; return 127; }
	shift
	timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$BATS_TEST_TMPDIR/r.%p.json${EXTRA_OPTS:+:$EXTRA_OPTS}" \
		"$prog" "$@"
}

gs_native_example() {
	local prog="$GS_ROOT/build/examples/$1"
	[ -x "$prog" ] || { echo "gs: no example $prog" >&2; return 127; }
	shift
	timeout -k 5 "$GS_TIMEOUT" env -u LD_PRELOAD "$prog" "$@"
}

# gs_api_reports: the recoverable (trigger "api") reports of the one report
# file, one compact JSON object a line.
gs_api_reports() {
	jq -c 'select(.trigger == "api")' "$(gs_report)"
}
