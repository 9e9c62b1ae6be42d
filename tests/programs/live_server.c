/* Proves: a server that never exits normally (it ends in _exit) has its leaks found by live reports only: each request leaks LEAKS blocks of 72 B from leak_request_buffer, and a cache filled by cache_remember grows by 1 KiB per request (or stays flat: a ring of 16 entries)
 * Expect: REQUESTS SLEEP_MS LEAKS grow|flat [LINGER_MS [STOPFILE]] → "pid N", "ready", "served R", then _exit(0) with no exit report; scan_interval/report_signal reports show "direct leak_request_buffer 72*B B" (grown as requests add up) and, with grow, one "growing" record for cache_remember; LEAKS=0 → no leak record; flat → no growing record. With STOPFILE the server keeps serving (REQUESTS is only a cap) until that file exists */
#include <signal.h>
#include <time.h>

#include "gs_test.h"

#define LEAK_SIZE 72
#define CACHE_ENTRY 1024
#define CACHE_RING 16
#define CACHE_MAX 100000

static void *volatile leak_sink;
static void *volatile cache[CACHE_MAX];
static volatile size_t cache_len;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The known leak: a per-request buffer nobody frees. */
static GS_NOINLINE void leak_request_buffer(int req)
{
	char *p = malloc(LEAK_SIZE);
	snprintf(p, LEAK_SIZE, "request %d", req);
	leak_sink = p;
	leak_sink = NULL;
}

/* The growing cache: reachable from `cache`, never trimmed (grow) or a
 * ring that frees the entry it replaces (flat). */
static GS_NOINLINE void cache_remember(int req, int grow)
{
	char *e = malloc(CACHE_ENTRY);
	memset(e, req & 0xff, CACHE_ENTRY);
	if (grow) {
		if (cache_len < CACHE_MAX)
			cache[cache_len++] = e;
		else
			free(e);
	} else {
		size_t slot = (size_t)req % CACHE_RING;
		free(cache[slot]);
		cache[slot] = e;
	}
}

/* Transient work: allocated and freed within the request. */
static GS_NOINLINE void handle_request(int req, int leaks, int grow)
{
	char *scratch = malloc(256);
	memset(scratch, 0, 256);
	for (int i = 0; i < leaks; i++)
		leak_request_buffer(req);
	cache_remember(req, grow);
	free(scratch);
}

int main(int argc, char **argv)
{
	int requests = atoi(gs_test_arg(argc, argv, 1, "40"));
	long sleep = atol(gs_test_arg(argc, argv, 2, "100"));
	int leaks = atoi(gs_test_arg(argc, argv, 3, "3"));
	int grow = strcmp(gs_test_arg(argc, argv, 4, "grow"), "flat") != 0;
	long linger = atol(gs_test_arg(argc, argv, 5, "0"));
	const char *stopfile = gs_test_arg(argc, argv, 6, NULL);

	printf("pid %d\n", (int)getpid());
	printf("ready\n");
	fflush(stdout);
	int served = 0;
	for (; served < requests; served++) {
		if (stopfile && access(stopfile, F_OK) == 0)
			break;
		handle_request(served, leaks, grow);
		gs_test_clear_stack();
		sleep_ms(sleep);
	}
	/* A STOPFILE run that reached its cap idles until told to stop. */
	while (stopfile && access(stopfile, F_OK) != 0)
		sleep_ms(20);
	gs_test_clear_stack();
	sleep_ms(linger); /* let the last interval scans see the final state */
	printf("served %d\n", served);
	fflush(stdout);
	_exit(0); /* no atexit, no exit-time check: only live reports can tell */
}
