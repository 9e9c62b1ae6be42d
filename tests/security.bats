#!/usr/bin/env bats
# security.bats: the shim facing hostile input: planted symlinks at the
# report path, printf directives in GUARDSHIM_OPTIONS, setuid programs, and
# allocation sizes made to overflow.
bats_require_minimum_version 1.5.0
load helper

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
