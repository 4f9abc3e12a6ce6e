/* SPDX-License-Identifier: Apache-2.0 */
/* The function the fix replaces. */
int value(int i)
{
	return 1000 + i % 100;
}
