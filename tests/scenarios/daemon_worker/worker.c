/* SPDX-License-Identifier: Apache-2.0 */
/* worker [MS]: prints "pid=P first=V" with V = fix_value() as the first thing main does,
 * then, after MS milliseconds (default 0), "pid=P later=V", and exits.
 * worker loop: prints "pid=P value=V" every 50 ms until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fix_value(void);

int main(int argc, char **argv)
{
	int first = fix_value();
	setvbuf(stdout, NULL, _IOLBF, 0);
	pid_t me = getpid();
	if (argc > 1 && !strcmp(argv[1], "loop")) {
		for (;;) {
			printf("pid=%d value=%d\n", (int)me, fix_value());
			usleep(50 * 1000);
		}
	}
	printf("pid=%d first=%d\n", (int)me, first);
	int ms = argc > 1 ? atoi(argv[1]) : 0;
	if (ms > 0) {
		usleep((useconds_t)ms * 1000);
		printf("pid=%d later=%d\n", (int)me, fix_value());
	}
	return 0;
}
