/* SPDX-License-Identifier: Apache-2.0 */
/* Takes 1 from an account every 50 ms and prints whether it was granted. */
#include <stdio.h>
#include <unistd.h>

#include "account.h"

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct account *a = account_new(1000000);
	for (int i = 0;; i++) {
		printf("iter=%d granted=%d\n", i, account_take(a, 1));
		usleep(50 * 1000);
	}
}
