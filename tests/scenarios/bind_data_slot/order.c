/* SPDX-License-Identifier: Apache-2.0 */
/* rank() compares "vN" (N = I % 20) with "v9" through the configurable `collate`
 * ("cfg=C"). `collate` starts as strcoll: a writable word the dynamic linker fills with
 * strcoll's address at load time, and which the program may overwrite afterwards (main
 * does). The fix adds "coll=K", a direct call of strcoll: it must call the strcoll the
 * dynamic linker would bind (libc's, or the preloaded one), whatever `collate` holds. */
#include <stdio.h>
#include <string.h>

int (*collate)(const char *, const char *) = strcoll;

const char *rank(int i, char *buf, int len)
{
	char v[16];

	snprintf(v, sizeof(v), "v%d", i % 20);
	snprintf(buf, len, "cfg=%d", collate(v, "v9"));
	return buf;
}
