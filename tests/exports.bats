#!/usr/bin/env bats
# exports.bats: the shim exports only the malloc family, C++ new/delete,
# pthread_create, the declared gs_* API and __lsan_* (tests/check-exports,
# also `make check-exports`): a leaked symbol fails CI here.
bats_require_minimum_version 1.5.0
load helper

@test "the built shim exports only the allowed symbols, the whole malloc family among them (#7)" {
	run -0 "$GS_ROOT/tests/check-exports" "$GS_LIB"
	assert_output --regexp "^ok - .*libguardshim\.so exports [0-9]+ symbols, all allowed$"
	run -0 make --no-print-directory -s -C "$GS_ROOT" check-exports
	assert_output --partial "all allowed"
}

# A stand-in shim: the allowed symbols, plus whatever SRC adds.
_fake_shim() {
	local extra=$1
	cat >"$BATS_TEST_TMPDIR/fake.c" <<-SRC
	#include <stddef.h>
	#define E __attribute__((visibility("default")))
	E void *malloc(size_t n) { (void)n; return NULL; }
	E void free(void *p) { (void)p; }
	E void *calloc(size_t a, size_t b) { (void)a; (void)b; return NULL; }
	E void *realloc(void *p, size_t n) { (void)p; (void)n; return NULL; }
	E void *reallocarray(void *p, size_t a, size_t b) { (void)p; (void)a; (void)b; return NULL; }
	E int posix_memalign(void **p, size_t a, size_t n) { (void)p; (void)a; (void)n; return 12; }
	E void *aligned_alloc(size_t a, size_t n) { (void)a; (void)n; return NULL; }
	E void *memalign(size_t a, size_t n) { (void)a; (void)n; return NULL; }
	E void *valloc(size_t n) { (void)n; return NULL; }
	E void *pvalloc(size_t n) { (void)n; return NULL; }
	E size_t malloc_usable_size(void *p) { (void)p; return 0; }
	E int pthread_create(void) { return 0; }
	E void *_Znwm(size_t n) { (void)n; return NULL; }
	E void _ZdlPv(void *p) { (void)p; }
	E int gs_active(void) { return 1; }
	E void __lsan_disable(void) {}
	$extra
	SRC
	cc -shared -fPIC -fvisibility=hidden -o "$BATS_TEST_TMPDIR/fake.so" "$BATS_TEST_TMPDIR/fake.c"
}

@test "a shim that lets out a helper, an undeclared gs_ function or loses malloc_usable_size fails check-exports (#7)" {
	# Control: the allowed set alone passes.
	_fake_shim ""
	run -0 "$GS_ROOT/tests/check-exports" "$BATS_TEST_TMPDIR/fake.so"
	assert_output --regexp "^ok - .* exports 16 symbols, all allowed$"
	_fake_shim 'E int handle_insert(void) { return 0; } E int gs_internal_lookup(void) { return 0; }'
	run -1 "$GS_ROOT/tests/check-exports" "$BATS_TEST_TMPDIR/fake.so"
	assert_line "FAIL - exported symbol handle_insert is not in the allowed list"
	assert_line "FAIL - exported gs_internal_lookup is not declared in $GS_ROOT/include/guardshim.h"
	assert_line --regexp "^check-exports: 2 problem\(s\) in 18 exported symbols of "
	# A missing entry point is as bad: the program's calls would bypass the shim.
	sed -i '/malloc_usable_size/d' "$BATS_TEST_TMPDIR/fake.c"
	cc -shared -fPIC -fvisibility=hidden -o "$BATS_TEST_TMPDIR/fake.so" "$BATS_TEST_TMPDIR/fake.c"
	run -1 "$GS_ROOT/tests/check-exports" "$BATS_TEST_TMPDIR/fake.so"
	assert_line "FAIL - malloc_usable_size is not exported"
}

@test "check-exports fails on a file that is not a shared object (#7)" {
	echo "not an ELF file" >"$BATS_TEST_TMPDIR/junk.so"
	run -2 "$GS_ROOT/tests/check-exports" "$BATS_TEST_TMPDIR/junk.so"
	assert_output --partial "FAIL - nm -D --defined-only"
}
