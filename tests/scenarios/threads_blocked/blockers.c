/* SPDX-License-Identifier: Apache-2.0 */
/* The blocked threads of threads_blocked. None installs a signal handler, so the only way
 * one of these calls returns EINTR or early is a tool that interrupted it without
 * restarting it the way the kernel would. */
#include "blockers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SLEEP_NS (500 * 1000 * 1000L)

static void die(const char *what)
{
	fprintf(stderr, "threads_blocked: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *reader(void *arg)
{
	int fd = (int)(long)arg;
	char c;

	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			printf("EINTR read\n");
		else
			printf("UNEXPECTED read returned %zd (%s)\n", n, n < 0 ? strerror(errno) : "data");
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	int fd = (int)(long)arg;

	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c < 0 && errno == EINTR)
			printf("EINTR accept\n");
		else
			printf("UNEXPECTED accept returned %d (%s)\n", c, c < 0 ? strerror(errno) : "a connection");
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static long elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000L + (b->tv_nsec - a->tv_nsec);
}

static void *sleeper(void *arg)
{
	const struct timespec req = { 0, SLEEP_NS };

	(void)arg;
	for (;;) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (nanosleep(&req, NULL) < 0) {
			printf("%s nanosleep\n", errno == EINTR ? "EINTR" : "UNEXPECTED");
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (elapsed_ns(&t0, &t1) < SLEEP_NS)
			printf("SHORT nanosleep %ld ns\n", elapsed_ns(&t0, &t1));
	}
	return NULL;
}

static pthread_mutex_t never_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never_cond = PTHREAD_COND_INITIALIZER;
static int never_set; /* nobody sets it: the waiters wait forever */

static void *waiter(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&never_lock);
	while (!never_set) {
		int rc = pthread_cond_wait(&never_cond, &never_lock);

		/* POSIX allows spurious wake-ups, so only an error is reported; EINTR is not a
		 * return value pthread_cond_wait may give. */
		if (rc != 0)
			printf("%s pthread_cond_wait %d\n", rc == EINTR ? "EINTR" : "UNEXPECTED", rc);
	}
	pthread_mutex_unlock(&never_lock);
	return NULL;
}

static int loopback_listener(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		die("bind/listen on 127.0.0.1");
	return fd;
}

static void spawn(void *(*fn)(void *), long arg)
{
	pthread_t t;
	int rc = pthread_create(&t, NULL, fn, (void *)arg);

	if (rc != 0) {
		errno = rc;
		die("pthread_create");
	}
}

void start_blockers(void)
{
	for (int i = 0; i < 2; i++) {
		int p[2];

		/* The write end stays open and unused, so read() blocks instead of seeing EOF. */
		if (pipe(p) < 0)
			die("pipe");
		spawn(reader, p[0]);
		spawn(acceptor, loopback_listener());
		spawn(sleeper, 0);
		spawn(waiter, 0);
	}
}
