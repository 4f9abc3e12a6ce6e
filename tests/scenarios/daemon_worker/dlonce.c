/* SPDX-License-Identifier: Apache-2.0 */
/* dlonce: loads libfix.so (next to this program) with dlopen, calls fix_value() at once
 * and prints "pid=P dl=V libctor=A" (A: what it returned in libfix.so's constructor, run
 * inside dlopen), then exits. */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

#include "dlfix.h"

int main(void)
{
	void *h = dlopen_fix();
	if (!h)
		return 1;
	int (*fix_value)(void) = (int (*)(void))dlsym(h, "fix_value");
	int *ctor = dlsym(h, "fix_ctor_value");
	if (!fix_value || !ctor)
		return 1;
	int v = fix_value();
	printf("pid=%d dl=%d libctor=%d\n", (int)getpid(), v, *ctor);
	return 0;
}
