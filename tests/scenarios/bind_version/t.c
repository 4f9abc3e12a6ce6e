/* SPDX-License-Identifier: Apache-2.0 */
/* libt.so, the patch's target. It was linked against a libv that only had vfunc@V1, so its
 * own call in t_base() is bound to V1. The fix makes t_extra() call vfunc too: that new
 * call must bind to V1, the version libt itself uses, not to the default V2. */
int vfunc(int x);
int t_base(int i);
int t_extra(int i);

int t_base(int i)
{
	return vfunc(i);
}

int t_extra(int i)
{
	return -i;
}
