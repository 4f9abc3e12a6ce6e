/* SPDX-License-Identifier: Apache-2.0 */
/* tally() prints "L=l G=g I=i": a static thread-local (local-dynamic access), a global one
 * (general-dynamic) and a static one declared initial-exec. The fix adds "SL=l+g+i". */
#include <stdio.h>

static __thread int ld_n;
__thread int gd_n;
static __thread int ie_n __attribute__((tls_model("initial-exec")));

const char *tally(char *buf, int len)
{
	ld_n++;
	gd_n++;
	ie_n++;
	snprintf(buf, len, "L=%d G=%d I=%d", ld_n, gd_n, ie_n);
	return buf;
}
