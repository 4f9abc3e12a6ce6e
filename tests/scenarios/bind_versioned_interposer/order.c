/* SPDX-License-Identifier: Apache-2.0 */
/* rank() compares "vN" (N = I % 20) with "V9" ignoring case ("case=C"). prog's only other
 * reference to strcoll is `strcoll_tail`, strcoll's address plus one (an R_X86_64_64
 * relocation with an addend: a versioned reference, strcoll@GLIBC_2.2.5, without a slot
 * holding strcoll's own address). The fix adds "coll=K", a direct call of strcoll, which
 * suture must bind itself: to libc's strcoll, or to the preloaded one when there is one. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *strcoll_tail = (const char *)strcoll + 1;

const char *rank(int i, char *buf, int len)
{
	char v[16];

	snprintf(v, sizeof(v), "v%d", i % 20);
	snprintf(buf, len, "case=%d", strcasecmp(v, "V9"));
	return buf;
}
