/* SPDX-License-Identifier: Apache-2.0 */
/* The function the fix replaces. Its unlikely path (a call to a cold function) is split
 * off by GCC into value.cold, a symbol of its own outside value's bytes. */
__attribute__((cold)) int wait_for_go(int i);

int value(int i)
{
	if (i < 0)
		i = wait_for_go(i) + 7;
	return 1000 + i % 100;
}
