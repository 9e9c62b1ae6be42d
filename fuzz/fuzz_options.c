/* fuzz_options.c: libFuzzer harness for the GUARDSHIM_OPTIONS parser
 * (preload/options.c). The input, NUL-terminated, is the option string.
 * Checks after every parse: each integer option is inside its declared
 * range, each enum inside its list, each string option NUL-terminated
 * inside its buffer; opt_signal_number() on the same bytes stays in
 * [-1, 64]. opt_parse() reports bad keys on stderr: fuzz/run passes
 * -close_fd_mask=2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int enum_count(const char *values)
{
	int n = 1;
	for (const char *p = values; *p; p++)
		n += *p == '|';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	int bad = opt_parse(s);
	if (bad < 0)
		abort();
#define OPT_STR(name, def, help)                                                                   \
	if (memchr(opt.name, '\0', sizeof opt.name) == NULL)                                        \
		abort();
#define OPT_INT(name, def, lo, hi, help)                                                           \
	if (opt.name < (lo) || opt.name > (hi))                                                     \
		abort();
#define OPT_ENUM(name, def, values, help)                                                          \
	if (opt.name < 0 || opt.name >= enum_count(values))                                         \
		abort();
#define OPT_SIGNAL(name, def, help)                                                                \
	if (opt.name < 0 || opt.name > 64)                                                          \
		abort();
#include "options.def"
#undef OPT_STR
#undef OPT_INT
#undef OPT_ENUM
#undef OPT_SIGNAL

	int sig = opt_signal_number(s);
	if (sig < -1 || sig > 64)
		abort();
	free(s);
	return 0;
}
