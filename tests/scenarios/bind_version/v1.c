/* SPDX-License-Identifier: Apache-2.0 */
/* The older libv.so.1, which libt.so was linked against: vfunc exists only as vfunc@V1. */
int vfunc(int x);

int vfunc(int x)
{
	return 100 + x;
}
