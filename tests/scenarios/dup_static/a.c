/* SPDX-License-Identifier: Apache-2.0 */
/* a_score() and its own static check(); the fix leaves this file alone. noipa keeps check()
 * a function of its own (not inlined or cloned), so libdup.so has two local `check`s. */
static __attribute__((noipa)) int check(int x)
{
	return x + 100;
}

int a_score(int x)
{
	return check(x);
}
