/* SPDX-License-Identifier: Apache-2.0 */
/* measure() prints "m=M", M = I % 7. The fix adds "t=T c=C": T from twice(), a static IFUNC
 * of prog (its resolver returns twice_impl; doubled_sum calls it, so prog has an IRELATIVE
 * slot for it), and C the length of a name found with strchrnul, a glibc IFUNC prog does not
 * import. Bound to the symbols' own addresses, both calls would run resolvers and print
 * addresses instead. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

static const char *const names[] = { "ab", "cde", "fghi" };

static int twice_impl(int x)
{
	return 2 * x;
}

static int (*resolve_twice(void))(int)
{
	return twice_impl;
}

static int twice(int x) __attribute__((ifunc("resolve_twice")));

int doubled_sum(int n)
{
	int s = 0;
	for (int k = 1; k <= n; k++)
		s += twice(k);
	return s;
}

const char *measure(int i, char *buf, int len)
{
	snprintf(buf, len, "m=%d", i % 7);
	return buf;
}
