/* SPDX-License-Identifier: Apache-2.0 */
/* poll_loop() runs forever on its thread, so under the strict consistency rule no moment
 * exists where it is off every stack; the fix changes it and label(), so an apply that
 * (wrongly) redirected label() alone would show in main's output. */
#include <unistd.h>

volatile unsigned long polls;

void *poll_loop(void *arg)
{
	(void)arg;
	for (;;) {
		polls++;
		usleep(20 * 1000);
	}
	return NULL;
}

const char *label(void)
{
	return "old";
}
