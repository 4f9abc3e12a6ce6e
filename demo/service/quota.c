/* SPDX-License-Identifier: Apache-2.0 */
/* libquota: how many tickets a client may take. */
#include "quota.h"

void quota_init(struct quota *q, int limit)
{
	q->limit = limit;
	q->used = 0;
}

int quota_take(struct quota *q)
{
	if (q->used > q->limit)
		return 0;
	return ++q->used;
}
