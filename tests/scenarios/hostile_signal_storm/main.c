/* SPDX-License-Identifier: Apache-2.0 */
/* The target of the signal storm. Its SIGRTMIN+1 handler expects the values 1, 2, 3...
 * in order (real-time signals of one number queue in FIFO order), one signal each: a
 * value seen twice counts as a duplicate, a value that skips ahead counts the missing
 * ones as lost, a signal not sent by sigqueue() as foreign. The value -1 ends the storm.
 * The main thread prints "iter=I value=V" every 20 ms (absolute deadlines, so the storm
 * does not speed it up), V = value(I); once the storm has ended it prints, once,
 * "received=R last=L dup=D lost=L foreign=F". */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int value(int i);

static volatile sig_atomic_t received, last, dups, lost, foreign, ended;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	int v = si->si_value.sival_int;

	(void)sig;
	(void)uc;
	if (si->si_code != SI_QUEUE) {
		foreign++;
		return;
	}
	if (v == -1) {
		ended = 1;
		return;
	}
	if (v <= last) {
		dups++;
		return;
	}
	lost += v - last - 1;
	last = v;
	received++;
}

int main(void)
{
	struct sigaction sa;
	struct timespec next;
	int reported = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN + 1, &sa, NULL) < 0) {
		perror("sigaction");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d\n", i, value(i));
		if (ended && !reported) {
			printf("received=%d last=%d dup=%d lost=%d foreign=%d\n", (int)received,
			       (int)last, (int)dups, (int)lost, (int)foreign);
			reported = 1;
		}
		next.tv_nsec += 20 * 1000 * 1000;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
}
