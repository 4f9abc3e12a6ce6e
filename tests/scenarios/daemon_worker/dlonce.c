/* SPDX-License-Identifier: Apache-2.0 */
/* dlonce: loads libfix.so (next to this program) with dlopen, calls fix_value() at once
 * and prints "pid=P dl=V libctor=A" (A: what it returned in libfix.so's constructor, run
 * inside dlopen), then exits. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 16);
	if (n <= 0)
		return 1;
	path[n] = 0;
	strcpy(strrchr(path, '/') + 1, "libfix.so");
	void *h = dlopen(path, RTLD_NOW);
	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	int (*fix_value)(void) = (int (*)(void))dlsym(h, "fix_value");
	int *ctor = dlsym(h, "fix_ctor_value");
	if (!fix_value || !ctor)
		return 1;
	int v = fix_value();
	printf("pid=%d dl=%d libctor=%d\n", (int)getpid(), v, *ctor);
	return 0;
}
