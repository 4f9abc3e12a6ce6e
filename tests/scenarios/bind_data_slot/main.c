/* SPDX-License-Identifier: Apache-2.0 */
/* Configures the comparison (collate = by_marker, whose result is 444), then prints
 * "iter=I <rank(I)>" every 100 ms until killed. */
#include <stdio.h>
#include <unistd.h>

extern int (*collate)(const char *, const char *);
const char *rank(int i, char *buf, int len);

static int by_marker(const char *a, const char *b)
{
	(void)a, (void)b;
	return 444;
}

int main(void)
{
	char buf[64];

	collate = by_marker;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0;; i++) {
		printf("iter=%d %s\n", i, rank(i, buf, sizeof(buf)));
		usleep(100 * 1000);
	}
}
