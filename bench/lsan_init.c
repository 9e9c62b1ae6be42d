/* SPDX-License-Identifier: MIT
 * lsan_init.so: preloaded after liblsan.so.0 by bench/run so LeakSanitizer initialises before main.
 *
 * GCC 12's liblsan, when preloaded into a program that was not built with -fsanitize=leak, only
 * initialises on its first malloc. Interceptors reached before that (sqlite3 and `as` call
 * signal() first) jump through a null REAL() pointer and the program dies with SIGSEGV at pc 0.
 * A linked-in LSan initialises from .preinit_array; this constructor does the same for the
 * preloaded one by making one allocation.
 */
#include <stdlib.h>

__attribute__((constructor)) static void bench_lsan_init(void)
{
	void *volatile p = malloc(1);
	free(p);
}
