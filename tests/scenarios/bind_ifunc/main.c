/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I <describe(I)> <measure(I)> <sum>" every 100 ms until killed. prog calls
 * strstr itself (each line is checked for a marker), so its own GOT slot holds the strstr
 * implementation glibc's resolver chose; libword.so does not import strstr. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *describe(int i, char *buf, int len); /* libword.so */
const char *measure(int i, char *buf, int len);  /* pick.c */
int doubled_sum(int n);                          /* pick.c */

int main(void)
{
	char a[64], b[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		describe(i, a, sizeof(a));
		if (strstr(a, "#!")) /* never: the words have no such marker */
			return 1;
		printf("iter=%d %s %s sum=%d\n", i, a, measure(i, b, sizeof(b)),
		       doubled_sum(i % 5));
		usleep(100 * 1000);
	}
}
