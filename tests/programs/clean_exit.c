/* Proves: a leak-free program that uses stdio, locale, getpwnam, localtime, dlopen, threads, qsort and fopen gets zero records (libc's own caches are not leaks)
 * Expect: leaks:[] in the JSON report, exit 0; text format prints nothing */
#include "gs_test.h"
#include <dlfcn.h>
#include <locale.h>
#include <pthread.h>
#include <pwd.h>
#include <time.h>

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void *thread_body(void *arg)
{
	char *buf = malloc(128);
	snprintf(buf, 128, "thread %ld", (long)(intptr_t)arg);
	free(buf);
	return NULL;
}

/* usage: clean_exit */
int main(void)
{
	if (!setlocale(LC_ALL, "C.UTF-8"))
		printf("setlocale C.UTF-8 unavailable\n");

	struct passwd *pw = getpwnam("root");
	printf("root uid %d\n", pw ? (int)pw->pw_uid : -1);

	time_t t = 0;
	struct tm *tm = localtime(&t);
	printf("localtime ok %d\n", tm != NULL);

	void *m = dlopen("libm.so.6", RTLD_NOW);
	if (m) {
		double (*cosp)(double) = (double (*)(double))dlsym(m, "cos");
		printf("cos(0) = %.1f\n", cosp ? cosp(0.0) : -1.0);
	}

	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, thread_body, (void *)(intptr_t)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);

	int v[1000];
	for (int i = 0; i < 1000; i++)
		v[i] = (i * 7919) % 1000;
	qsort(v, 1000, sizeof v[0], cmp_int);
	printf("sorted %d..%d\n", v[0], v[999]);

	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		char line[256];
		int n = 0;
		while (fgets(line, sizeof line, f))
			n++;
		fclose(f);
		printf("status lines > 0: %d\n", n > 0);
	}
	printf("done\n");
	return 0;
}
