/* Proves: gs_collect() returns the number of blocks newly found unreachable (3, then 0 on the next scan); dead frames below the caller are no roots; the caller's callee-saved registers are
 * Expect: drop → "collect1 3" "collect2 0"; keep → "collect1 0" "collect2 0"; deadframe → "deadframe 1", deadframe-keep → "deadframe 0"; rbx-clear → "rbx 1", rbx → "rbx 0"; all exit 0, leaks:[] */
#include "guardshim.h"
#include "gs_test.h"

void *volatile sink[3];
uintptr_t hidden[3]; /* ~pointer: invisible to the scanner, lets us free at the end */

static GS_NOINLINE void alloc_three_32(void)
{
	for (int i = 0; i < 3; i++) {
		sink[i] = malloc(32);
		hidden[i] = ~(uintptr_t)sink[i];
	}
}

static GS_NOINLINE void drop_all(void)
{
	for (int i = 0; i < 3; i++)
		sink[i] = NULL;
}

static GS_NOINLINE void free_all(void)
{
	for (int i = 0; i < 3; i++)
		free((void *)~hidden[i]);
}

/* Leaves the only copy of the pointer in this (then dead) frame. */
static GS_NOINLINE void dead_frame_alloc_40(void)
{
	void *volatile local = malloc(40);
	hidden[0] = ~(uintptr_t)local;
}

/* x86-64: calls fn with the revealed ~hidden pointer in rbx only (and not in
 * any stack slot of this frame). */
size_t call_with_rbx(uintptr_t hidden_ptr, size_t (*fn)(void));
#if defined(__x86_64__)
__asm__(".text\n"
	".globl call_with_rbx\n"
	".type call_with_rbx, @function\n"
	"call_with_rbx:\n"
	"\tpush %rbx\n"
	"\tpush %r12\n"
	"\tsub $8, %rsp\n"
	"\tmov %rdi, %rbx\n"
	"\tnot %rbx\n"
	"\txor %edi, %edi\n"
	"\tcall *%rsi\n"
	"\tadd $8, %rsp\n"
	"\tpop %r12\n"
	"\tpop %rbx\n"
	"\tret\n"
	".size call_with_rbx, .-call_with_rbx\n");
#endif

/* usage: api_collect [drop|keep|deadframe|deadframe-keep|rbx|rbx-clear] */
int main(int argc, char **argv)
{
	gs_test_require_shim();
	const char *mode = gs_test_arg(argc, argv, 1, "drop");
	if (strcmp(mode, "drop") == 0 || strcmp(mode, "keep") == 0) {
		alloc_three_32();
		if (strcmp(mode, "drop") == 0)
			drop_all();
		printf("collect1 %zu\n", gs_test_collect());
		printf("collect2 %zu\n", gs_test_collect());
		free_all();
	} else if (strncmp(mode, "deadframe", 9) == 0) {
		void *volatile keep = NULL;
		dead_frame_alloc_40();
		if (strcmp(mode, "deadframe-keep") == 0)
			keep = (void *)~hidden[0];
		/* No stack wipe: the dead frame still holds the pointer. */
		printf("deadframe %zu\n", gs_collect());
		keep = NULL;
		free((void *)~hidden[0]);
	} else if (strncmp(mode, "rbx", 3) == 0) {
#if defined(__x86_64__)
		alloc_three_32();
		drop_all();
		free((void *)~hidden[1]);
		free((void *)~hidden[2]);
		uintptr_t h = strcmp(mode, "rbx") == 0 ? hidden[0] : ~(uintptr_t)0;
		gs_test_clear_stack();
		printf("rbx %zu\n", call_with_rbx(h, gs_collect));
		free((void *)~hidden[0]);
#else
		printf("skip: x86-64 only\n");
#endif
	} else {
		return 2;
	}
	gs_test_clear_stack();
	return gs_test_summary("api_collect");
}
