/* SPDX-License-Identifier: Apache-2.0 */
/* pic() prints "D=d F=f": d a static thread-local (local-dynamic access, this file being
 * compiled with -fPIC), f a global one (general-dynamic). The fix adds "SD=d+f". */
#include <stdio.h>

static __thread int ld_n;
__thread int gd_n;

const char *pic(char *buf, int len)
{
	ld_n++;
	gd_n++;
	snprintf(buf, len, "D=%d F=%d", ld_n, gd_n);
	return buf;
}
