/* SPDX-License-Identifier: Apache-2.0 */
/* kworker: linked with libuser.so (which needs libfix.so); prints
 * "pid=P first=V libctor=A userctor=B" and exits: V = fix_value() as the first thing main
 * does, A what it returned in libfix.so's own constructor, B in libuser.so's. */
#include <stdio.h>
#include <unistd.h>

int fix_value(void);
extern int fix_ctor_value, user_ctor_value;

int main(void)
{
	int first = fix_value();
	printf("pid=%d first=%d libctor=%d userctor=%d\n", (int)getpid(), first, fix_ctor_value,
	       user_ctor_value);
	return 0;
}
