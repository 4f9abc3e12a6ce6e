/* SPDX-License-Identifier: Apache-2.0 */
/* describe() prints "word=W", W one of four words. The fix adds "len=L o=O": L from strlen,
 * O the offset of the first 'o' (or of the end) from strchrnul; both are glibc IFUNCs that
 * libword.so does not import, so the patch's calls bind in the process. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

static const char *const words[] = { "go", "lemon", "zebra", "photo" };

const char *describe(int i, char *buf, int len)
{
	const char *w = words[i % 4];

	snprintf(buf, len, "word=%s", w);
	return buf;
}
