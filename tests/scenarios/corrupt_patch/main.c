/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I value=V" every 100 ms as in exe_func. With an argument MS it also has four
 * idle threads and exits by itself after MS milliseconds, wherever the other threads are:
 * a target that dies while suture works on it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int value(int i);

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void *exit_later(void *arg)
{
	usleep((useconds_t)(long)arg * 1000);
	exit(0);
}

int main(int argc, char **argv)
{
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1) {
		for (int i = 0; i < 4; i++)
			pthread_create(&t, NULL, idle_thread, NULL);
		pthread_create(&t, NULL, exit_later, (void *)atol(argv[1]));
	}
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		usleep(100 * 1000);
	}
}
