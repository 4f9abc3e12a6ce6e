/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "a=A b=B c=C" every 100 ms until killed: originally 10, 20, 30; fix1 makes a and
 * b 11 and 21, fix2 makes a and c 12 and 32. */
#include <stdio.h>
#include <unistd.h>

int rate_a(void);
int rate_b(void);
int rate_c(void);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		printf("a=%d b=%d c=%d\n", rate_a(), rate_b(), rate_c());
		usleep(100 * 1000);
	}
}
