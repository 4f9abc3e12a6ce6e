/* SPDX-License-Identifier: Apache-2.0 */
/* format_status() is what the fix changes. Everything else here is unchanged by it, and a
 * replacement must use the target's own copies: the table (read-only data), level() (a
 * local function: noipa keeps it a real call to a symbol of its own instead of letting the
 * compiler inline or clone it) and ticks (writable data owned by the running program). */
#include <stdio.h>

int ticks;

static const int level_table[8] = { 3, 1, 4, 1, 5, 9, 2, 6 };

static __attribute__((noipa)) int level(int t)
{
	return level_table[t % 8];
}

void format_status(char *buf, size_t len)
{
	snprintf(buf, len, "ticks=%d level=%d", ticks, level(ticks));
}
