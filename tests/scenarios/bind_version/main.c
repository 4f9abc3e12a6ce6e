/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "i=I base=B extra=E exe=X" every 100 ms until killed (I = iteration % 50):
 * B = t_base(I) (libt's call of vfunc@V1: 100 + I), E = t_extra(I) (-I; once fixed, a new
 * call of vfunc in libt: 100 + I), X = prog's own call of vfunc, bound to the default
 * vfunc@@V2 (200 + I). */
#include <stdio.h>
#include <unistd.h>

int vfunc(int x);
int t_base(int i);
int t_extra(int i);

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int n = 0;; n++) {
		int i = n % 50;

		printf("i=%d base=%d extra=%d exe=%d\n", i, t_base(i), t_extra(i), vfunc(i));
		usleep(100 * 1000);
	}
}
