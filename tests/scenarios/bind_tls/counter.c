/* SPDX-License-Identifier: Apache-2.0 */
/* count() prints "E=e X=x": e a static thread-local counter (local-exec access), x main.c's
 * ie_x (initial-exec: declared extern here). The fix adds "SE=e+x". */
#include <stdio.h>

static __thread int le_n;
extern __thread int ie_x;

const char *count(char *buf, int len)
{
	le_n++;
	ie_x++;
	snprintf(buf, len, "E=%d X=%d", le_n, ie_x);
	return buf;
}
