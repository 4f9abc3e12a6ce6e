/* SPDX-License-Identifier: Apache-2.0 */
/* prog: threads asleep in system calls for as long as the program lives, each counting the
 * returns from its call (a wake-up that reached user code):
 *   nanosleep  nanosleep of 1000 s
 *   futex      FUTEX_WAIT on a word nobody changes or wakes
 *   epoll      epoll_wait, no timeout, on an epoll set with nothing in it
 *   read       read on a pipe nobody writes
 * plus one thread that never sleeps (spin: calls value() in a loop), one that sleeps in
 * pause() and is started first (stage: the thread suture's staging borrows, see
 * stage_thread), and the main thread, which prints every 20 ms
 *   "iter=I value=V wakeups=N spins=S"
 * (V = value(I): 1000 + I % 100, 2000 + I % 100 once fixed; N: returns counted so far by
 * the four sleepers; S: value() calls of the spinning thread, so that it is seen to run).
 * Each thread prints "thread NAME TID" before it first blocks.
 *
 * prog wakers N: the opposite, for the partial freeze's hostile cases: N threads each
 * wait in read() on a timerfd that fires every 50 to 300 us (a call without a timeout:
 * suture leaves them asleep, and the kernel's timer wakes them during the freeze) and
 * call value() as soon as they wake, so that some wake between suture's looks, or meet
 * an entry while it is written; one more thread, woken the same way every 5 ms, forks a
 * child that calls value() and exits 0 if the result is in the old or the new range, 3
 * if not. The main thread prints every 20 ms
 *   "iter=I value=V bad=B calls=C forks=F childfail=X eintr=E"
 * (B: results of value() in neither range; C: calls by the wakers; F: children reaped;
 * X: children that did not exit 0, crashed ones included; E: reads by the wakers that
 * failed with EINTR, which a stop by suture must never cause).
 * prog wakers N IDLE: the same, the first IDLE wakers under SCHED_IDLE on CPU 0 (see
 * make_idle); prog hog: a process that keeps CPU 0 busy. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sched.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int value(int i);

static int wakeups;
static unsigned long spins;
static int futex_word;
static int pipe_fd[2], epfd;

static void said(const char *name)
{
	printf("thread %s %ld\n", name, (long)syscall(SYS_gettid));
	fflush(stdout);
}

static void woke(void)
{
	__atomic_add_fetch(&wakeups, 1, __ATOMIC_RELAXED);
}

/* Staging stops one thread for its remote calls and moves on to another when that one has
 * not stopped within a few milliseconds (waiting for a CPU on a loaded machine). This one
 * is real-time, so that it always gets a CPU at once and staging never moves on to a
 * counted sleeper: what the test measures is the freeze. */
static void *stage_thread(void *a)
{
	struct sched_param sp = {.sched_priority = 1};
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	said("stage");
	for (;;)
		pause();
	return a;
}

static void *nanosleep_thread(void *a)
{
	said("nanosleep");
	for (;;) {
		struct timespec ts = {1000, 0};
		nanosleep(&ts, NULL);
		woke();
	}
	return a;
}

static void *futex_thread(void *a)
{
	said("futex");
	for (;;) {
		syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		woke();
	}
	return a;
}

static void *epoll_thread(void *a)
{
	struct epoll_event ev;
	said("epoll");
	for (;;) {
		epoll_wait(epfd, &ev, 1, -1);
		woke();
	}
	return a;
}

static void *read_thread(void *a)
{
	char c;
	said("read");
	for (;;) {
		(void)!read(pipe_fd[0], &c, 1);
		woke();
	}
	return a;
}

static void *spin_thread(void *a)
{
	said("spin");
	for (int i = 0;; i++) {
		volatile int v = value(i);
		(void)v;
		__atomic_add_fetch(&spins, 1, __ATOMIC_RELAXED);
	}
	return a;
}

static unsigned long calls, forks, childfail, eintrs;
static int bad;

static bool in_range(int v)
{
	return (v >= 1000 && v < 1100) || (v >= 2000 && v < 2100);
}

/* A timerfd firing every us microseconds: read() on it blocks without a timeout. */
static int ticker(long us)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec it = {{0, us * 1000}, {0, us * 1000}};
	if (fd < 0 || timerfd_settime(fd, 0, &it, NULL) < 0) {
		perror("timerfd");
		exit(1);
	}
	return fd;
}

/* prog wakers N IDLE: the first IDLE wakers run under SCHED_IDLE on CPU 0, where the
 * test keeps a busy process: each is then preempted at almost any point, between an int3
 * trap and its stop for the tracer too, and may be woken by its timer yet switched in
 * only after suture's second look. */
static int idle_wakers;

static void make_idle(void)
{
	struct sched_param sp = {.sched_priority = 0};
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus) != 0 ||
	    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0) {
		perror("SCHED_IDLE");
		exit(1);
	}
}

static void *waker_thread(void *a)
{
	if ((long)(uintptr_t)a <= idle_wakers)
		make_idle();
	int fd = ticker(50 + 37 * (long)(uintptr_t)a % 250);
	for (int i = 0;; i++) {
		uint64_t n;
		if (read(fd, &n, sizeof n) < 0 && errno == EINTR)
			__atomic_add_fetch(&eintrs, 1, __ATOMIC_RELAXED);
		if (!in_range(value(i)))
			__atomic_add_fetch(&bad, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	}
	return a;
}

static void *forker_thread(void *a)
{
	int fd = ticker(5000);
	for (int i = 0;; i++) {
		uint64_t n;
		(void)!read(fd, &n, sizeof n);
		pid_t c = fork();
		if (c == 0)
			_exit(in_range(value(i)) ? 0 : 3);
		int st;
		if (c > 0 && waitpid(c, &st, 0) == c) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				__atomic_add_fetch(&childfail, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&forks, 1, __ATOMIC_RELAXED);
		}
	}
	return a;
}

static int wakers(int n)
{
	for (int k = 0; k <= n; k++) {
		pthread_t t;
		if (pthread_create(&t, NULL, k < n ? waker_thread : forker_thread,
				   (void *)(uintptr_t)(k + 1)) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0;; i++) {
		printf("iter=%d value=%d bad=%d calls=%lu forks=%lu childfail=%lu eintr=%lu\n", i,
		       value(i), __atomic_load_n(&bad, __ATOMIC_RELAXED),
		       __atomic_load_n(&calls, __ATOMIC_RELAXED),
		       __atomic_load_n(&forks, __ATOMIC_RELAXED),
		       __atomic_load_n(&childfail, __ATOMIC_RELAXED),
		       __atomic_load_n(&eintrs, __ATOMIC_RELAXED));
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
}

/* prog hog: spins on CPU 0 (the busy process of "wakers N IDLE"). */
static int hog(void)
{
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof cpus, &cpus) != 0) {
		perror("sched_setaffinity");
		return 1;
	}
	for (volatile unsigned long k = 0;; k++)
		;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "hog") == 0)
		return hog();
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "wakers") == 0) {
		idle_wakers = argc == 4 ? atoi(argv[3]) : 0;
		return wakers(atoi(argv[2]));
	}
	if (pipe(pipe_fd) < 0 || (epfd = epoll_create1(0)) < 0) {
		perror("setup");
		return 1;
	}
	void *(*fns[])(void *) = {stage_thread, nanosleep_thread, futex_thread, epoll_thread,
				  read_thread, spin_thread};
	for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
		pthread_t t;
		if (pthread_create(&t, NULL, fns[k], NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
		usleep(20000); /* in this order: stage has the lowest thread id */
	}
	for (int i = 0;; i++) {
		printf("iter=%d value=%d wakeups=%d spins=%lu\n", i, value(i),
		       __atomic_load_n(&wakeups, __ATOMIC_RELAXED),
		       __atomic_load_n(&spins, __ATOMIC_RELAXED));
		struct timespec ts = {0, 20000000};
		nanosleep(&ts, NULL);
	}
}
