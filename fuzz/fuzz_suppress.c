/* fuzz_suppress.c: libFuzzer harness for the suppressions parser and
 * matcher (preload/suppress.c). Input: suppression-file text, then a line
 * "--" and lines to match, three at a time (module, function, file).
 * Every line is also matched against every pattern with
 * suppress_template_match(); for a pattern without '^', '$' or '*' the
 * result must equal strstr() (TemplateMatch's substring rule).
 * Parser warnings go to stderr: fuzz/run passes -close_fd_mask=2. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "suppress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_hits;

static void count_hit(const char *pattern, size_t blocks, size_t bytes, void *ctx)
{
	(void)blocks;
	(void)bytes;
	(void)ctx;
	if (!pattern)
		abort();
	n_hits++;
}

/* The pattern lines of `text` as suppress.c keeps them ("leak:" stripped, trimmed). */
static void check_plain_patterns(char *text, char **lines, size_t n)
{
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		while (*line == ' ' || *line == '\t' || *line == '\r' || *line == '\v' || *line == '\f')
			line++;
		if (strncmp(line, "leak:", 5) != 0)
			continue;
		char *p = line + 5;
		size_t len = strlen(p);
		while (len && strchr(" \t\r\v\f", p[len - 1]))
			p[--len] = '\0';
		if (!*p || strpbrk(p, "^$*"))
			continue;
		for (size_t i = 0; i < n; i++) {
			bool want = strstr(lines[i], p) != NULL;
			if (suppress_template_match(p, lines[i]) != want)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *sep = strstr(buf, "\n--\n");
	char *rest = NULL;
	if (sep) {
		*sep = '\0';
		rest = sep + 4;
	}

	suppress_fini();
	suppress_add_builtin(buf);

	char *lines[48];
	size_t n = 0;
	if (rest)
		for (char *l = strtok(rest, "\n"); l && n < 48; l = strtok(NULL, "\n"))
			lines[n++] = l;
	for (size_t i = 0; i + 2 < n || (i < n && i + 2 >= n); i += 3) {
		const char *m = lines[i], *f = i + 1 < n ? lines[i + 1] : NULL,
			   *file = i + 2 < n ? lines[i + 2] : NULL;
		int idx = suppress_match(m, f, NULL, file);
		if (idx >= 0)
			suppress_hit(idx, 1, 16);
		if (i + 3 > n)
			break;
	}
	n_hits = 0;
	suppress_for_each_hit(count_hit, NULL);
	suppress_clear_hits();
	if (suppress_any() && !buf[0])
		abort();

	char *copy = strdup(buf);
	if (copy) {
		check_plain_patterns(copy, lines, n);
		free(copy);
	}
	suppress_fini();
	free(buf);
	return 0;
}
