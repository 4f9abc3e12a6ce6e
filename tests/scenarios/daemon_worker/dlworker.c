/* SPDX-License-Identifier: Apache-2.0 */
/* dlworker MS: starts without libfix.so, loads it with dlopen after MS milliseconds, then
 * prints "pid=P value=V" every 50 ms until killed, V = fix_value(). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	usleep((useconds_t)(argc > 1 ? atoi(argv[1]) : 0) * 1000);
	/* next to this program, as the rpath of worker finds it */
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
	printf("pid=%d loaded\n", (int)getpid());
	for (;;) {
		printf("pid=%d value=%d\n", (int)getpid(), fix_value());
		usleep(50 * 1000);
	}
}
