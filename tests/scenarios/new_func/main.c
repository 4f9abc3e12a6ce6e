/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I <describe(I)>" every 100 ms until killed: "kind=even"/"kind=odd", and
 * once fixed "kind=even digits=D" with D the number of decimal digits of I, computed by a
 * helper the fix adds. */
#include <stdio.h>
#include <unistd.h>

const char *describe(int i, char *buf, int len);

int main(void)
{
	char buf[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("iter=%d %s\n", i, describe(i, buf, sizeof(buf)));
		usleep(100 * 1000);
	}
}
