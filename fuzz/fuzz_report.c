/* fuzz_report.c: libFuzzer harness for the `guardshim report` reader
 * (tools/reports.c): the input is the contents of a report file (one JSON
 * object or JSON Lines). A parsed set is then demangled (function names
 * come from the file: libstdc++'s demangler sees hostile input too), keyed,
 * merged and totalled as `guardshim report` does. Bad input prints one line on stderr:
 * fuzz/run passes -close_fd_mask=2. */
#include <stdint.h>
#include <stdlib.h>

#include "demangle.h"
#include "reports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reportset set = {0};
	if (reports_parse(&set, "fuzz", (const char *)data, size, 0) == 0) {
		demangle_frames(&set);
		reports_set_keys(&set);
		size_t n = 0;
		struct record *m = reports_merge(&set, -1, &n);
		struct totals t = records_totals(m, n);
		(void)t;
		for (size_t i = 0; i < n; i++)
			(void)record_user_frame(&m[i]);
		if (set.nprocs) {
			size_t pn = 0;
			struct record *pm = proc_merge(&set.procs[0], &pn);
			free(pm);
		}
		free(m);
	}
	reports_free(&set);
	return 0;
}
