/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "i=N <ord_rank(N)>" every 50 ms until killed. */
#include <stdio.h>
#include <unistd.h>

const char *ord_rank(int i, char *buf, int len);

int main(void)
{
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("i=%d %s\n", i % 20, ord_rank(i, buf, sizeof(buf)));
		usleep(50 * 1000);
	}
}
