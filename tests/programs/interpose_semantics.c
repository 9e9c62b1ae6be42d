/* Proves: the shim keeps C allocation semantics: realloc(p,0), free(NULL), malloc(0), overflow → NULL+ENOMEM, alignment, calloc zeroing, usable size
 * Expect: prints the same "ok"/"FAIL" lines with and without the shim, no FAIL, exit 0, leaks:[] */
#define _GNU_SOURCE
#include "gs_test.h"
#include <errno.h>
#include <malloc.h>

static int failures;
/* volatile so the compiler cannot see (and warn about) the overflowing sizes */
static volatile size_t half_max = SIZE_MAX / 2, quarter_max = SIZE_MAX / 4, huge = SIZE_MAX - 4096;

static void check(int ok, const char *what)
{
	printf("%s %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

int main(void)
{
	errno = 0;
	free(NULL);
	check(errno == 0, "free(NULL) is a no-op");

	void *z1 = malloc(0), *z2 = malloc(0);
	check(z1 != NULL && z2 != NULL && z1 != z2, "malloc(0) returns distinct non-NULL pointers");
	free(z1);
	free(z2);

	void *r = malloc(32);
	memset(r, 0x11, 32);
	void *r0 = realloc(r, 0);
	check(r0 == NULL, "realloc(p, 0) frees p and returns NULL (glibc)");

	void *rn = realloc(NULL, 40);
	check(rn != NULL, "realloc(NULL, n) allocates");
	memcpy(rn, "0123456789", 10);
	rn = realloc(rn, 100000);
	check(rn != NULL && memcmp(rn, "0123456789", 10) == 0, "realloc keeps the contents when growing");
	rn = realloc(rn, 4);
	check(rn != NULL && memcmp(rn, "0123", 4) == 0, "realloc keeps the contents when shrinking");
	free(rn);

	errno = 0;
	void *c = calloc(half_max, 3);
	check(c == NULL && errno == ENOMEM, "calloc overflow → NULL, errno ENOMEM");

	errno = 0;
	void *ra = reallocarray(NULL, half_max, 3);
	check(ra == NULL && errno == ENOMEM, "reallocarray overflow → NULL, errno ENOMEM");

	void *keep = malloc(8);
	errno = 0;
	void *ra2 = reallocarray(keep, quarter_max, 8);
	check(ra2 == NULL && errno == ENOMEM, "reallocarray overflow on a live block → NULL, ENOMEM");
	free(keep);                        /* still owned by us after the failure */

	errno = 0;
	void *big = malloc(huge);
	check(big == NULL && errno == ENOMEM, "malloc(huge) → NULL, errno ENOMEM");

	errno = 0;
	void *bigr = realloc(NULL, huge);
	check(bigr == NULL && errno == ENOMEM, "realloc(NULL, huge) → NULL, errno ENOMEM");

	for (size_t n = 1; n <= 5000; n = n * 3 + 1) {
		char *d = malloc(n);
		memset(d, 0xab, n);
		free(d);
		char *cz = calloc(n, 1);
		int zero = 1;
		for (size_t i = 0; i < n; i++)
			zero &= cz[i] == 0;
		check(zero, "calloc memory is zeroed");
		check(malloc_usable_size(cz) >= n, "malloc_usable_size >= requested (calloc)");
		free(cz);
		void *m = malloc(n);
		check(malloc_usable_size(m) >= n, "malloc_usable_size >= requested (malloc)");
		free(m);
	}
	check(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) == 0");

	size_t aligns[] = { 16, 32, 64, 256, 4096, 65536 };
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		size_t a = aligns[i];
		void *p = NULL;
		int rc = posix_memalign(&p, a, 100);
		check(rc == 0 && ((uintptr_t)p % a) == 0, "posix_memalign alignment");
		check(malloc_usable_size(p) >= 100, "malloc_usable_size >= requested (posix_memalign)");
		free(p);
		p = aligned_alloc(a, a * 2);
		check(p && ((uintptr_t)p % a) == 0, "aligned_alloc alignment");
		free(p);
		p = memalign(a, 10);
		check(p && ((uintptr_t)p % a) == 0, "memalign alignment");
		free(p);
	}
	void *bad = (void *)1;
	check(posix_memalign(&bad, 24, 100) == EINVAL && bad == (void *)1,
	      "posix_memalign(non power of two) → EINVAL, out unchanged");

	long page = sysconf(_SC_PAGESIZE);
	void *v = valloc(10);
	check(v && ((uintptr_t)v % (uintptr_t)page) == 0, "valloc is page aligned");
	free(v);
	void *pv = pvalloc(1);
	check(pv && ((uintptr_t)pv % (uintptr_t)page) == 0 && malloc_usable_size(pv) >= (size_t)page,
	      "pvalloc rounds up to a page");
	free(pv);

	printf("failures %d\n", failures);
	return failures ? 1 : 0;
}
