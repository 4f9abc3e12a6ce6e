/* SPDX-License-Identifier: Apache-2.0 */
/* Starts the eight blocked threads, prints "ready", then prints "iter=I value=V" every
 * 50 ms until killed, V = value(I): 1000 + I % 100, and 2000 + I % 100 once fixed. */
#include <stdio.h>
#include <unistd.h>

#include "blockers.h"

int value(int i);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	start_blockers();
	printf("ready\n");
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(50 * 1000);
	}
}
