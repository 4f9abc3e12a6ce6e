/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I <describe(I)> <measure(I)> <sum>" every 100 ms until killed. */
#include <stdio.h>
#include <unistd.h>

const char *describe(int i, char *buf, int len); /* libword.so */
const char *measure(int i, char *buf, int len);  /* pick.c */
int doubled_sum(int n);                          /* pick.c */

int main(void)
{
	char a[64], b[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("iter=%d %s %s sum=%d\n", i, describe(i, a, sizeof(a)),
		       measure(i, b, sizeof(b)), doubled_sum(i % 5));
		usleep(100 * 1000);
	}
}
