/* SPDX-License-Identifier: Apache-2.0 */
/* prog MODE: threads for staging's choice of the thread it holds.
 *   forever  asleep in pause() for as long as the program lives (started first)
 *   short    (MODE "short" only) nanosleep of 5 ms in a loop
 *   main     calls value() every 2 ms (nanosleep between calls) and prints every 20 calls
 *            "iter=I value=V" (V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed)
 * Each thread prints "thread NAME TID" before it first blocks. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int value(int i);

static void said(const char *name)
{
	printf("thread %s %ld\n", name, (long)syscall(SYS_gettid));
	fflush(stdout);
}

static void nap_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

static void *forever(void *arg)
{
	(void)arg;
	said("forever");
	for (;;)
		pause();
	return NULL;
}

static void *short_sleeper(void *arg)
{
	(void)arg;
	said("short");
	for (;;)
		nap_us(5000);
	return NULL;
}

int main(int argc, char **argv)
{
	int with_short = argc > 1 && strcmp(argv[1], "short") == 0;
	pthread_t t;
	if (pthread_create(&t, NULL, forever, NULL) != 0)
		return 1;
	nap_us(20000); /* forever is the lowest thread id after main */
	if (with_short && pthread_create(&t, NULL, short_sleeper, NULL) != 0)
		return 1;
	said("main");
	for (int i = 0;; i++) {
		int v = value(i);
		if (i % 20 == 0) {
			printf("iter=%d value=%d\n", i, v);
			fflush(stdout);
		}
		nap_us(2000);
	}
}
