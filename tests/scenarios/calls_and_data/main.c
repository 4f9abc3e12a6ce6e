/* SPDX-License-Identifier: Apache-2.0 */
/* Every 100 ms: counts one tick in the global `ticks`, then prints format_status()'s line,
 * until killed. The counter lives in the target's data: a replacement that used its own
 * copy would print a counter restarting from 0 and standing still. */
#include <stdio.h>
#include <unistd.h>

extern int ticks;
void format_status(char *buf, size_t len);

int main(void)
{
	char line[128];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		ticks++;
		format_status(line, sizeof(line));
		puts(line);
		usleep(100 * 1000);
	}
}
