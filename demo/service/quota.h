/* SPDX-License-Identifier: Apache-2.0 */
#ifndef QUOTA_H
#define QUOTA_H
/* A per-client quota of tickets. */
struct quota {
	int limit; /* tickets a client may take */
	int used;  /* tickets taken so far */
};

void quota_init(struct quota *q, int limit);
/* Takes one ticket: returns its number (1 .. limit), or 0 when the quota is used up. */
int quota_take(struct quota *q);
#endif
