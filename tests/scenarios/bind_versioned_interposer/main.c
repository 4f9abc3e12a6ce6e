/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I <rank(I)>" every 100 ms until killed. */
#include <stdio.h>
#include <unistd.h>

const char *rank(int i, char *buf, int len);

int main(void)
{
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("iter=%d %s\n", i, rank(i, buf, sizeof(buf)));
		usleep(100 * 1000);
	}
}
