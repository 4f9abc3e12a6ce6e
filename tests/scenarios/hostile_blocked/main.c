/* SPDX-License-Identifier: Apache-2.0 */
/* Starts the blocked threads (blockers.c), prints "ready", then every 50 ms
 * "iter=I value=V", V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed; every 20th
 * line is followed by "progress NAME=N..." (how many times each blocked call returned as
 * it should). A blocked thread that sees its call misbehave prints a line "BAD ...". */
#include <stdio.h>
#include <unistd.h>

int value(int i);
void start_blockers(void);
void print_progress(void);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	start_blockers();
	printf("ready\n");
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		if (i % 20 == 0)
			print_progress();
		usleep(50 * 1000);
	}
}
