/* SPDX-License-Identifier: Apache-2.0 */
/* The three functions the fixes replace. Every diff is made against this file, so each
 * patch expects these original bodies. */
int rate_a(void)
{
	return 10;
}

int rate_b(void)
{
	return 20;
}

int rate_c(void)
{
	return 30;
}
