/* Proves: how often periodic scans interrupt a program's sleeping threads: THREADS threads loop on 2 ms sleeps (nanosleep, poll, epoll_wait or a mix) for SECONDS and count the calls that return EINTR; the scans during that window come from gs_get_stats
 * Expect: THREADS SECONDS [nanosleep|poll|epoll|mixed] → "scans S" (scans counted from just before the window to 0.5 s after it, so every scan that stopped the threads inside it), one "thread I CALL calls C eintr E" line per thread, "max_eintr M" and "total_eintr T"; with scan_interval=1 for 3 s, at most one EINTR per thread per scan (M <= S); without scans, 0 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>

#include "guardshim.h"
#include "gs_test.h"

#define MAXT 64

enum call { CALL_NANOSLEEP, CALL_POLL, CALL_EPOLL };
static const char *const call_name[] = {"nanosleep", "poll", "epoll_wait"};

struct worker {
	pthread_t t;
	enum call call;
	long calls, eintr;
};

static struct worker w[MAXT];
static double deadline_ms;
static pthread_barrier_t start;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *sleeper(void *arg)
{
	struct worker *me = arg;
	int ep = me->call == CALL_EPOLL ? epoll_create1(EPOLL_CLOEXEC) : -1;
	pthread_barrier_wait(&start);
	while (now_ms() < deadline_ms) {
		int r;
		switch (me->call) {
		case CALL_NANOSLEEP: {
			struct timespec ts = {0, 2 * 1000000L};
			r = nanosleep(&ts, NULL);
			break;
		}
		case CALL_POLL: r = poll(NULL, 0, 2); break;
		default: {
			struct epoll_event ev;
			r = epoll_wait(ep, &ev, 1, 2);
			break;
		}
		}
		me->calls++;
		if (r < 0 && errno == EINTR)
			me->eintr++;
	}
	if (ep >= 0)
		close(ep);
	return NULL;
}

static size_t scans_now(void)
{
	struct gs_stats st;
	if (!gs_get_stats || gs_get_stats(&st) != 0)
		return 0;
	return st.scans;
}

int main(int argc, char **argv)
{
	int n = atoi(gs_test_arg(argc, argv, 1, "4"));
	double secs = atof(gs_test_arg(argc, argv, 2, "3"));
	const char *mode = gs_test_arg(argc, argv, 3, "mixed");
	if (n < 1 || n > MAXT)
		return 2;
	pthread_barrier_init(&start, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		if (!strcmp(mode, "nanosleep"))
			w[i].call = CALL_NANOSLEEP;
		else if (!strcmp(mode, "poll"))
			w[i].call = CALL_POLL;
		else if (!strcmp(mode, "epoll"))
			w[i].call = CALL_EPOLL;
		else
			w[i].call = (enum call)(i % 3);
		pthread_create(&w[i].t, NULL, sleeper, &w[i]);
	}
	deadline_ms = now_ms() + secs * 1e3;
	size_t s0 = scans_now();
	pthread_barrier_wait(&start);
	long max = 0, total = 0;
	for (int i = 0; i < n; i++)
		pthread_join(w[i].t, NULL);
	/* The scan count rises when a scan ends: let a scan whose stop fell
	 * inside the window finish (a scan takes milliseconds here; the next
	 * periodic one is a second away). */
	struct timespec settle = {0, 500 * 1000000L};
	while (nanosleep(&settle, &settle) != 0)
		;
	size_t s1 = scans_now();
	printf("scans %zu\n", s1 - s0);
	for (int i = 0; i < n; i++) {
		printf("thread %d %s calls %ld eintr %ld\n", i, call_name[w[i].call], w[i].calls,
		       w[i].eintr);
		max = w[i].eintr > max ? w[i].eintr : max;
		total += w[i].eintr;
	}
	printf("max_eintr %ld\ntotal_eintr %ld\n", max, total);
	gs_test_clear_stack();
	return 0;
}
