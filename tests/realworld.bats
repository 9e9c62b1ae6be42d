#!/usr/bin/env bats
# realworld.bats: programs nobody here wrote, run with and without the shim.
# Each test runs its workload three times in fresh directories: natively,
# under the shim with exitcode=0 (stdout and exit status must be identical
# to the native run) and under the shim with the default exitcode (status
# 23 exactly when the program leaks, else the native status). Every process
# must write one report; its records must be zero, or exactly the real
# leaks documented in the test. The documented leaks of stripped Debian
# binaries were checked against valgrind --leak-check=full (same bytes and
# blocks per process) when the test was written.
bats_require_minimum_version 1.5.0
load helper

RW_ENV=()

# rw_run CMD...: runs CMD three times, each in a fresh directory
# $BATS_TEST_TMPDIR/{native,shim,shim23}/, with env -i: PATH=/usr/bin:/bin,
# HOME=/nonexistent, TMPDIR=/tmp, LC_ALL=C.UTF-8, plus ${RW_ENV[@]}. Sets rw_native_rc, rw_shim_rc, rw_shim23_rc; stdout in */stdout, stderr
# in */stderr, reports of the exitcode=0 run in $BATS_TEST_TMPDIR/r.<pid>.json
# (so gs_* helpers see them), of the default run in shim23/r.<pid>.json.
rw_run() {
	local t="$BATS_TEST_TMPDIR" mode dir
	for mode in native shim shim23; do
		dir="$t/$mode"
		mkdir -p "$dir"
		# A minimal fixed environment: what real programs leak may depend on it.
		local -a pre=(env -i PATH=/usr/bin:/bin HOME=/nonexistent TMPDIR=/tmp LC_ALL=C.UTF-8 "${RW_ENV[@]}")
		case "$mode" in
		shim) pre+=(LD_PRELOAD="$GS_LIB"
			GUARDSHIM_OPTIONS="format=json:log_path=$t/r.%p.json:exitcode=0") ;;
		shim23) pre+=(LD_PRELOAD="$GS_LIB"
			GUARDSHIM_OPTIONS="format=json:log_path=$dir/r.%p.json") ;;
		esac
		local rc=0
		(cd "$dir" && timeout -k 5 "$GS_TIMEOUT" "${pre[@]}" "$@" \
			>"$dir/stdout" 2>"$dir/stderr") || rc=$?
		printf -v "rw_${mode}_rc" '%s' "$rc"
	done
}

# rw_assert_same: stdout and exit status of the exitcode=0 run equal the native run's.
rw_assert_same() {
	local t="$BATS_TEST_TMPDIR"
	[ "$rw_native_rc" != 124 ] || fail "native run timed out"
	[ "$rw_shim_rc" = "$rw_native_rc" ] ||
		fail "$(printf 'exit status %s under the shim, %s without\nstderr:\n%s' \
			"$rw_shim_rc" "$rw_native_rc" "$(head -c 2000 "$t/shim/stderr")")"
	cmp -s "$t/native/stdout" "$t/shim/stdout" ||
		fail "$(printf 'stdout differs under the shim:\n%s' \
			"$(diff "$t/native/stdout" "$t/shim/stdout" | head -20)")"
	[ -s "$t/native/stdout" ] || fail "the workload printed nothing: not a meaningful comparison"
}

# rw_assert_status23 LEAKY: status of the default-exitcode run: 23 when LEAKY=1, else native.
rw_assert_status23() {
	local want="$rw_native_rc"
	[ "$1" = 1 ] && want=23
	[ "$rw_shim23_rc" = "$want" ] || fail "default exitcode run: status $rw_shim23_rc, want $want"
}

# rw_summary [DIR]: one line per process and record kind, sorted:
# "EXE KIND BYTES BLOCKS" (EXE = basename of the report's exe), "EXE clean"
# for a process without records, "EXE no-exit-report" when it has none.
rw_summary() {
	local f
	for f in "${1:-$BATS_TEST_TMPDIR}"/r.*.json; do
		[ -e "$f" ] || continue
		jq -rs '(map(select(.trigger == "exit")) | .[0]) as $r
			| if $r == null then "\(.[0].exe // "?" | split("/") | last) no-exit-report"
			  else ($r.exe | split("/") | last) as $e
			  | [$r.leaks[] | {k: .kind, b: .bytes, n: .blocks}] | group_by(.k)
			  | if length == 0 then "\($e) clean"
			    else .[] | "\($e) \(.[0].k) \(map(.b) | add) \(map(.n) | add)" end
			  end' "$f"
	done | LC_ALL=C sort
}

# rw_totals [DIR]: "EXE BYTES BLOCKS" per process (all kinds), sorted;
# records with a frame in function $RW_EXCLUDE (if set) are left out.
rw_totals() {
	local f
	for f in "${1:-$BATS_TEST_TMPDIR}"/r.*.json; do
		[ -e "$f" ] || continue
		jq -r --arg ex "${RW_EXCLUDE:-}" 'select(.trigger == "exit")
			| [.leaks[] | select($ex == "" or all(.stack[]; .function != $ex))] as $l
			| "\(.exe | split("/") | last) \([$l[].bytes] | add // 0) \([$l[].blocks] | add // 0)"' "$f"
	done | LC_ALL=C sort
}

# rw_assert_reports N: exactly N report files (one per process), each with an exit report.
rw_assert_reports() {
	local n
	n=$(gs_reports | grep -c . || true)
	[ "$n" = "$1" ] || fail "expected $1 report(s) (one per process), found $n: $(rw_summary)"
	! rw_summary | grep -q ' no-exit-report$' || fail "a process has no exit report: $(rw_summary)"
}

# rw_assert_all_clean: every process's report (both shim runs) says "leaks":[].
rw_assert_all_clean() {
	local got
	got="$(rw_summary; rw_summary "$BATS_TEST_TMPDIR/shim23")"
	! grep -qv ' clean$' <<<"$got" || fail "$(printf 'records found:\n%s' "$(grep -v ' clean$' <<<"$got")")"
}

# rw_records FILE: "KIND BYTES BLOCKS MODULE TOPFN" per record, sorted; MODULE
# = basename of the first frame outside the shim, TOPFN = function of the
# outermost-but-one frame ("?" when unsymbolised).
rw_records() {
	jq -r 'select(.trigger == "exit") | .leaks[]
		| ([.stack[] | select((.module // "") | test("libguardshim\\.so$") | not)][0]) as $u
		| "\(.kind) \(.bytes) \(.blocks) \($u.module // "?" | split("/") | last) \($u.function // "?")"' \
		"$1" | LC_ALL=C sort
}

# CPython's own regression tests (Debian's libpython3.11-testsuite, the
# `test` package), loaded by name and run in one interpreter; test_json's
# test_tool starts 17 more interpreters (python3 -m json.tool). unittest
# prints its summary (with a timing) on stderr: the counts go to stdout
# through this runner instead, so stdout can be compared.
RW_PY_RUNNER='
import sys, unittest
suite = unittest.defaultTestLoader.loadTestsFromNames(sys.argv[1:])
res = unittest.TextTestRunner(stream=open("/dev/null", "w")).run(suite)
print("ran", res.testsRun, "failures", len(res.failures), "errors", len(res.errors),
      "skipped", len(res.skipped))
sys.exit(0 if res.wasSuccessful() else 1)'
RW_PY_TESTS=(test.test_json test.test_bisect test.test_heapq test.test_re test.test_collections
	test.test_struct test.test_csv)

@test "python3 running CPython's own test modules (json, bisect, heapq, re, collections, struct, csv) with pymalloc: same results, 18 interpreters, all clean (#7)" {
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	/usr/bin/python3 -I -c 'import test.test_json' 2>/dev/null ||
		skip "CPython's test package missing (apt-get install libpython3.11-testsuite)"
	# The default allocator: small objects live in pymalloc's arenas, which
	# scan_mappings=1 (the default) scans as roots.
	rw_run /usr/bin/python3 -I -c "$RW_PY_RUNNER" "${RW_PY_TESTS[@]}"
	assert_equal "$rw_native_rc" 0
	run cat "$BATS_TEST_TMPDIR/native/stdout"
	assert_output --regexp '^ran [0-9]{3} failures 0 errors 0 skipped [0-9]+$'
	rw_assert_same
	rw_assert_status23 0
	rw_assert_reports 18
	rw_assert_all_clean
	# Control: without scanning pymalloc's arenas, blocks only they point to
	# are reported, so "clean" above is a verdict, not silence.
	run -0 timeout -k 5 "$GS_TIMEOUT" env -i PATH=/usr/bin:/bin LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$BATS_TEST_TMPDIR/ctl.json:exitcode=0:scan_mappings=0" \
		/usr/bin/python3 -I -c "$RW_PY_RUNNER" test.test_bisect
	assert_output "ran 42 failures 0 errors 0 skipped 0"
	[ "$(jq '.summary.leaked_blocks' "$BATS_TEST_TMPDIR/ctl.json")" -gt 0 ] ||
		fail "scan_mappings=0 found no leak: $(jq -c .summary "$BATS_TEST_TMPDIR/ctl.json")"
}

# With PYTHONMALLOC=malloc every object is a tracked block. Not with -I (or
# -E): they make Python ignore PYTHONMALLOC. What CPython 3.11 leaves at exit
# after importing json (or re, collections) is 55 blocks of 2,864 B that only
# interior pointers reach (GC objects made for its static types, pointed to
# past their PyGC_Head), exactly what valgrind --leak-check=full calls
# "possibly lost" for the same run; `import sys` leaves nothing.
@test "python3 with PYTHONMALLOC=malloc: 'import json' leaves exactly the 55 possible blocks (2,864 B) valgrind reports, 'import sys' nothing (#7)" {
	[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3"
	RW_ENV=(PYTHONMALLOC=malloc)
	rw_run /usr/bin/python3 -s -c 'import json, sys; print(json.dumps({"malloc": sys.flags.ignore_environment == 0}))'
	assert_equal "$(cat "$BATS_TEST_TMPDIR/native/stdout")" '{"malloc": true}'
	rw_assert_same
	rw_assert_status23 1
	rw_assert_reports 1
	assert_equal "$(rw_summary)" "python3.11 possible 2864 55"
	assert_equal "$(rw_summary "$BATS_TEST_TMPDIR/shim23")" "python3.11 possible 2864 55"
	# Control: the same interpreter without the import is clean.
	rm -rf "$BATS_TEST_TMPDIR"/r.*.json "$BATS_TEST_TMPDIR"/{native,shim,shim23}
	rw_run /usr/bin/python3 -s -c 'import sys; print(sys.flags.ignore_environment)'
	rw_assert_same
	rw_assert_status23 0
	rw_assert_reports 1
	rw_assert_all_clean
}

@test "sqlite3 CLI: create, insert 20,000 rows, index, select and aggregate is clean and prints the same (#7)" {
	command -v sqlite3 >/dev/null || skip "no sqlite3"
	local sql="$BATS_TEST_TMPDIR/work.sql"
	cat >"$sql" <<'SQL'
create table t(a integer primary key, b text, c real);
with recursive n(x) as (select 1 union all select x + 1 from n where x < 20000)
  insert into t(a, b, c) select x, printf('row%05d', x), x * 0.5 from n;
create index tb on t(b);
create table agg as select a % 100 as k, count(*) as cnt, sum(c) as s from t group by k;
select count(*), sum(a), min(b), max(b), total(c) from t;
select * from t where b = 'row12345';
select k, cnt, s from agg order by s desc limit 3;
select count(*) from t where b like 'row1%';
delete from t where a % 2 = 0;
vacuum;
select count(*), avg(a) from t;
pragma integrity_check;
SQL
	rw_run sqlite3 "db.sqlite" ".read $sql"
	rw_assert_same
	rw_assert_status23 0
	rw_assert_reports 1
	rw_assert_all_clean
}

@test "git init, add, commit, log and diff on a scratch repository: output identical, only git's own real leaks (#7)" {
	command -v git >/dev/null || skip "no git"
	local script="$BATS_TEST_TMPDIR/git.sh"
	cat >"$script" <<'SH'
set -e
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE=2024-01-01T00:00:00Z GIT_COMMITTER_DATE=2024-01-01T00:00:00Z
git init -q -b main .
git config user.name "Test User"
git config user.email test@example.com
seq 1 100 >a
git add a
git commit -qm one
seq 50 150 >a
git commit -qam two
git log --format='%H %s'
git diff HEAD~1 --stat
SH
	rw_run sh "$script"
	rw_assert_same
	# git frees little at exit on purpose (its UNLEAK); libc must add nothing:
	# no record may be allocated by libc's own bookkeeping (first frame
	# outside the shim in libc or ld.so, and not an allocating API that the
	# program called: strdup, asprintf, getline, ...). glibc's setenv keeps
	# its strings in a tsearch tree whose red nodes are referenced through a
	# pointer with the low bit set; those 24-byte nodes are live, not leaked
	# (see the setenv test below).
	local f noise=""
	for f in $(gs_reports); do
		noise+="$(jq -r 'select(.trigger == "exit") | .leaks[]
			| [.stack[] | select((.module // "") | test("libguardshim\\.so$") | not)][0] as $u
			| select(($u.module // "") | test("/libc\\.so|/ld-linux"))
			| select(($u.function // "") | test("^_*(strn?dup|v?asprintf|getline|getdelim|realpath|open_memstream|scandir|tempnam|regcomp)$") | not)
			| "\(.kind) \(.bytes) \(.blocks): \([.stack[].function // "?"] | join(" < "))\n"' "$f")"
	done
	# Per process, bytes and blocks of all records except that libc noise:
	# the same totals as valgrind --leak-check=full (definitely + indirectly
	# + possibly lost) for every process of the workload.
	# (sh execs the last command: 12 processes, 10 of them git.)
	rw_assert_reports 12
	assert_equal "$(RW_EXCLUDE=__add_to_environ rw_totals)" "$(cat <<'EOF'
git 0 0
git 0 0
git 10 1
git 120 3
git 120 3
git 17 1
git 179 3
git 2175 5
git 8359 5
git 8359 5
seq 32 1
seq 32 1
EOF
)"
	[ -z "$noise" ] || fail "$(printf 'libc noise reported as leaks:\n%s' "$noise")"
}

@test "gcc compiling and linking a C file: cc1, as, collect2 and ld each write one report with exactly their documented leaks (#7)" {
	command -v gcc >/dev/null || skip "no gcc"
	# Relative names only: the driver's leaks contain its argument strings.
	rw_run sh -c 'printf "#include <stdio.h>\nint main(void) { puts(\"hello from gcc\"); return 0; }\n" >hello.c &&
		gcc -O2 -o hello hello.c && ./hello'
	rw_assert_same
	rw_assert_status23 1
	# Debian 12's gcc 12.2 / binutils 2.40 leak at exit by design (they exit
	# without freeing). Per process, bytes and blocks of all records equal
	# valgrind --leak-check=full's definitely + indirectly + possibly lost,
	# run in the same environment, for all five processes. Only totals are
	# asserted: which of ld's blocks are direct, indirect or possible depends
	# on addresses (ASLR), as with valgrind. cc1's one block is the 8032-byte
	# cpp buffer (xmalloc < _cpp_get_buff < cpp_create_reader), reached only
	# through an interior pointer. sh execs ./hello, which is clean.
	assert_equal "$(rw_totals)" "$(cat <<'EOF'
cc1 8032 1
collect2 1769 7
hello 0 0
x86_64-linux-gnu-as 150 14
x86_64-linux-gnu-gcc-12 6277 45
x86_64-linux-gnu-ld.bfd 105411 371
EOF
)"
	assert_equal "$(gs_leaks_with_frame _cpp_get_buff "$(grep -l '/cc1"' $(gs_reports))")" "possible 8032 1"
}

@test "sort on 200,000 generated lines: same output; its one real leak (32 B from main) is reported although sort closes fd 2 (#7)" {
	seq 1 200000 | awk '{ print ($1 * 7919) % 200003, "line" $1 }' >"$BATS_TEST_TMPDIR/data.txt"
	rw_run sort -n -k1,1 "$BATS_TEST_TMPDIR/data.txt"
	rw_assert_same
	rw_assert_status23 1
	rw_assert_reports 1
	# coreutils 9.1 sort -k: one 32-byte block from main (the key
	# description), also "definitely lost" under valgrind (plain `sort -n`
	# leaks 24 B the same way, also found by LeakSanitizer).
	assert_equal "$(rw_records "$(gs_report)")" "direct 32 1 sort ?"
	assert_equal "$(rw_summary "$BATS_TEST_TMPDIR/shim23")" "sort direct 32 1"
}

@test "grep on generated data: same matches and counts; only its real possible leak (128 B) (#7)" {
	seq 1 200000 | awk '{ print "id=" $1 " val=" ($1 * 31) % 977 }' >"$BATS_TEST_TMPDIR/data.txt"
	rw_run sh -c 'grep -c "val=7" "$1"; grep -E "id=1[0-9]{4} val=(12|34)$" "$1"; grep -v -c 0 "$1"' \
		sh "$BATS_TEST_TMPDIR/data.txt"
	rw_assert_same
	rw_assert_status23 1
	rw_assert_reports 3
	# grep 3.8 keeps blocks reached only through interior pointers at exit
	# (its DFA/regex buffers): valgrind reports the same "possibly lost"
	# totals per process (128 B in 1 block; 33,088 B in 18 blocks for -E).
	# sh execs the last command, so there are 3 processes, all grep.
	assert_equal "$(rw_summary)" "$(printf '%s\n' 'grep possible 128 1' 'grep possible 128 1' 'grep possible 33088 18')"
}

@test "a C++ program using vector, map, unordered_map, string, shared_ptr and threads that frees everything is clean (#7)" {
	rw_run "$GS_PROGS/realworld_containers"
	rw_assert_same
	rw_assert_status23 0
	rw_assert_reports 1
	rw_assert_all_clean
}

@test "setenv's tsearch tree (glibc noise seen in git) is not reported: setenv 8 variables is clean (#7)" {
	# Minimal reproduction of the git noise above (tests/programs/realworld_setenv.c).
	rw_run "$GS_PROGS/realworld_setenv" 8
	rw_assert_same
	rw_assert_reports 1
	rw_assert_all_clean
	rw_assert_status23 0
}
