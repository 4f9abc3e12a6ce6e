/* SPDX-License-Identifier: Apache-2.0 */
/* dlworker MS: starts without libfix.so, loads it with dlopen after MS milliseconds, then
 * prints "pid=P value=V" every 50 ms until killed, V = fix_value(). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dlfix.h"

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	usleep((useconds_t)(argc > 1 ? atoi(argv[1]) : 0) * 1000);
	void *h = dlopen_fix();
	if (!h)
		return 1;
	int (*fix_value)(void) = (int (*)(void))dlsym(h, "fix_value");
	if (!fix_value)
		return 1;
	printf("pid=%d loaded\n", (int)getpid());
	for (;;) {
		printf("pid=%d value=%d\n", (int)getpid(), fix_value());
		usleep(50 * 1000);
	}
}
