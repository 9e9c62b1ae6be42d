/* Proves: fork while another thread holds a shim lock gives a child that can malloc and run leak
 * checks: the shim's atfork handlers make the fork wait for the lock. Deterministic, not a
 * benchmark: the first leak check calls the program's __lsan_default_suppressions with the
 * shim's report lock held; this one keeps the lock (stays inside) until the forking main thread
 * is blocked in a futex wait (the shim's prepare handler waiting for the lock) or its fork has
 * returned (no handlers ran: the child then has the lock held by a thread it does not have).
 * Args: [BOUND-S] how long the parent waits for the child (default 15).
 * Expect: stdout "pid N", "forked while locked", "child pid N ok", "child exited 0", exit 0,
 * parent and child reports clean; with the shim's atfork registration suppressed: "child stuck"
 * (the child blocks forever on the lock), exit 3. */
#define _GNU_SOURCE
#include "gs_test.h"

#include <fcntl.h>
#include <guardshim.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static atomic_int inside, forking, fork_done;
static pid_t main_tid;

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* True while thread `tid` sits in a futex system call (first field of
 * /proc/self/task/TID/syscall: the syscall number). No stdio: no malloc. */
static int in_futex(pid_t tid)
{
	char path[64], buf[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return atoi(buf) == SYS_futex;
}

/* Called by the shim's first leak check with its report lock held. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	atomic_store(&inside, 1);
	while (!atomic_load(&forking))
		nap_ms(1);
	while (!atomic_load(&fork_done) && !in_futex(main_tid))
		nap_ms(1);
	return "";
}

static void *checker(void *arg)
{
	(void)arg;
	gs_check_leaks();
	return NULL;
}

int main(int argc, char **argv)
{
	long bound_s = argc > 1 ? atol(argv[1]) : 15;
	printf("pid %d\n", (int)getpid());
	fflush(stdout);
	if (!gs_active || !gs_active()) {
		printf("shim absent\n");
		return 2;
	}
	main_tid = (pid_t)syscall(SYS_gettid);
	pthread_t t;
	if (pthread_create(&t, NULL, checker, NULL) != 0) {
		perror("pthread_create");
		return 2;
	}
	while (!atomic_load(&inside))
		nap_ms(1);
	printf("forked while locked\n");
	fflush(stdout);
	atomic_store(&forking, 1);
	pid_t child = fork();
	if (child == 0) {
		void *volatile p = malloc(100);
		free(p);
		gs_check_leaks(); /* takes the report lock */
		printf("child pid %d ok\n", (int)getpid());
		fflush(stdout);
		exit(0); /* and the exit check takes it again */
	}
	atomic_store(&fork_done, 1);
	if (child < 0) {
		perror("fork");
		return 2;
	}
	pthread_join(t, NULL);
	int status = 0;
	for (long waited = 0; waitpid(child, &status, WNOHANG) == 0; waited += 10) {
		if (waited >= bound_s * 1000) {
			printf("child stuck\n");
			fflush(stdout);
			kill(child, SIGKILL);
			waitpid(child, &status, 0);
			return 3;
		}
		nap_ms(10);
	}
	printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
