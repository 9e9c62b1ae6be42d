#!/usr/bin/env bats
# security.bats: the shim facing hostile input: planted symlinks at the
# report path, printf directives in GUARDSHIM_OPTIONS, setuid programs, and
# allocation sizes made to overflow.
bats_require_minimum_version 1.5.0
load helper

# Setuid tests build in a root-owned directory under /tmp (nobody must
# reach it, which BATS_TEST_TMPDIR's parents do not allow), the shm test
# needs a file on /dev/shm: removed here even when an assertion failed.
teardown() {
	[ -z "${SETUID_DIR:-}" ] || rm -rf "$SETUID_DIR"
	[ -z "${SHM_VICTIM:-}" ] || rm -f "$SHM_VICTIM"
}

@test "log_path naming a planted symlink is refused: the victim is untouched, one error line, the program runs on (#7)" {
	local d="$BATS_TEST_TMPDIR/plant" victim="$BATS_TEST_TMPDIR/victim"
	mkdir "$d"
	echo "precious" >"$victim"
	ln -s "$victim" "$d/r.json"
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$d/r.json" "$GS_PROGS/leak_direct"
	assert_equal "$(cat "$victim")" "precious"
	assert_equal "$(grep -c 'guardshim: error:' <<<"$stderr")" 1
	assert_equal "$(grep -c 'symbolic link (refused)' <<<"$stderr")" 1
	assert_line --regexp '^leak_direct_48 0x'
	# A dangling symlink must not create its target either.
	ln -s "$BATS_TEST_TMPDIR/created" "$d/r2.json"
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$d/r2.json" "$GS_PROGS/leak_direct"
	[ ! -e "$BATS_TEST_TMPDIR/created" ] || fail "the shim followed a dangling symlink"
}

@test "report files are created with mode 0600 whatever the umask (#7)" {
	(umask 000 && gs_run leak_direct >/dev/null) || true
	local f
	f="$(gs_report)"
	assert_equal "$(stat -c %a "$f")" 600
	assert_leaks "direct leak_direct_48 48 1" "$f"
}

@test "an existing report file is appended to only if it is ours: a hard link, a foreign owner or a FIFO is refused with one line (#7)" {
	local d="$BATS_TEST_TMPDIR/existing"
	mkdir "$d"
	# Control: an existing single-link file of ours is appended to (and keeps
	# its mode: the user made it).
	echo "first line" >"$d/mine.json"
	chmod 640 "$d/mine.json"
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$d/mine.json" "$GS_PROGS/leak_direct"
	assert_equal "$stderr" ""
	assert_equal "$(head -1 "$d/mine.json")" "first line"
	assert_leaks "direct leak_direct_48 48 1" <(tail -n +2 "$d/mine.json")
	assert_equal "$(stat -c %a "$d/mine.json")" 640
	# A second name for a file of ours (say ~/.bashrc, linked where the report
	# goes): refused, the file untouched.
	echo "precious" >"$d/victim"
	ln "$d/victim" "$d/linked.json"
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$d/linked.json" "$GS_PROGS/leak_direct"
	assert_equal "$(cat "$d/victim")" "precious"
	assert_equal "$(grep -c 'guardshim: error:' <<<"$stderr")" 1
	assert_equal "$(grep -c "report file '$d/linked.json' has 2 hard links (refused)" <<<"$stderr")" 1
	# A FIFO without a reader: refused at once, not waited on.
	mkfifo "$d/fifo.json"
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$d/fifo.json" "$GS_PROGS/leak_direct"
	assert_equal "$(grep -c "not a regular file (refused)" <<<"$stderr")" 1
	if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
		echo "theirs" >"$d/theirs.json"
		chown nobody "$d/theirs.json"
		run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
			GUARDSHIM_OPTIONS="format=json:log_path=$d/theirs.json" "$GS_PROGS/leak_direct"
		assert_equal "$(cat "$d/theirs.json")" "theirs"
		assert_equal "$(grep -c "belongs to uid $(id -u nobody), not to us (refused)" <<<"$stderr")" 1
	fi
}

@test "periodic reports and the exit report of one process append to the one 0600 file the first report created (#7)" {
	(umask 022 && gs_run api_check_leaks >/dev/null) || true
	local f
	f="$(gs_report)"
	assert_equal "$(stat -c '%a %h' "$f")" "600 1"
	assert_equal "$(jq -r .trigger "$f" | tr '\n' ' ')" "api api api exit "
}

# The shm file's name holds the pid: a shell plants the name for its own
# pid ($$), then execs the program (same pid) under the shim.
_shm_exec() {
	local plant=$1
	shift
	timeout -k 5 "$GS_TIMEOUT" bash -c "$plant"' && exec env LD_PRELOAD="$0" GUARDSHIM_OPTIONS=shm_stats=1 "$@"' \
		"$GS_LIB" "$GS_PROGS/leak_direct" free
}

@test "shm_stats refuses a symlink planted at /dev/shm/guardshim.<pid>: its target untouched or not created, one line, the program runs on (#7)" {
	local victim="$BATS_TEST_TMPDIR/shm-victim"
	echo "precious" >"$victim"
	run -0 --separate-stderr _shm_exec "ln -s '$victim' /dev/shm/guardshim.\$\$ && echo \$\$ >'$BATS_TEST_TMPDIR/pid'"
	local pid
	pid="$(cat "$BATS_TEST_TMPDIR/pid")"
	[ -L "/dev/shm/guardshim.$pid" ] || fail "the planted link is gone"
	rm -f "/dev/shm/guardshim.$pid"
	assert_equal "$(cat "$victim")" "precious"
	assert_equal "$stderr" "guardshim: error: shm_stats: cannot create /dev/shm/guardshim.$pid: it is a symbolic link (refused)"
	# A dangling link must not create its target.
	run -0 --separate-stderr _shm_exec "ln -s '$BATS_TEST_TMPDIR/created' /dev/shm/guardshim.\$\$ && echo \$\$ >'$BATS_TEST_TMPDIR/pid'"
	rm -f "/dev/shm/guardshim.$(cat "$BATS_TEST_TMPDIR/pid")"
	[ ! -e "$BATS_TEST_TMPDIR/created" ] || fail "the shim followed a dangling symlink"
	assert_equal "$(grep -c 'it is a symbolic link (refused)' <<<"$stderr")" 1
	# Control: a stale file of ours at the name (here a second link to a file
	# on the same tmpfs) is replaced by a fresh segment, which the exit
	# removes; the file the stale name linked to keeps its contents.
	victim="$(mktemp /dev/shm/gs-victim.XXXXXX)"
	SHM_VICTIM="$victim"
	echo "precious" >"$victim"
	run -0 --separate-stderr _shm_exec "ln '$victim' /dev/shm/guardshim.\$\$ && echo \$\$ >'$BATS_TEST_TMPDIR/pid'"
	pid="$(cat "$BATS_TEST_TMPDIR/pid")"
	assert_equal "$stderr" ""
	[ ! -e "/dev/shm/guardshim.$pid" ] || { rm -f "/dev/shm/guardshim.$pid"; fail "stale file not replaced"; }
	assert_equal "$(cat "$victim") $(stat -c %h "$victim")" "precious 1"
}

@test "printf directives in GUARDSHIM_OPTIONS values are plain characters: no crash, file named literally (#7)" {
	cd "$BATS_TEST_TMPDIR"
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS='format=json:log_path=%n%s%x%d%s%s%s%s' "$GS_PROGS/leak_direct"
	[ -f '%n%s%x%d%s%s%s%s' ] || fail "no report file named literally: $(ls)"
	assert_leaks "direct leak_direct_48 48 1" '%n%s%x%d%s%s%s%s'
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS='suppressions=%s%n%x%p%%:log_path=sup.%p.%n' "$GS_PROGS/leak_direct"
	assert_equal "$(grep -c "cannot read suppressions file '%s%n%x%p%%'" <<<"$stderr")" 1
	run -23 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS='%n%n%n=%s%s:format=%n:exitcode=%d:log_path=%%%n' "$GS_PROGS/leak_direct"
	[ "$(grep -c 'guardshim:' <<<"$stderr")" -ge 2 ] || fail "bad keys not reported: $stderr"
}

@test "a setuid-root copy run by an unprivileged user gets no shim: runs normally, writes no report (#7)" {
	[ "$(id -u)" = 0 ] || skip "needs root to make a setuid-root copy"
	command -v setpriv >/dev/null || skip "no setpriv"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	local d
	d="$(mktemp -d /tmp/gs-setuid.XXXXXX)"
	chmod 755 "$d"
	cp "$GS_PROGS/security_setuid" "$d/"
	chown root:root "$d/security_setuid"
	chmod 4755 "$d/security_setuid"
	mkdir -m 1777 "$d/out"
	# Negative control: the same copy run by root (no AT_SECURE) gets the shim.
	run -23 timeout -k 5 "$GS_TIMEOUT" env LD_PRELOAD="$GS_LIB" \
		GUARDSHIM_OPTIONS="format=json:log_path=$d/out/root.%p.json" "$d/security_setuid"
	assert_line "shim loaded"
	run -0 timeout -k 5 "$GS_TIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env LD_PRELOAD="$GS_LIB" GUARDSHIM_OPTIONS="format=json:log_path=$d/out/r.%p.json" \
		"$d/security_setuid"
	local reports
	reports="$(find "$d/out" -name 'r.*' | wc -l)"
	rm -rf "$d"
	assert_line "euid 0"
	assert_line "shim absent"
	assert_line "leaked 48 bytes"
	assert_equal "$reports" 0
}

# A setuid-root program that needs the shim itself (DT_NEEDED + an absolute
# RUNPATH, which the loader honours under AT_SECURE, unlike LD_PRELOAD),
# run by nobody with GUARDSHIM_OPTIONS chosen to harm: log_path names a
# root-owned file, shm_stats asks for a file, verbosity for chatter.
@test "a setuid-root program linked against the shim, run by nobody, ignores GUARDSHIM_OPTIONS: root's file untouched, no shm file, exit 0, silent (#7)" {
	[ "$(id -u)" = 0 ] || skip "needs root to make a setuid-root program"
	command -v setpriv >/dev/null || skip "no setpriv"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	local d
	d="$(mktemp -d /tmp/gs-setuid-linked.XXXXXX)"
	SETUID_DIR="$d"
	chmod 755 "$d"
	cp "$GS_LIB" "$d/libguardshim.so"
	chmod 644 "$d/libguardshim.so"
	cat >"$d/prog.c" <<-'SRC'
	#define _GNU_SOURCE
	#include <guardshim.h>
	#include <link.h>
	#include <malloc.h>
	#include <stdio.h>
	#include <stdlib.h>
	#include <string.h>
	#include <unistd.h>
	static int find_shim(struct dl_phdr_info *i, size_t n, void *c)
	{
	    (void)n; (void)c;
	    return i->dlpi_name && strstr(i->dlpi_name, "libguardshim.so") != NULL;
	}
	static void *volatile sink;
	int main(void)
	{
	    char shm[64];
	    snprintf(shm, sizeof shm, "/dev/shm/guardshim.%d", (int)getpid());
	    printf("euid %d\n", (int)geteuid());
	    printf("shim %s\n", dl_iterate_phdr(find_shim, NULL) ? "mapped" : "not mapped");
	    printf("gs_active %d\n", gs_active());
	    sink = malloc(48);
	    printf("usable %s\n", malloc_usable_size(sink) >= 48 ? "ok" : "wrong");
	    sink = NULL; /* a leak the shim would report (exit 23) */
	    printf("shm file %s\n", access(shm, F_OK) == 0 ? "present" : "absent");
	    return 0;
	}
	SRC
	cc -O0 -g -I"$GS_ROOT/include" -o "$d/prog" "$d/prog.c" -L"$d" -l:libguardshim.so \
		-Wl,-rpath,"$d" -Wl,--enable-new-dtags
	readelf -d "$d/prog" | grep -q "RUNPATH.*$d" || fail "prog has no RUNPATH $d"
	chown root:root "$d/prog"
	chmod 4755 "$d/prog"
	local victim="$d/root-owned.log"
	echo "precious" >"$victim"
	chmod 644 "$victim"
	local opts="log_path=$victim:format=json:shm_stats=1:verbosity=2:exitcode=42"
	# Negative control: root runs it (no AT_SECURE): the shim is active, obeys
	# the options and appends its report to the file.
	run -42 --separate-stderr timeout -k 5 "$GS_TIMEOUT" env GUARDSHIM_OPTIONS="$opts" "$d/prog"
	assert_line "gs_active 1"
	assert_line "shm file present"
	[ "$(wc -l <"$victim")" -gt 1 ] || fail "control: root's run did not append to $victim"
	echo "precious" >"$victim"
	# nobody runs it setuid root: AT_SECURE.
	run -0 --separate-stderr timeout -k 5 "$GS_TIMEOUT" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups env GUARDSHIM_OPTIONS="$opts" "$d/prog"
	assert_line "euid 0"
	assert_line "shim mapped"
	assert_line "gs_active 0"
	assert_line "usable ok"
	assert_line "shm file absent"
	assert_equal "$stderr" ""
	assert_equal "$(cat "$victim")" "precious"
}

@test "calloc, reallocarray, memalign, posix_memalign, aligned_alloc, valloc, pvalloc with overflowing sizes fail exactly as glibc's (#7)" {
	run -0 gs_native security_huge_alloc
	local native="$output"
	run -0 gs_run security_huge_alloc
	assert_equal "$output" "$native"
	refute_line --partial "non-NULL"
	refute_line --partial "clobbered"
	refute_line --partial "other"
	assert_line "done"
	assert_clean_report
}
