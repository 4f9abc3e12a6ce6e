/* SPDX-License-Identifier: Apache-2.0 */
/* The libv.so.1 the programs run with: the old behaviour stays available as vfunc@V1 for
 * objects linked against the older library, and new links get the default vfunc@@V2. */
int vfunc_v1(int x);
int vfunc_v2(int x);

__asm__(".symver vfunc_v1, vfunc@V1");
__asm__(".symver vfunc_v2, vfunc@@V2");

int vfunc_v1(int x)
{
	return 100 + x;
}

int vfunc_v2(int x)
{
	return 200 + x;
}
