/* Proves (with live_hidden_change.c inject): fault injection for the incremental scan's catch-up collect. Preloaded after the shim, it wraps syscall(): the first PAGEMAP_SCAN that write-protects again and lists written pages over the armed address runs a hook (a program write during the concurrent mark), then the real ioctl, then reports EPERM: what the kernel does when the walk meets a mapping that is not registered further on, after it has already protected the pages before it
 * Expect: nothing of its own; live_hidden_change arms it through inject_arm() */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

struct scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t inverted, mask, anyof, ret;
};
#define PAGEMAP_SCAN_ _IOWR('f', 16, struct scan_arg)
#define WP_MATCHING 1
#define IS_WRITTEN 2

static void (*armed)(void);
static uintptr_t armed_at;

void inject_arm(void (*fn)(void), void *at);
void inject_arm(void (*fn)(void), void *at)
{
	armed = fn;
	armed_at = (uintptr_t)at;
}

static long raw(long n, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

long syscall(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
	long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	if (n == SYS_ioctl && (unsigned long)b == PAGEMAP_SCAN_ && armed) {
		const struct scan_arg *x = (const struct scan_arg *)c;
		if ((x->flags & WP_MATCHING) && x->vec && x->mask == IS_WRITTEN &&
		    x->start <= armed_at && armed_at < x->end) {
			void (*fn)(void) = armed;
			armed = 0;
			fn();
			raw(n, a, b, c, d, e, f);
			errno = EPERM;
			return -1;
		}
	}
	return raw(n, a, b, c, d, e, f);
}
