/* SPDX-License-Identifier: Apache-2.0 */
/* Two threads each print "t=T k=K <tally()> <count()> <pic()>" every 100 ms, K being how
 * many times that thread has called the three functions. Every counter they print is a
 * thread-local variable incremented once per call, so each equals K in its own thread,
 * except gd_n: prog's definition interposes libtally.so's, so tally() and pic() increment
 * the same variable and print G = 2K - 1 and F = 2K. Thread 1 first makes 1000 silent
 * calls, so the two threads' counters differ: code bound to another thread's variables, to
 * the library's own gd_n or to fresh storage prints other numbers. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

const char *tally(char *buf, int len); /* libtally.so */
const char *count(char *buf, int len); /* counter.c */
const char *pic(char *buf, int len);   /* pic.c */

__thread int ie_x; /* counter.c's initial-exec access (relaxed by the static linker) */

static void *run(void *arg)
{
	int t = (int)(long)arg;
	char a[64], b[64], c[64];
	long k = 0;

	for (; t == 1 && k < 1000; k++) {
		tally(a, sizeof(a));
		count(b, sizeof(b));
		pic(c, sizeof(c));
	}
	for (;;) {
		k++;
		tally(a, sizeof(a));
		count(b, sizeof(b));
		pic(c, sizeof(c));
		printf("t=%d k=%ld %s %s %s\n", t, k, a, b, c);
		usleep(100 * 1000);
	}
	return NULL;
}

int main(void)
{
	pthread_t th;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_create(&th, NULL, run, (void *)1L);
	run((void *)0L);
}
