/* SPDX-License-Identifier: Apache-2.0 */
/* The functions the fix replaces, written so that a thread can resume inside their first
 * five bytes (the bytes a jump overwrites):
 * entry(fn) calls fn from entry+1 with a two-byte call: the return address is entry+3;
 *   it returns 1 (2 once fixed).
 * spin() loops forever at spin+2. */
__attribute__((naked, noinline)) int entry(void (*fn)(void))
{
	__asm__("push %rbx\n\t"
		"call *%rdi\n\t"
		"pop %rbx\n\t"
		"mov $1, %eax\n\t"
		"ret\n\t");
}

__attribute__((naked, noinline)) void spin(void)
{
	__asm__("nop\n\t"
		"nop\n\t"
		"1: jmp 1b\n\t");
}
