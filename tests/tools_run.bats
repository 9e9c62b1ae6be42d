#!/usr/bin/env bats
# guardshim run: runs programs under the shim, gathers every process's
# report, summarises per process, passes exit statuses and signals on; and
# make install (command, shim, header, man page, pkg-config file).
# GS_CLI=/path/to/guardshim tests another copy (e.g. an installed one).
load helper
bats_require_minimum_version 1.5.0

GS_CLI="${GS_CLI:-$GS_ROOT/build/guardshim}"

gsc() {
	timeout -k 5 "$GS_TIMEOUT" "$GS_CLI" "$@"
}

@test "a leaking program exits 23 and its summary names the allocating function, file and line (#5)" {
	run -23 gsc run -- "$GS_PROGS/leak_direct"
	pid="$(gs_pid_from_output)"
	assert_line "guardshim: pid $pid $GS_PROGS/leak_direct: 48 byte(s) leaked in 1 allocation(s) (direct 48, indirect 0, possible 0)"
	assert_line --regexp '^    48 byte\(s\) in 1 direct leak\(s\) at leak_direct_48 tests/programs/leak_direct\.c:[0-9]+$'
}

@test "a clean program exits with its own status and a 'no leaks' line (#5)" {
	run -0 gsc run -- "$GS_PROGS/clean_exit"
	assert_line --regexp "^guardshim: pid [0-9]+ $GS_PROGS/clean_exit: no leaks\$"
	refute_output --partial "leaked"
	run -7 gsc run -- "$GS_PROGS/leak_direct" free 7
	assert_line --regexp "^guardshim: pid [0-9]+ $GS_PROGS/leak_direct: no leaks\$"
}

@test "--quiet prints nothing for a clean program but still summarises a leaking one (#5)" {
	run -0 gsc run -q -- "$GS_PROGS/leak_direct" free
	refute_output --partial "guardshim:"
	run -23 gsc run -q -- "$GS_PROGS/leak_direct"
	assert_output --partial "48 byte(s) leaked"
}

@test "--exitcode replaces 23, and --exitcode 0 keeps the program's own status despite leaks (#5)" {
	run -9 gsc run --exitcode 9 -- "$GS_PROGS/leak_direct"
	assert_output --partial "48 byte(s) leaked"
	run -5 gsc run --exitcode 0 -- "$GS_PROGS/leak_direct" leak 5
	assert_output --partial "48 byte(s) leaked"
	run -0 gsc run --exitcode 0 -- "$GS_PROGS/leak_direct"
}

@test "a forking program gets one summary per process with exactly its own leak, and exit 23 (#5)" {
	run -23 gsc run -- "$GS_PROGS/fork_child_leak" leak
	ppid="$(gs_pid_from_output "parent pid")"
	cpid="$(gs_pid_from_output "child pid")"
	assert [ -n "$ppid" ] && assert [ -n "$cpid" ]
	assert_line "guardshim: pid $ppid $GS_PROGS/fork_child_leak: 24 byte(s) leaked in 1 allocation(s) (direct 24, indirect 0, possible 0)"
	assert_line "guardshim: pid $cpid $GS_PROGS/fork_child_leak: 40 byte(s) leaked in 1 allocation(s) (direct 40, indirect 0, possible 0)"
	assert_line --regexp '^    40 byte\(s\) in 1 direct leak\(s\) at child_leak_40 tests/programs/fork_child_leak\.c:[0-9]+$'
	assert_line "guardshim: 2 processes checked: 64 byte(s) leaked in 2 allocation(s)"
	# The program's own process comes first.
	first="$(grep -m1 '^guardshim: pid' <<<"$output")"
	[[ "$first" == "guardshim: pid $ppid "* ]] || fail "first summary is not the parent's: $first"
}

@test "a forking program that frees everything gets two 'no leaks' lines and exit 0 (#5)" {
	run -0 gsc run -- "$GS_PROGS/fork_child_leak" clean
	assert_equal "$(grep -c ': no leaks$' <<<"$output")" 2
}

@test "a descendant's leak alone makes guardshim exit 23, unless --no-follow-children (#5)" {
	run -23 gsc run -- sh -c "'$GS_PROGS/leak_direct'; exit 0"
	assert_line --regexp "^guardshim: pid [0-9]+ $GS_PROGS/leak_direct: 48 byte\\(s\\) leaked"
	run -0 gsc run --no-follow-children -- sh -c "'$GS_PROGS/leak_direct'; exit 0"
	refute_output --partial "leaked"
}

@test "--no-follow-children summarises only the program's own process (#5)" {
	run -23 gsc run --no-follow-children -- "$GS_PROGS/fork_child_leak" leak
	ppid="$(gs_pid_from_output "parent pid")"
	cpid="$(gs_pid_from_output "child pid")"
	assert_line --partial "guardshim: pid $ppid $GS_PROGS/fork_child_leak: 24 byte(s) leaked"
	refute_output --partial "pid $cpid "
	refute_output --partial "processes checked"
}

@test "an exec'ed program is checked under the same pid; the replaced image's block is not reported (#5)" {
	run -23 gsc run -- "$GS_PROGS/exec_leaky" leak
	epid="$(gs_pid_from_output "exec pid")"
	assert_line "guardshim: pid $epid $GS_PROGS/leak_direct: 48 byte(s) leaked in 1 allocation(s) (direct 48, indirect 0, possible 0)"
	refute_output --partial "pre_exec_leak_88"
	assert_equal "$(grep -c '^guardshim: pid' <<<"$output")" 1
	run -0 gsc run -- "$GS_PROGS/exec_leaky" free
	assert_line "guardshim: pid $(gs_pid_from_output "exec pid") $GS_PROGS/leak_direct: no leaks"
}

@test "--json FILE keeps every process's report as JSON Lines that guardshim report reads (#5)" {
	f="$BATS_TEST_TMPDIR/all.json"
	run -23 gsc run --json "$f" -- "$GS_PROGS/fork_child_leak" leak
	assert_equal "$(wc -l <"$f")" 2
	run -0 jq -r -s 'map(.leaks[0].bytes) | sort | join(" ")' "$f"
	assert_output "24 40"
	run -0 gsc report --format json "$f"
	assert_equal "$(jq '.summary.leaked_bytes' <<<"$output")" 64
	# The private directory is gone afterwards.
	run -0 find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'guardshim.??????' -newer "$f"
	assert_output ""
}

@test "--log DIR keeps the reports there and summarises only this run's (#5)" {
	d="$BATS_TEST_TMPDIR/logs"
	run -23 gsc run --log "$d" -- "$GS_PROGS/leak_direct"
	lpid="$(gs_pid_from_output)"
	assert [ -f "$d/guardshim.$lpid.json" ]
	run -0 gsc run --log "$d" -- "$GS_PROGS/leak_direct" free
	cpid="$(gs_pid_from_output)"
	assert_line "guardshim: pid $cpid $GS_PROGS/leak_direct: no leaks"
	refute_output --partial "pid $lpid"
	assert_equal "$(ls "$d" | wc -l)" 2
}

@test "--depth and --suppressions reach the shim (#5)" {
	f="$BATS_TEST_TMPDIR/r.json"
	run -23 gsc run --depth 2 --json "$f" -- "$GS_PROGS/leak_direct"
	assert_equal "$(jq '.leaks[0].stack | length' "$f")" 2
	printf 'leak:leak_direct_48\n' >"$BATS_TEST_TMPDIR/s.supp"
	run -0 gsc run --suppressions "$BATS_TEST_TMPDIR/s.supp" -- "$GS_PROGS/leak_direct"
	assert_output --partial ": no leaks"
	printf 'leak:some_other_function\n' >"$BATS_TEST_TMPDIR/o.supp"
	run -23 gsc run --suppressions "$BATS_TEST_TMPDIR/o.supp" -- "$GS_PROGS/leak_direct"
}

@test "an existing LD_PRELOAD and GUARDSHIM_OPTIONS are kept, the flags come after them (#5)" {
	other="$(ls /lib/x86_64-linux-gnu/libm.so.6 /usr/lib/*/libm.so.6 2>/dev/null | head -n1)"
	[ -n "$other" ] || skip "no libm.so.6 to preload"
	run -0 env LD_PRELOAD="$other" GUARDSHIM_OPTIONS=verbosity=0 \
		timeout 60 "$GS_CLI" run --depth 3 -- sh -c 'echo "LD=$LD_PRELOAD"; echo "GO=$GUARDSHIM_OPTIONS"'
	assert_line --regexp "^LD=/.*/libguardshim\\.so:$other\$"
	assert_line --regexp '^GO=verbosity=0:format=json:stack_depth=3:log_path=/.*/guardshim\.%p\.json$'
}

@test "an LD_PRELOAD that already names the shim keeps its other libraries, and the shim only once (#5)" {
	other="$(ls /lib/x86_64-linux-gnu/libm.so.6 /usr/lib/*/libm.so.6 2>/dev/null | head -n1)"
	[ -n "$other" ] || skip "no libm.so.6 to preload"
	shim="$(realpath "$GS_LIB")"
	ld() { env LD_PRELOAD="$1" timeout 60 "$GS_CLI" run -q -- sh -c 'echo "LD=$LD_PRELOAD"'; }
	run -0 ld "$shim:$other"
	assert_line "LD=$shim:$other"
	# ld.so also separates by spaces; a non-canonical path to the shim is the shim too.
	run -0 ld "$other $GS_ROOT/build/../build/libguardshim.so"
	assert_line "LD=$shim:$other"
	# Control: without the shim in it, the list is kept whole after the shim.
	run -0 ld "$other"
	assert_line "LD=$shim:$other"
}

@test "a program that does not exist gets one line and status 127; one that cannot run 126 (#5)" {
	run -127 gsc run -- "$BATS_TEST_TMPDIR/no-such-program"
	assert_output "guardshim: $BATS_TEST_TMPDIR/no-such-program: No such file or directory"
	run -127 gsc run -- no-such-program-in-path
	assert_output "guardshim: no-such-program-in-path: No such file or directory"
	printf 'not a program\n' >"$BATS_TEST_TMPDIR/plain"
	chmod 644 "$BATS_TEST_TMPDIR/plain"
	run -126 gsc run -- "$BATS_TEST_TMPDIR/plain"
	assert_output "guardshim: $BATS_TEST_TMPDIR/plain: Permission denied"
}

@test "a bad flag or a missing program prints one usage line and exits 2 (#5)" {
	run -2 gsc run --bogus -- "$GS_PROGS/clean_exit"
	assert_output --regexp "^guardshim run: unknown option '--bogus'; usage: guardshim run "
	assert_equal "${#lines[@]}" 1
	run -2 gsc run --depth 0 -- "$GS_PROGS/clean_exit"
	assert_equal "${#lines[@]}" 1
	run -2 gsc run --
	assert_output --partial "no program given"
	run -2 gsc run --suppressions "$BATS_TEST_TMPDIR/missing.supp" -- "$GS_PROGS/clean_exit"
	assert_output "guardshim: $BATS_TEST_TMPDIR/missing.supp: No such file or directory"
	run -2 gsc frobnicate
	assert_output --partial "unknown command 'frobnicate'"
	run -2 gsc
	assert_equal "${#lines[@]}" 1
}

@test "SIGTERM sent to guardshim reaches the program, and guardshim dies of it (#5)" {
	"$GS_CLI" run -- sleep 30 >/dev/null 2>&1 &
	gpid=$!
	for _ in $(seq 100); do
		pgrep -P "$gpid" sleep >/dev/null && break
		sleep 0.1
	done
	pgrep -P "$gpid" sleep >/dev/null || fail "sleep did not start under guardshim"
	kill -TERM "$gpid"
	status=0
	wait "$gpid" || status=$?
	assert_equal "$status" 143
	run pgrep -P "$gpid"
	assert_output ""
}

@test "a program killed by a signal makes guardshim die of the same signal (#5)" {
	run -137 gsc run -- sh -c 'kill -KILL $$'
	run -130 gsc run -- sh -c 'kill -INT $$'
	refute_output --partial "no report"
}

@test "--interval S gathers the periodic reports of a program that never writes an exit report (#5)" {
	d="$BATS_TEST_TMPDIR"
	# live_server leaks 72 B per request until $d/stop exists, then ends in _exit: no exit report.
	gsc run --interval 1 --log "$d/logs" --json "$d/all.json" -- \
		"$GS_PROGS/live_server" 100000 20 1 flat 0 "$d/stop" >"$d/out" 2>&1 &
	gpid=$!
	# Bounded wait until a periodic report with the leak is on disk.
	for _ in $(seq 600); do
		grep -qs leak_request_buffer "$d"/logs/guardshim.*.json && break
		sleep 0.1
	done
	touch "$d/stop"
	status=0
	wait "$gpid" || status=$?
	assert_equal "$status" 23
	run -0 cat "$d/out"
	pid="$(gs_pid_from_output)"
	assert_line --regexp "^guardshim: pid $pid $GS_PROGS/live_server: [0-9]+ byte\\(s\\) leaked in [0-9]+ allocation\\(s\\) \\(direct [0-9]+, indirect 0, possible 0\\)\$"
	assert_line --regexp '^    [0-9]+ byte\(s\) in [0-9]+ direct leak\(s\) at leak_request_buffer tests/programs/live_server\.c:[0-9]+$'
	# The summary is the last total of the group: 72 B a block.
	read -r bytes blocks < <(sed -n -E 's/^    ([0-9]+) byte\(s\) in ([0-9]+) direct leak.*/\1 \2/p' <<<"$output")
	assert_equal "$bytes" "$((72 * blocks))"
	run -0 jq -r '.trigger' "$d/all.json"
	assert_equal "$(sort -u <<<"$output")" interval
	# Control: without --interval the same program is never checked.
	run -0 gsc run -- "$GS_PROGS/live_server" 100000 20 1 flat 0 "$d/stop"
	assert_line --regexp "^guardshim: pid [0-9]+ $GS_PROGS/live_server: no report \\(this process was not checked\\)\$"
	refute_output --partial leaked
}

@test "--reclaim frees a dropped block found unreachable in two scans, so it is no leak (#5)" {
	# reclaim_two_scans drop: scan1 sees the victim and its child (2 owned
	# blocks), scan2 reclaims them under reclaim=1.
	run -0 gsc run --reclaim -- "$GS_PROGS/reclaim_two_scans" drop
	assert_line "scan1 2"
	assert_line "scan2 0"
	assert_line --regexp "^guardshim: pid [0-9]+ $GS_PROGS/reclaim_two_scans: no leaks\$"
	# Control: without --reclaim the blocks stay and are reported at exit.
	run -23 gsc run -- "$GS_PROGS/reclaim_two_scans" drop
	assert_line "scan2 2"
	assert_line --regexp '^    64 byte\(s\) in 1 direct leak\(s\) at reclaim_victim_64 '
	assert_line --regexp '^    32 byte\(s\) in 1 indirect leak\(s\) at reclaim_child_32 '
}

# on_pty CMD...: runs CMD as the session leader of a new terminal (python's
# pty module), types Ctrl-C once CMD has printed "ready", and prints what the
# terminal showed, then "exit N" or "killed by signal N".
on_pty() {
	timeout -k 5 60 python3 - "$@" <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def read_some(buf):
    r, _, _ = select.select([fd], [], [], 50)
    if not r:
        sys.exit("timed out; terminal showed: %r" % buf)
    try:
        return os.read(fd, 4096)
    except OSError:  # EIO: every process of the terminal is gone
        return b""
buf = b""
while b"ready" not in buf:
    chunk = read_some(buf)
    if not chunk:
        break
    buf += chunk
os.write(fd, b"\x03")
while True:
    chunk = read_some(buf)
    if not chunk:
        break
    buf += chunk
_, st = os.waitpid(pid, 0)
text = buf.decode(errors="replace").replace("\r", "")
sys.stdout.write(text if text.endswith("\n") else text + "\n")
if os.WIFSIGNALED(st):
    print("killed by signal %d" % os.WTERMSIG(st))
else:
    print("exit %d" % os.WEXITSTATUS(st))
PY
}

@test "Ctrl-C on the terminal reaches the program, and its exit status is passed on (#5)" {
	command -v python3 >/dev/null || skip "python3 not installed"
	# The terminal signals its foreground process group: guardshim and the program.
	run -0 on_pty "$GS_CLI" run -- sh -c 'trap "echo got SIGINT; exit 42" INT; echo ready; while :; do sleep 1; done'
	# (the terminal echoes ^C in front of the trap's line)
	assert_line --regexp 'got SIGINT$'
	assert_line "exit 42"
	# Control: a program that does not catch it dies of it, and so does guardshim.
	run -0 on_pty "$GS_CLI" run -- sh -c 'echo ready; while :; do sleep 1; done'
	refute_output --partial "got SIGINT"
	assert_line "killed by signal 2"
}

@test "--help on guardshim, run and report; --version prints the Makefile's version (#5)" {
	run -0 gsc --help
	assert_output --partial "usage: guardshim"
	assert_line --regexp '^  run '
	assert_line --regexp '^  report '
	run -0 gsc run --help
	assert_output --partial "--no-follow-children"
	run -0 gsc report --help
	assert_output --partial "--baseline"
	run -0 gsc help report
	assert_output --partial "--min-bytes"
	version="$(sed -n 's/^VERSION := //p' "$GS_ROOT/Makefile")"
	run -0 gsc --version
	assert_output "guardshim $version"
	grep -q "guardshim $version" "$GS_ROOT/man/guardshim.1" || fail "man page version differs from $version"
}

@test "make install into a DESTDIR gives a working command, man page and pkg-config file (#5)" {
	command -v pkg-config >/dev/null || skip "pkg-config not installed"
	dest="$BATS_TEST_TMPDIR/dest"
	run -0 make -s -C "$GS_ROOT" install PREFIX=/usr/local DESTDIR="$dest"
	pre="$dest/usr/local"
	for f in bin/guardshim lib/libguardshim.so include/guardshim.h share/man/man1/guardshim.1 \
		lib/pkgconfig/guardshim.pc; do
		assert [ -f "$pre/$f" ]
	done
	export PKG_CONFIG_PATH="$pre/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
	run -0 pkg-config --cflags --libs guardshim
	assert_equal "$(xargs <<<"$output")" "-I$pre/include"
	run -0 pkg-config --variable=shim guardshim
	assert_output "$pre/lib/libguardshim.so"
	if command -v man >/dev/null; then
		run -0 env MANWIDTH=80 man -l "$pre/share/man/man1/guardshim.1"
		assert_output --partial "EXIT STATUS"
	fi

	# An instrumented program: asks the API whether the shim is there, leaks 64 bytes.
	cat >"$BATS_TEST_TMPDIR/app.c" <<'C'
#include <guardshim.h>
#include <stdio.h>
#include <stdlib.h>
static void *volatile sink;
__attribute__((noinline)) static void installed_leak_64(void) { sink = malloc(64); sink = NULL; }
int main(void)
{
    installed_leak_64();
    printf("%s\n", gs_active && gs_active() ? "shim active" : "shim absent");
    return 0;
}
C
	# shellcheck disable=SC2046
	run -0 cc -O0 -g $(pkg-config --cflags --libs guardshim) -o "$BATS_TEST_TMPDIR/app" "$BATS_TEST_TMPDIR/app.c"
	run -0 "$BATS_TEST_TMPDIR/app"
	assert_output "shim absent"
	# The installed command finds the installed shim (../lib), not the build tree's.
	run -23 env -u GUARDSHIM_LIB timeout 60 "$pre/bin/guardshim" run --json "$BATS_TEST_TMPDIR/i.json" -- "$BATS_TEST_TMPDIR/app"
	assert_line "shim active"
	assert_line --regexp '^    64 byte\(s\) in 1 direct leak\(s\) at installed_leak_64 .*app\.c:[0-9]+$'
	assert_equal "$(jq -r '.leaks[0].stack[0].module' "$BATS_TEST_TMPDIR/i.json")" "$pre/lib/libguardshim.so"
	# The installed report reads it: SARIF pointing at the program's source line.
	run -0 --separate-stderr "$pre/bin/guardshim" report -f sarif "$BATS_TEST_TMPDIR/i.json"
	assert_equal "$(jq -r '.version' <<<"$output")" 2.1.0
	assert_equal "$(jq -r '.runs[0].results[] | .locations[0] | "\(.logicalLocations[0].name) \(.physicalLocation.artifactLocation.uri | test("app\\.c$")) \(.physicalLocation.region.startLine > 0)"' <<<"$output")" \
		"installed_leak_64 true true"
	for cmd in run report stat top; do
		run -0 "$pre/bin/guardshim" "$cmd" --help
		assert_line --regexp "^usage: guardshim $cmd "
	done
	run -0 make -s -C "$GS_ROOT" uninstall PREFIX=/usr/local DESTDIR="$dest"
	run -0 find "$dest" -type f
	assert_output ""
}
