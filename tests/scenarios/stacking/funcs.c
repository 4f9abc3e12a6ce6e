/* SPDX-License-Identifier: Apache-2.0 */
/* fix1.diff changes rate_a() and rate_b(); fix2.diff changes rate_a() and rate_c(). Both
 * diffs are made against this file, so each patch expects these original bodies. */
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
