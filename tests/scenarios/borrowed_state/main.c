/* SPDX-License-Identifier: Apache-2.0 */
/* Spins with known values in r12, r13, xmm8, the upper half of ymm8 (where the CPU has
 * AVX) and MXCSR (round toward zero), checking them on every iteration, and prints
 * "iter=I value=V" after each stretch of spinning, V = value(I) (1000 + I % 100, 2000 + I %
 * 100 once fixed). A thread stopped in this loop, borrowed for remote system calls and
 * left by a tracer that died, must come back with every one of them intact: if not, it
 * prints "corrupt iter=I" and exits 3. */
#include <stdio.h>

int value(int i);

/* 0 when every value held through n iterations, 1 otherwise. */
static int spin(unsigned long n, int avx)
{
	unsigned long bad = 0;
	unsigned int saved, now;
	__asm__ volatile(
		"	stmxcsr %[saved]\n"
		"	movl $0x7f80, %[now]\n"
		"	ldmxcsr %[now]\n"
		"	movabs $0x0123456789abcdef, %%r12\n"
		"	movabs $0xfedcba9876543210, %%r13\n"
		"	movq %%r12, %%xmm8\n"
		"	pinsrq $1, %%r13, %%xmm8\n"
		"	test %[avx], %[avx]\n"
		"	jz 1f\n"
		"	vinsertf128 $1, %%xmm8, %%ymm8, %%ymm8\n"
		"1:	movq %%xmm8, %%rax\n"
		"	cmp %%r12, %%rax\n"
		"	jne 8f\n"
		"	pextrq $1, %%xmm8, %%rax\n"
		"	cmp %%r13, %%rax\n"
		"	jne 8f\n"
		"	test %[avx], %[avx]\n"
		"	jz 2f\n"
		"	vextractf128 $1, %%ymm8, %%xmm9\n"
		"	movq %%xmm9, %%rax\n"
		"	cmp %%r12, %%rax\n"
		"	jne 8f\n"
		"2:	stmxcsr %[now]\n"
		"	cmpl $0x7f80, %[now]\n"
		"	jne 8f\n"
		"	movabs $0x0123456789abcdef, %%rax\n"
		"	cmp %%rax, %%r12\n"
		"	jne 8f\n"
		"	dec %[n]\n"
		"	jnz 1b\n"
		"	jmp 9f\n"
		"8:	movq $1, %[bad]\n"
		"9:	ldmxcsr %[saved]\n"
		"	test %[avx], %[avx]\n"
		"	jz 3f\n"
		"	vzeroupper\n"
		"3:\n"
		: [bad] "+r"(bad), [n] "+r"(n), [saved] "=m"(saved), [now] "=m"(now)
		: [avx] "r"(avx)
		: "rax", "r12", "r13", "xmm8", "xmm9", "memory", "cc");
	return bad != 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	__builtin_cpu_init();
	int avx = __builtin_cpu_supports("avx");
	for (int i = 0;; i++) {
		if (spin(20u * 1000 * 1000, avx)) {
			printf("corrupt iter=%d\n", i);
			return 3;
		}
		printf("iter=%d value=%d\n", i, value(i));
	}
}
