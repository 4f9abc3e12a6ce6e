/* SPDX-License-Identifier: Apache-2.0 */
/* Prints "iter=I value=V" every 50 ms. At start it creates a child with CLONE_VM (sharing
 * this process's memory, as a vfork child does, but without being one of its threads) that
 * sleeps in a loop. On SIGUSR1 the parent ends that child and says "child gone", so a test
 * can check that suture refuses to write code while another process runs in this memory,
 * and proceeds once it is gone. */
#define _GNU_SOURCE /* clone() */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int value(int i);

static volatile sig_atomic_t end_child;

static void on_usr1(int sig)
{
	(void)sig;
	end_child = 1;
}

static int child_main(void *arg)
{
	(void)arg;
	/* ends with its parent, whichever way the parent ends */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		usleep(10 * 1000);
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR1, on_usr1);
	size_t sz = 256 * 1024;
	char *stack = malloc(sz);
	pid_t child = clone(child_main, stack + sz, CLONE_VM | SIGCHLD, NULL);
	if (child < 0)
		return 1;
	printf("child=%d\n", (int)child);
	for (int i = 0;; i++) {
		if (end_child && child > 0) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			child = 0;
			printf("child gone\n");
		}
		printf("iter=%d value=%d\n", i, value(i));
		usleep(50 * 1000);
	}
}
