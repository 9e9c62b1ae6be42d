/* Proves: blocks glibc allocates for the program inside fopen, its first read, qsort, pthread_create and dlopen are tracked by the shim (gs_get_stats deltas), and untracked again when glibc frees them
 * Expect: lines "fopen blocks +1 bytes +472 tracked 1", "fgetc blocks +1 bytes +B buffer B" (B = st_blksize), "fclose blocks +0 bytes +0", "qsort during blocks +1 bytes +16384", "qsort after blocks +0 bytes +0 allocs +1 frees +1", "pthread_create blocks +1 bytes +D dtv D" (D from the TLS module count), "pthread_create again blocks +0 bytes +0", "dlopen libm.so.6 blocks +6 bytes +4162", "dlclose blocks +1 bytes +2304", "stdin tracked 0", exit 0, leaks:[] */
#define _GNU_SOURCE
#include "guardshim.h"
#include "gs_test.h"
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <sys/stat.h>

#define QSORT_INTS 4096 /* 16 KiB: glibc's msort mallocs its buffer from 1 KiB on */
#define DTV_SURPLUS 14  /* glibc elf/dl-tls.c: spare DTV slots */

static struct gs_stats base;
static int sort_keys[QSORT_INTS];
static struct gs_stats during_sort;
static int sort_calls;

static void mark(void) { gs_get_stats(&base); }

static struct gs_stats now(void)
{
	struct gs_stats s;
	gs_get_stats(&s);
	return s;
}

static long d_blocks(const struct gs_stats *s) { return (long)(s->live_blocks - base.live_blocks); }
static long d_bytes(const struct gs_stats *s) { return (long)(s->live_bytes - base.live_bytes); }

/* 1 when p is the start of a block the shim tracks (clearing a finalizer
 * that was never set changes nothing). */
static int tracked(void *p) { return gs_set_finalizer(p, NULL, NULL) == 0; }

static int cmp_int(const void *a, const void *b)
{
	if (sort_calls++ == 0)
		during_sort = now(); /* glibc's buffer is live while it compares */
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int max_tls_modid_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	size_t *max = data;
	if (info->dlpi_tls_modid > *max)
		*max = info->dlpi_tls_modid;
	return 0;
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void *wait_at_gate(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&gate);
	pthread_mutex_unlock(&gate);
	return NULL;
}

static void step_stdio(const char *self)
{
	mark();
	FILE *f = fopen(self, "r");
	struct gs_stats s = now();
	if (!f)
		exit(2);
	printf("fopen blocks %+ld bytes %+ld tracked %d\n", d_blocks(&s), d_bytes(&s), tracked(f));
	fflush(stdout);
	struct stat st;
	if (fstat(fileno(f), &st) != 0)
		exit(2);
	struct gs_stats opened = now();
	if (fgetc(f) == EOF)
		exit(2);
	s = now();
	printf("fgetc blocks %+ld bytes %+ld buffer %ld\n", (long)(s.live_blocks - opened.live_blocks),
	       (long)(s.live_bytes - opened.live_bytes), (long)st.st_blksize);
	fflush(stdout);
	fclose(f);
	s = now();
	printf("fclose blocks %+ld bytes %+ld\n", d_blocks(&s), d_bytes(&s));
}

static void step_qsort(void)
{
	for (int i = 0; i < QSORT_INTS; i++)
		sort_keys[i] = (i * 7919) % QSORT_INTS;
	mark();
	qsort(sort_keys, QSORT_INTS, sizeof sort_keys[0], cmp_int);
	struct gs_stats s = now();
	printf("qsort during blocks %+ld bytes %+ld\n", d_blocks(&during_sort), d_bytes(&during_sort));
	printf("qsort after blocks %+ld bytes %+ld allocs %+ld frees %+ld\n", d_blocks(&s),
	       d_bytes(&s), (long)(s.total_allocs - base.total_allocs),
	       (long)(s.total_frees - base.total_frees));
}

/* The new thread's DTV: calloc(max modid + DTV_SURPLUS + 2, 16) in ld.so.
 * A second thread takes the joined one's cached stack, DTV included. */
static void step_threads(void)
{
	size_t max_modid = 0;
	dl_iterate_phdr(max_tls_modid_cb, &max_modid);
	for (int round = 0; round < 2; round++) {
		pthread_t t;
		pthread_mutex_lock(&gate);
		mark();
		if (pthread_create(&t, NULL, wait_at_gate, NULL) != 0)
			exit(2);
		struct gs_stats s = now();
		pthread_mutex_unlock(&gate);
		pthread_join(t, NULL);
		if (round == 0)
			printf("pthread_create blocks %+ld bytes %+ld dtv %zu\n", d_blocks(&s), d_bytes(&s),
			       (max_modid + DTV_SURPLUS + 2) * 16);
		else
			printf("pthread_create again blocks %+ld bytes %+ld\n", d_blocks(&s), d_bytes(&s));
	}
}

/* libm by soname: its path (from ld.so.cache) is fixed, so ld.so's link
 * map, names and search list have fixed sizes; dlclose keeps the 2304-byte
 * _dl_find_object segment for the next dlopen. */
static void step_dlopen(void)
{
	mark();
	void *h = dlopen("libm.so.6", RTLD_NOW);
	struct gs_stats s = now();
	if (!h)
		exit(2);
	printf("dlopen libm.so.6 blocks %+ld bytes %+ld\n", d_blocks(&s), d_bytes(&s));
	dlclose(h);
	s = now();
	printf("dlclose blocks %+ld bytes %+ld\n", d_blocks(&s), d_bytes(&s));
}

/* usage: interpose_libc_calls */
int main(int argc, char **argv)
{
	(void)argc;
	gs_test_require_shim();
	printf("start\n"); /* stdout's own buffer, before any measurement */
	fflush(stdout);
	step_stdio(argv[0]);
	step_qsort();
	step_threads();
	step_dlopen();
	printf("stdin tracked %d\n", tracked(stdin));
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
