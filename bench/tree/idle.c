/* SPDX-License-Identifier: Apache-2.0 */
/* A small process that maps libbench.so, for `apply --all` and memory measurements. It
 * appends "ready PID" to the file named by its argument (O_APPEND: many of them share one
 * file, each line written whole), then calls bench_value() once a second forever. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static volatile int sink;

int main(int argc, char **argv)
{
	if (argc == 2) {
		int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
		if (fd < 0) {
			perror(argv[1]);
			return 1;
		}
		char line[32];
		int n = snprintf(line, sizeof line, "ready %d\n", (int)getpid());
		if (write(fd, line, (size_t)n) != n)
			return 1;
		close(fd);
	}
	for (int i = 0;; i++) {
		sink = bench_value(i);
		sleep(1);
	}
}
