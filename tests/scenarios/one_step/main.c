/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I name=N compute=C" every 50 ms until killed. */
#include <stdio.h>
#include <unistd.h>

const char *name(int x);
int compute(int x);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("iter=%d name=%s compute=%d\n", i, name(i), compute(i));
		usleep(50 * 1000);
	}
}
