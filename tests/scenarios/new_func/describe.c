/* SPDX-License-Identifier: Apache-2.0 */
/* describe() is what the fix changes; the fix also adds a helper that exists nowhere in
 * the running program, so the patch must carry it as a new function. */
#include <stdio.h>

const char *describe(int i, char *buf, int len)
{
	snprintf(buf, len, "kind=%s", i % 2 ? "odd" : "even");
	return buf;
}
