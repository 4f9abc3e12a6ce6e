/* SPDX-License-Identifier: Apache-2.0 */
/* rank() compares "vN" (N = I % 20) with "V9"/"v9" and prints the raw results:
 *   case=C  strcasecmp, which prog calls directly (PLT entry and GOT slot);
 *   tab=T   strcoll, called through the comparators table: prog takes its address there
 *           (a data relocation the dynamic linker resolves) and never calls it directly.
 * The fix adds:
 *   ver=V   strverscmp, which prog does not reference at all;
 *   coll=K  strcoll called directly, so the new code needs its own binding of strcoll.
 * Preloaded, libinterpose.so defines all three with marker results; whatever the dynamic
 * linker chose for prog (tab), the patch must choose too (coll == tab). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Not const: the compiler must not fold the table into a direct call of strcoll. */
int (*comparators[])(const char *, const char *) = { strcoll };

const char *rank(int i, char *buf, int len)
{
	char v[16];

	snprintf(v, sizeof(v), "v%d", i % 20);
	snprintf(buf, len, "case=%d tab=%d", strcasecmp(v, "V9"), comparators[0](v, "v9"));
	return buf;
}
