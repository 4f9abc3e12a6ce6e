/* SPDX-License-Identifier: Apache-2.0 */
/* libord: ord_rank(I) says "cmp=C", C the sign of strcmp("vN", "v9") (N = I % 20); the fix
 * uses strverscmp, which orders v10..v19 after v9. The library imports strverscmp for
 * ord_rare(), which nothing calls: with lazy binding its GOT slot holds the PLT's
 * resolver entry until the fixed ord_rank() first calls it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

int ord_rare(const char *a, const char *b);
const char *ord_rank(int i, char *buf, int len);

int ord_rare(const char *a, const char *b)
{
	return strverscmp(a, b);
}

const char *ord_rank(int i, char *buf, int len)
{
	char v[16];
	int c;

	snprintf(v, sizeof(v), "v%d", i % 20);
	c = strcmp(v, "v9");
	snprintf(buf, len, "cmp=%d", (c > 0) - (c < 0));
	return buf;
}
