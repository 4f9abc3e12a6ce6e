/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I value=V" every 20 ms until killed, V = value(I): 1000 + I % 100, and
 * 2000 + I % 100 once fixed. */
#include <stdio.h>
#include <unistd.h>

int value(int i);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(20 * 1000);
	}
}
