#!/usr/bin/env bats
# The shim's own code under AddressSanitizer + UBSan, and the guardshim tool
# under Valgrind (#7): the pieces of `make check-sanitize` (tests/check-sanitize),
# each with a negative control proving the check can fail.
load helper
bats_require_minimum_version 1.5.0

setup_file() {
	cd "$BATS_TEST_DIRNAME/.."
	# Builds build/sanitize/{test_core,test_report,test_tables,test_guardian,libdso.so}; the shim, the
	# tool and the test programs come from `make all test-programs`.
	# A failed build must not leave the tests running older binaries.
	make --no-print-directory -s -j2 sanitize-build >"$BATS_FILE_TMPDIR/build.log" 2>&1 ||
		touch "$BATS_FILE_TMPDIR/build.failed"
}

# The sanitizer build of setup_file succeeded (else its log, and fail).
built() {
	if [ -e "$BATS_FILE_TMPDIR/build.failed" ]; then
		cat "$BATS_FILE_TMPDIR/build.log"
		fail "make sanitize-build failed"
	fi
}

@test "the shim's core (handle table, options, depot, mark, classify) passes its unit driver under ASan and UBSan (#7)" {
	built
	run -0 timeout -k 5 300 "$GS_ROOT/tests/check-sanitize" core
	assert_line --regexp '^ok - test_core .* under ASan\+UBSan: [0-9]+ checks passed'
	assert_line "1 passed, 0 failed"
}

@test "the report path (report, symbolize, json, suppress) passes test_report under ASan and UBSan (#7)" {
	built
	run -0 timeout -k 5 300 "$GS_ROOT/tests/check-sanitize" report
	assert_line --regexp '^ok - test_report .* under ASan\+UBSan: [0-9]+ checks passed$'
	assert_line "1 passed, 0 failed"
}

@test "the bookkeeping tables (sites, owners, leakhist, misuse, exesym, gate) pass test_tables under ASan and UBSan (#7)" {
	built
	run -0 timeout -k 5 300 "$GS_ROOT/tests/check-sanitize" tables
	assert_line --regexp '^ok - test_tables .* under ASan\+UBSan: [0-9]+ checks passed$'
	assert_line "1 passed, 0 failed"
}

@test "guardian.c's scan protocol (queues, finalizer order, random graphs) passes test_guardian under ASan and UBSan (#7)" {
	built
	run -0 timeout -k 5 300 "$GS_ROOT/tests/check-sanitize" guardian
	assert_line --regexp '^ok - test_guardian .* under ASan\+UBSan: [0-9]+ checks passed'
	assert_line "1 passed, 0 failed"
}

@test "guardshim report (every format, filters, corrupt input), run, stat, top and --help run clean under Valgrind (#7)" {
	run -0 timeout -k 5 300 "$GS_ROOT/tests/check-sanitize" tools
	assert_line --partial "ok - valgrind: guardshim report --format svg (merge of two reports)"
	assert_line --partial "ok - valgrind: guardshim report of a truncated report (exit 4)"
	assert_line --partial "ok - valgrind: guardshim run of a leaking program, reports gathered and summarised (exit 23)"
	assert_line --partial "ok - valgrind: guardshim stat of a live process (shm_stats=1)"
	assert_line --partial "ok - valgrind: guardshim stat of a corrupt stats segment (exit 2)"
	assert_line --partial "ok - valgrind: guardshim --help"
	refute_line --partial "FAIL"
}

@test "a driver that overflows a heap block fails the sanitizer check, with ASan's report shown (#7)" {
	d="$BATS_TEST_TMPDIR"
	cat >"$d/bad.c" <<-'SRC'
	#include <stdio.h>
	#include <stdlib.h>
	int main(int argc, char **argv)
	{
	    (void)argv;
	    char *volatile p = malloc(16);
	    puts("ok - a check that passes");
	    printf("%d\n", p[15 + argc]); /* one past the end */
	    free(p);
	    return 0;
	}
	SRC
	cc -fsanitize=address,undefined -g -O1 -o "$d/test_core" "$d/bad.c"
	GS_SANITIZE_DIR="$d" run -1 "$GS_ROOT/tests/check-sanitize" core
	assert_line --partial "FAIL - test_core"
	assert_output --partial "heap-buffer-overflow"
	assert_line "0 passed, 1 failed"
}

@test "a tool that leaks a block fails the Valgrind check (#7)" {
	d="$BATS_TEST_TMPDIR"
	cat >"$d/leaky.c" <<-'SRC'
	#include <stdlib.h>
	#include <string.h>
	int main(void)
	{
	    char *volatile p = malloc(100);
	    memset(p, 1, 100);
	    p = NULL; /* definitely lost */
	    return 0;
	}
	SRC
	cc -O0 -g -o "$d/leaky" "$d/leaky.c"
	GS_CLI="$d/leaky" run -1 "$GS_ROOT/tests/check-sanitize" tools
	assert_line --partial "FAIL - valgrind: guardshim --help: exit 99, wanted 0"
	assert_output --partial "definitely lost"
}
