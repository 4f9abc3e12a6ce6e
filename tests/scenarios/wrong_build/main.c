/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "started BUILD_TAG" once, then "iter=I value=V" every 100 ms until killed, as in
 * exe_func. The test makes a second build by editing the tag to another of the same
 * length: the code, value() included, stays byte for byte the same and only the build-id
 * tells the two builds apart. */
#include <stdio.h>
#include <unistd.h>

#define BUILD_TAG "tree-1"

int value(int i);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("started %s\n", BUILD_TAG);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(100 * 1000);
	}
}
