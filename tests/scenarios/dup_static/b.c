/* SPDX-License-Identifier: Apache-2.0 */
/* b_score() and its own static check(), which the fix changes. noipa keeps check() a
 * function of its own (not inlined or cloned), so libdup.so has two local `check`s. */
static __attribute__((noipa)) int check(int x)
{
	return x + 200;
}

int b_score(int x)
{
	return check(x);
}
