/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "x=X a=A b=B" every 100 ms until killed, A = a_score(X) = X + 100 and
 * B = b_score(X) = X + 200, X + 300 once b.c's check() is fixed. */
#include <stdio.h>
#include <unistd.h>

int a_score(int x);
int b_score(int x);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		int x = i % 50;

		printf("x=%d a=%d b=%d\n", x, a_score(x), b_score(x));
		usleep(100 * 1000);
	}
}
