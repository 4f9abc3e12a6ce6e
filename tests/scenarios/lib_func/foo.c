/* SPDX-License-Identifier: Apache-2.0 */
/* libfoo: the fix changes foo_rate(), which the exported foo_price() calls. Both are
 * exported, so calls between them go through the library's PLT and may be interposed. */
#include "foo.h"

int foo_rate(void);

int foo_rate(void)
{
	return 7;
}

int foo_price(int n)
{
	return n * foo_rate();
}
