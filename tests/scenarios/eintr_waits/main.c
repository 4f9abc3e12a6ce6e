/* SPDX-License-Identifier: Apache-2.0 */
/* prog: threads wait in system calls that the kernel ends with EINTR, not restarts, when a
 * ptrace stop interrupts them, and count every EINTR they get:
 *   sigtimedwait  rt_sigtimedwait with a 30 s timeout (SIGUSR2, which never comes)
 *   sigwaitinfo   rt_sigtimedwait without timeout (SIGRTMIN, which never comes)
 *   send          send() on a TCP connection whose peer never reads, SO_SNDTIMEO 30 s
 *   write         write() likewise on another connection
 *   connect       connect() to a listener whose backlog is full, SO_SNDTIMEO 30 s
 *   recv          recv() on a connection that never gets data, SO_RCVTIMEO 30 s
 * Each prints "thread NAME TID" when it is about to block. The main thread prints every
 * 20 ms "iter=I value=V eintr=N" (V = value(I): 1000 + I % 100, 2000 + I % 100 once
 * fixed; N: EINTRs counted so far by all threads). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int value(int i);

static int eintr;
static struct sockaddr_in sink_addr, full_addr;

static void said(const char *name)
{
	printf("thread %s %ld\n", name, (long)syscall(SYS_gettid));
}

static void counted(void)
{
	__atomic_add_fetch(&eintr, 1, __ATOMIC_RELAXED);
}

static void *sigtimedwait_thread(void *a)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	said("sigtimedwait");
	for (;;) {
		struct timespec ts = {30, 0};
		if (sigtimedwait(&s, NULL, &ts) < 0 && errno == EINTR)
			counted();
	}
	return a;
}

static void *sigwaitinfo_thread(void *a)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN);
	said("sigwaitinfo");
	for (;;)
		if (sigwaitinfo(&s, NULL) < 0 && errno == EINTR)
			counted();
	return a;
}

/* A connection to the sink (which accepts and never reads), with a small send buffer,
 * filled until a send would block. */
static int full_connection(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	if (connect(fd, (void *)&sink_addr, sizeof sink_addr) < 0)
		perror("connect to sink");
	static char buf[4096];
	while (send(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
	struct timeval tv = {30, 0};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return fd;
}

static void *send_thread(void *a)
{
	int fd = full_connection();
	static char buf[4096];
	said("send");
	for (;;)
		if (send(fd, buf, sizeof buf, 0) < 0 && errno == EINTR)
			counted();
	return a;
}

static void *write_thread(void *a)
{
	int fd = full_connection();
	static char buf[4096];
	said("write");
	for (;;)
		if (write(fd, buf, sizeof buf) < 0 && errno == EINTR)
			counted();
	return a;
}

static void *connect_thread(void *a)
{
	/* the listener's backlog (0: one connection) is taken by this first connection */
	int first = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(first, (void *)&full_addr, sizeof full_addr) < 0)
		perror("first connect");
	said("connect");
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = {30, 0};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		int r = connect(fd, (void *)&full_addr, sizeof full_addr);
		if (r < 0 && errno == EINTR) {
			counted();
			/* the attempt goes on in the kernel: wait for it, as a program must */
			while (connect(fd, (void *)&full_addr, sizeof full_addr) < 0 &&
			       (errno == EALREADY || errno == EINTR))
				;
		}
		close(fd);
	}
	return a;
}

static void *recv_thread(void *a)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(fd, (void *)&sink_addr, sizeof sink_addr) < 0)
		perror("connect to sink");
	struct timeval tv = {30, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	char c;
	said("recv");
	for (;;)
		if (recv(fd, &c, 1, 0) < 0 && errno == EINTR)
			counted();
	return a;
}

/* Accepts connections and keeps them open, never reading. */
static void *sink_thread(void *a)
{
	int lfd = *(int *)a;
	for (;;)
		if (accept(lfd, NULL, NULL) < 0 && errno == EINTR)
			; /* a plain accept restarts: not counted */
	return a;
}

static int listener(struct sockaddr_in *sa, int backlog)
{
	socklen_t l = sizeof *sa;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(fd, (void *)sa, sizeof *sa) || listen(fd, backlog) ||
	    getsockname(fd, (void *)sa, &l))
		return -1;
	return fd;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	static int sink;
	sink = listener(&sink_addr, 16);
	if (sink < 0 || listener(&full_addr, 0) < 0) {
		perror("listen");
		return 1;
	}
	pthread_t t;
	pthread_create(&t, NULL, sink_thread, &sink);
	void *(*fn[])(void *) = {sigtimedwait_thread, sigwaitinfo_thread, send_thread,
				 write_thread, connect_thread, recv_thread};
	for (size_t i = 0; i < sizeof fn / sizeof fn[0]; i++)
		pthread_create(&t, NULL, fn[i], NULL);
	for (int i = 0;; i++) {
		printf("iter=%d value=%d eintr=%d\n", i, value(i),
		       __atomic_load_n(&eintr, __ATOMIC_RELAXED));
		usleep(20 * 1000);
	}
}
