/* SPDX-License-Identifier: Apache-2.0 */
/* prog vfork|sibling: the process that prints is itself a child sharing its memory:
 *   vfork    the parent makes it with CLONE_VM | CLONE_VFORK and waits (in the kernel)
 *            until it exits: the printing child runs in the parent's memory;
 *   sibling  the parent makes two CLONE_VM children, the printing one and one that
 *            sleeps, then execs `sleep`: the two children share memory with each other
 *            and with no one else, and are not parent and child of each other.
 * The printing child prints "target=PID sharer=PID" (the other process in its memory),
 * then every 50 ms "iter=I value=V". On SIGUSR1 the printing child ends the sleeping
 * sibling and says "sharer gone". Children end with their parent. */
#define _GNU_SOURCE /* clone() */
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int value(int i);

static volatile sig_atomic_t end_sharer;
static pid_t sharer;

static void on_usr1(int sig)
{
	(void)sig;
	end_sharer = 1;
}

static int sleeper_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;)
		usleep(10 * 1000);
	return 0;
}

static int printer_main(void *arg)
{
	(void)arg;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGUSR1, on_usr1);
	printf("target=%d sharer=%d\n", (int)syscall(SYS_getpid), (int)sharer);
	for (int i = 0;; i++) {
		if (end_sharer && sharer > 0) {
			kill(sharer, SIGKILL);
			sharer = 0;
			printf("sharer gone\n");
		}
		printf("iter=%d value=%d\n", i, value(i));
		usleep(50 * 1000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	size_t sz = 256 * 1024;
	char *s1 = malloc(sz), *s2 = malloc(sz);
	if (!strcmp(argv[1], "vfork")) {
		sharer = getpid(); /* the parent, waiting for the child in the kernel */
		clone(printer_main, s1 + sz, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
		return 0;
	}
	sharer = clone(sleeper_main, s2 + sz, CLONE_VM | SIGCHLD, NULL);
	if (sharer < 0 || clone(printer_main, s1 + sz, CLONE_VM | SIGCHLD, NULL) < 0)
		return 1;
	usleep(200 * 1000); /* both children are running before the parent leaves */
	execlp("sleep", "sleep", "1000", (char *)NULL);
	return 1;
}
