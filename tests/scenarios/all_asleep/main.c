/* SPDX-License-Identifier: Apache-2.0 */
/* prog FIFO [filtered]: an idle server, every thread asleep for good until something
 * arrives; "filtered": every thread runs under a seccomp filter (one that allows
 * everything, installed before the threads are created).
 *   pause    asleep in pause()
 *   futex    asleep in pthread_cond_wait (FUTEX_WAIT), never signalled
 *   epoll    asleep in epoll_wait on an empty set, no timeout
 *   main     asleep in read() on FIFO (opened read-write: it never sees an end of file);
 *            for each line "N" it prints "value=V" (V = value(N): 1000 + N % 100, 2000 +
 *            N % 100 once fixed)
 * Each thread prints "thread NAME TID" before it first blocks, and any call that returns
 * when it should not prints "UNEXPECTED NAME". */
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int value(int i);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void said(const char *name)
{
	printf("thread %s %ld\n", name, (long)syscall(SYS_gettid));
	fflush(stdout);
}

static void unexpected(const char *name)
{
	printf("UNEXPECTED %s\n", name);
	fflush(stdout);
}

static void *in_pause(void *arg)
{
	(void)arg;
	said("pause");
	for (;;) {
		pause();
		unexpected("pause");
	}
	return NULL;
}

static void *in_futex(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	said("futex");
	for (;;) {
		pthread_cond_wait(&never, &lock);
		unexpected("futex");
	}
	return NULL;
}

static void *in_epoll(void *arg)
{
	(void)arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		exit(1);
	said("epoll");
	struct epoll_event ev;
	for (;;) {
		epoll_wait(ep, &ev, 1, -1);
		unexpected("epoll");
	}
	return NULL;
}

static int allow_all(void)
{
	struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {1, &insn};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3)
		return 2;
	if (argc == 3 && (strcmp(argv[2], "filtered") != 0 || allow_all() != 0))
		return 3;
	int fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 1;
	void *(*fns[])(void *) = {in_pause, in_futex, in_epoll};
	for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, fns[i], NULL) != 0)
			return 1;
	}
	said("main");
	FILE *in = fdopen(fd, "r");
	char line[64];
	setvbuf(in, NULL, _IONBF, 0); /* one read per byte: no line is held in a buffer */
	while (fgets(line, sizeof line, in)) {
		printf("value=%d\n", value(atoi(line)));
		fflush(stdout);
	}
	unexpected("main");
	return 0;
}
