/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "a=A b=B c=C" every 20 ms until killed. Originally 10 20 30; fix1 makes a=11
 * b=21, fix2 a=12 c=32, fix3 b=23 c=33; where patches overlap, the newest one applied
 * wins. */
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
		usleep(20 * 1000);
	}
}
