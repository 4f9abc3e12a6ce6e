/* SPDX-License-Identifier: Apache-2.0 */
/* libhv: the value the program prints; the fix makes it 2. */
int hv_value(void);

__attribute__((noinline)) int hv_value(void)
{
	__asm__ volatile("");
	return 1;
}
