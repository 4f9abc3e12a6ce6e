/* SPDX-License-Identifier: Apache-2.0 */
/* The library function the fix changes; a name of its own so that no other test's
 * process maps a library with the same build-id (the test patches with --all). */
int ns_rate(void)
{
	return 41;
}
