/* Proves: 64 threads allocating, freeing, creating+joining threads, forking and taking signals
 * (SIGUSR1: empty handler; SIGUSR2: malloc+free) while scans run (arg "collect": a thread calling
 * gs_collect in a loop; "interval": run with scan_interval=1) neither crash nor deadlock; at the
 * end total_allocs - total_frees == live_blocks, and the exit report holds exactly the 64 blocks
 * dropped on purpose. Not a benchmark: the figures it prints are for the record, never asserted.
 * Expect: stdout "pid N", "stats consistent", "children ok"; exactly `direct stress_leak_40 2560 64`,
 * exit 23. Args: MODE (collect|interval|none) SECONDS (default 3) FEATURES (default "tfem": t =
 * create+join threads, f = fork, e = SIGUSR1 with an empty handler, m = SIGUSR2 whose handler
 * mallocs; "-" = none of them: plain malloc/calloc/realloc/free). */
#include <guardshim.h>

#include "gs_test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#define N_WORKERS 64
#define MAX_FORKS_PER_WORKER 2

static double deadline;
static int f_threads, f_fork, f_sig_empty, f_sig_malloc;
static atomic_long n_ops, n_threads, n_forks, n_sig1, n_sig2, n_collects, bad_children;
static atomic_int stop_scanner;
static void *volatile leaked[N_WORKERS];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add_explicit(&n_sig1, 1, memory_order_relaxed);
}

static void on_usr2(int sig)
{
	(void)sig;
	int saved = errno;
	void *volatile p = malloc(48);
	free(p);
	atomic_fetch_add_explicit(&n_sig2, 1, memory_order_relaxed);
	errno = saved;
}

/* Zeroed: a recycled chunk may hold stale words, and one that happens to
 * point at another worker's leaked block would make that one "indirect"
 * (glibc's freed per-thread caches hold raw chunk pointers; CI saw it). */
static GS_NOINLINE void *stress_leak_40(void)
{
	return calloc(1, 40);
}

static void *short_thread(void *arg)
{
	void *volatile p = malloc((size_t)(uintptr_t)arg);
	free(p);
	return NULL;
}

static GS_NOINLINE void do_fork(unsigned id)
{
	pid_t pid = fork();
	if (pid < 0)
		return; /* EAGAIN under load: not what this test is about */
	if (pid == 0) {
		void *volatile p = malloc(100 + id);
		free(p);
		p = calloc(3, 33);
		free(p);
		if (id % 2)
			_exit(0);
		exit(0); /* runs the child's exit check too */
	}
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* exit(0) in a child may turn into 23 when its check reports leaks
	 * (other threads' blocks are unreachable there): only a signal is bad. */
	if (!WIFEXITED(st))
		atomic_fetch_add(&bad_children, 1);
	atomic_fetch_add(&n_forks, 1);
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, seed = id * 2654435761u + 1;
	void *slots[64] = {0};
	int forks = 0;
	leaked[id] = stress_leak_40();
	leaked[id] = NULL; /* dropped: the one block per worker the report must show */
	for (long i = 0; now() < deadline; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8, s = r % 64;
		free(slots[s]);
		slots[s] = (r & 0x100) ? malloc(r % 4096 + 1) : calloc(1, r % 200 + 1);
		if ((r & 0x3ff) == 7) {
			void *np = realloc(slots[s], r % 10000 + 1);
			if (np)
				slots[s] = np;
		}
		if (f_threads && i % 512 == 0) {
			pthread_t t;
			if (pthread_create(&t, NULL, short_thread, (void *)(uintptr_t)(r % 1000 + 1)) == 0) {
				pthread_join(t, NULL);
				atomic_fetch_add(&n_threads, 1);
			}
		}
		if (f_fork && i % 4096 == 4095 && forks < MAX_FORKS_PER_WORKER) {
			forks++;
			do_fork(id);
		}
		atomic_fetch_add_explicit(&n_ops, 1, memory_order_relaxed);
	}
	for (int k = 0; k < 64; k++)
		free(slots[k]);
	gs_test_clear_stack();
	return NULL;
}

static void *scanner(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_scanner)) {
		if (gs_active && gs_active()) {
			gs_collect();
			atomic_fetch_add(&n_collects, 1);
		}
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void *signaler(void *arg)
{
	pthread_t *ws = arg;
	unsigned seed = 7;
	/* Stops at the deadline, before main joins the workers: pthread_kill
	 * on a joined thread is undefined. */
	while (now() < deadline) {
		seed = seed * 1103515245u + 12345u;
		int sig = (f_sig_empty && (!f_sig_malloc || (seed & 0x10000))) ? SIGUSR1 : SIGUSR2;
		pthread_kill(ws[(seed >> 8) % N_WORKERS], sig);
		struct timespec ts = {0, 200 * 1000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "collect");
	double secs = atof(gs_test_arg(argc, argv, 2, "3"));
	const char *features = gs_test_arg(argc, argv, 3, "tfem");
	f_threads = strchr(features, 't') != NULL;
	f_fork = strchr(features, 'f') != NULL;
	f_sig_empty = strchr(features, 'e') != NULL;
	f_sig_malloc = strchr(features, 'm') != NULL;
	printf("pid %d\n", (int)getpid());
	fflush(stdout);

	struct sigaction sa = {0};
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);

	double t0 = now();
	deadline = t0 + secs;
	static pthread_t ws[N_WORKERS];
	pthread_t sc, sg;
	for (unsigned i = 0; i < N_WORKERS; i++)
		if (pthread_create(&ws[i], NULL, worker, (void *)(uintptr_t)i) != 0) {
			perror("pthread_create");
			return 2;
		}
	int scanning = strcmp(mode, "collect") == 0;
	if (scanning)
		pthread_create(&sc, NULL, scanner, NULL);
	int signalling = f_sig_empty || f_sig_malloc;
	if (signalling)
		pthread_create(&sg, NULL, signaler, ws);
	if (signalling)
		pthread_join(sg, NULL);
	for (unsigned i = 0; i < N_WORKERS; i++)
		pthread_join(ws[i], NULL);
	atomic_store(&stop_scanner, 1);
	if (scanning)
		pthread_join(sc, NULL);

	struct gs_stats st;
	if (gs_get_stats && gs_get_stats(&st) == 0) {
		/* interval mode: the load is over; give the background thread up to
		 * 15 s to finish a scan (a loaded 2-core machine can take seconds),
		 * so "scans" says whether one ran, not how fast. */
		if (strcmp(mode, "interval") == 0)
			for (int i = 0; i < 150 && gs_get_stats(&st) == 0 && st.scans == 0; i++)
				usleep(100000);
		if (st.total_allocs - st.total_frees == st.live_blocks)
			printf("stats consistent\n");
		else
			printf("stats inconsistent: allocs %zu frees %zu live %zu\n", st.total_allocs,
			       st.total_frees, st.live_blocks);
		fprintf(stderr, "figures: %.1f s, %d workers, %ld ops, %ld threads, %ld forks, "
				"%ld+%ld signals, %ld collects, %zu scans, %zu allocs\n",
			now() - t0, N_WORKERS, atomic_load(&n_ops), atomic_load(&n_threads),
			atomic_load(&n_forks), atomic_load(&n_sig1), atomic_load(&n_sig2),
			atomic_load(&n_collects), st.scans, st.total_allocs);
		printf("scans %zu\n", st.scans);
	} else {
		printf("stats consistent\n"); /* no shim: nothing to compare */
	}
	printf("children %s\n", atomic_load(&bad_children) ? "killed by a signal" : "ok");
	fflush(stdout);
	gs_test_clear_stack();
	return 0;
}
