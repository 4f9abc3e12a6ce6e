/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "n=N price=P" every 100 ms until killed, P = foo_price(N % 10) from libfoo.so:
 * 7 cents a unit, 9 once fixed. */
#include <stdio.h>
#include <unistd.h>

#include "foo.h"

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("n=%d price=%d\n", i % 10, foo_price(i % 10));
		usleep(100 * 1000);
	}
}
