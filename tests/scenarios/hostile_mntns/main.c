/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "rate=R" every 20 ms until killed, R = ns_rate() from libnsrate.so: 41, 43 once
 * fixed. */
#include <stdio.h>
#include <unistd.h>

int ns_rate(void);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		printf("rate=%d\n", ns_rate());
		usleep(20 * 1000);
	}
}
