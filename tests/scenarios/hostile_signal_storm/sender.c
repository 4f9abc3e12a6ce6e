/* SPDX-License-Identifier: Apache-2.0 */
/* sender PID [BURST]: queues SIGRTMIN+1 at PID as fast as it can, with the values 1, 2,
 * 3... When the kernel's queue is full (EAGAIN) it yields and sends the same value again,
 * so every value counted as sent was accepted by the kernel exactly once. With BURST, it
 * pauses 1 ms after every BURST signals: on a 2-core machine an unbroken flood starves
 * the target's main thread and the tool alike, and measures only the scheduler. On
 * SIGTERM it queues the end marker -1 and prints "sent=N". Prints "sending" once it has
 * started. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int queue_value(pid_t pid, int v)
{
	union sigval sv = { .sival_int = v };

	while (sigqueue(pid, SIGRTMIN + 1, sv) < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "sender: sigqueue(%d, value %d): %s\n", pid, v, strerror(errno));
			return -1;
		}
		sched_yield();
	}
	return 0;
}

int main(int argc, char **argv)
{
	pid_t pid;
	const struct timespec pause_1ms = { 0, 1000 * 1000 };
	int sent = 0, burst;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: sender PID [BURST]\n");
		return 2;
	}
	pid = (pid_t)atoi(argv[1]);
	burst = argc == 3 ? atoi(argv[2]) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_term);
	printf("sending\n");
	while (!stop) {
		if (queue_value(pid, sent + 1) < 0)
			return 1;
		sent++;
		if (burst > 0 && sent % burst == 0)
			nanosleep(&pause_1ms, NULL);
	}
	if (queue_value(pid, -1) < 0)
		return 1;
	printf("sent=%d\n", sent);
	return 0;
}
