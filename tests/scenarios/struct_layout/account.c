/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "account.h"

struct account *account_new(int limit)
{
	struct account *a = calloc(1, sizeof *a);
	a->limit = limit;
	return a;
}

int account_take(struct account *a, long amount)
{
	if (a->balance + amount > a->limit)
		return 0;
	a->balance += amount;
	return 1;
}
