/* SPDX-License-Identifier: Apache-2.0 */
/* Runs poll_loop() on a thread and prints "iter=I label=L polls=N" every 100 ms until
 * killed: L = label() ("old", "new" once fixed), N = the loop thread's count, which keeps
 * growing while that thread runs. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern volatile unsigned long polls;
void *poll_loop(void *arg);
const char *label(void);

int main(void)
{
	pthread_t t;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	rc = pthread_create(&t, NULL, poll_loop, NULL);
	if (rc != 0) {
		fprintf(stderr, "always_on_stack: pthread_create: %s\n", strerror(rc));
		return 1;
	}
	for (int i = 0;; i++) {
		printf("iter=%d label=%s polls=%lu\n", i, label(), polls);
		usleep(100 * 1000);
	}
}
