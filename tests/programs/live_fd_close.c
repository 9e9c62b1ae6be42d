/* Proves: scan_mode=incremental keeps its userfaultfd open between scans (the next scan learns which pages were written since the last), and a program that then closes every descriptor it did not open, as a daemon does, keeps its own files and its verdicts: the next scan finds the number naming the program's pipe, leaves it alone (no ioctl, no close) and tracks afresh. With "fork": writes the parent makes after a fork (copy-on-write faults) are still seen, and the child, whose mappings are not tracked, starts afresh
 * Expect: → "uffd kept N" after two checks, "pipe at N" (the same number), "pipe ok" after two more checks; api reports: none, none, leak_after_close (48 B, 1 block, direct), none; exit 23 with that leak.
 *         fork → child: leak_in_child (64 B) in its api and exit reports, exit 23 ("child 23"); parent: after the fork a block is hung off an old node (no leak), then leak_after_close as above.
 *         lowfd → closes 0-2 as a daemon does, checks twice, reopens /dev/null three times: they get 0, 1 and 2 (the shim's descriptor sits high) → "lowfd ok" on the reopened stdout, exit 0.
 *         forkfd → after two checks puts its own pipe at the shim's descriptor number and forks at once (no scan in between): the child writes to that pipe ("child wrote"), parent reads it ("forkfd ok"), exit 0 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "guardshim.h"
#include "gs_test.h"

struct node {
	struct node *next;
	char pad[40];
};

static struct node *volatile list;
static void *volatile sink;

static GS_NOINLINE void build(int n)
{
	for (int i = 0; i < n; i++) {
		struct node *x = malloc(sizeof *x);
		memset(x, 0, sizeof *x);
		x->next = list;
		list = x;
	}
}

static GS_NOINLINE void leak_in_child(void)
{
	sink = malloc(64);
	memset(sink, 9, 64);
	sink = NULL;
}

/* Stores the only pointer to a new block in an old node, on a page the
 * last scan recorded as it was. */
static GS_NOINLINE void hang_off_old_node(void)
{
	struct node *old = list;
	for (int i = 0; i < 500; i++)
		old = old->next;
	*(void **)old->pad = malloc(32);
}

/* Forks; the child leaks, checks twice and exits through the exit check. */
static void fork_and_check(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		leak_in_child();
		gs_test_clear_stack();
		gs_check_leaks();
		gs_check_leaks();
		exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	printf("child %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	hang_off_old_node();
	gs_test_clear_stack();
	gs_check_leaks();
}

static GS_NOINLINE void leak_after_close(void)
{
	sink = malloc(48);
	memset(sink, 7, 48);
	sink = NULL;
}

/* The descriptor naming a userfaultfd, or -1. */
static int find_uffd(void)
{
	DIR *d = opendir("/proc/self/fd");
	int found = -1;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char path[64], link[64];
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n > 0) {
			link[n] = 0;
			if (strcmp(link, "anon_inode:[userfaultfd]") == 0)
				found = atoi(e->d_name);
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* Daemon-style: stdin/out/err closed across two scans, then reopened. */
static int low_fds(void)
{
	close(0);
	close(1);
	close(2);
	gs_check_leaks();
	gs_check_leaks();
	for (int i = 0; i < 3; i++)
		if (open("/dev/null", O_RDWR) != i)
			return 1;
	return 0;
}

/* The program's own pipe at the number the shim kept, then a fork: the
 * child's fork handler must leave it open. */
static int fork_at_our_number(void)
{
	int u = find_uffd(), p[2];
	if (u < 0 || pipe(p) != 0 || dup2(p[1], u) != u)
		return 1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(write(u, "y", 1) == 1 ? 0 : 1);
	int st = 0;
	char c = 0;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	printf("child wrote\n");
	return read(p[0], &c, 1) == 1 && c == 'y' ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *mode = gs_test_arg(argc, argv, 1, "");
	int with_fork = strcmp(mode, "fork") == 0;
	if (strcmp(mode, "lowfd") == 0) {
		build(1000);
		int bad = low_fds();
		printf(bad ? "lowfd broken\n" : "lowfd ok\n");
		return bad;
	}
	if (!(gs_active && gs_active())) {
		printf("no shim\n");
		return 0;
	}
	build(1000);
	gs_check_leaks();
	gs_check_leaks();
	int u = find_uffd();
	if (u < 0) {
		printf("no uffd kept\n");
		return 1;
	}
	printf("uffd kept %d\n", u);
	if (strcmp(mode, "forkfd") == 0) {
		int bad = fork_at_our_number();
		printf(bad ? "forkfd broken\n" : "forkfd ok\n");
		return bad;
	}
	if (with_fork)
		fork_and_check();
	fflush(stdout);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	int p[2];
	if (pipe(p) != 0 || (p[1] != u && dup2(p[1], u) != u)) {
		perror("pipe");
		return 1;
	}
	printf("pipe at %d\n", u);
	leak_after_close();
	gs_test_clear_stack();
	gs_check_leaks();
	gs_check_leaks();
	char c = 0;
	if (write(u, "x", 1) != 1 || read(p[0], &c, 1) != 1 || c != 'x') {
		printf("pipe broken\n");
		return 1;
	}
	printf("pipe ok\n");
	gs_test_clear_stack();
	return 0;
}
