/* SPDX-License-Identifier: Apache-2.0 */
/* rank() compares "vN" (N = I % 20) with "V9" ignoring case: "case=C", C the raw result of
 * strcasecmp, which prog imports. The fix adds "ver=S", S the result of strverscmp("vN",
 * "v9"): a libc function prog does not import, so the patch's call must be bound in the
 * running process. strverscmp orders v10..v19 after v9 where a byte comparison does not,
 * so the output shows that the real function ran. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *rank(int i, char *buf, int len)
{
	char v[16];

	snprintf(v, sizeof(v), "v%d", i % 20);
	snprintf(buf, len, "case=%d", strcasecmp(v, "V9"));
	return buf;
}
