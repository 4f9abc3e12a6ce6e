/* SPDX-License-Identifier: Apache-2.0 */
/* The call-overhead target: for each line "N" read on stdin it calls bench_value() N
 * times in a tight loop, timed with CLOCK_MONOTONIC around the whole loop, and prints
 *
 *   calls=N ns=TOTAL per_call=NS
 *
 * Between measurements it is blocked in read(), so no thread is inside bench_value()
 * when the patch is applied or reverted. The call goes through the executable's PLT into
 * libbench.so, as a real caller of a shared library's function does; patched, it then
 * takes the jump at bench_value's entry to the replacement. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(void)
{
	char line[64];
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	while (fgets(line, sizeof line, stdin)) {
		long n = atol(line);
		if (n <= 0)
			continue;
		/* The sum depends on every call, so the loop cannot be dropped or hoisted. */
		unsigned sum = 0;
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			sum += (unsigned)bench_value((int)i);
		double t1 = now_ns();
		printf("calls=%ld ns=%.0f per_call=%.4f sum=%u\n", n, t1 - t0, (t1 - t0) / (double)n,
		       sum);
	}
	return 0;
}
