/* SPDX-License-Identifier: Apache-2.0 */
/* The freeze-time target: measures, from inside, how long its threads were held up.
 *
 *   threads TOTAL SPINNERS SLEEP_US
 *
 * runs TOTAL threads: the main thread calls bench_value() (the patched function) every
 * millisecond; of the TOTAL-1 workers, SPINNERS loop in user space and the others sleep
 * SLEEP_US microseconds per iteration. Every thread records the longest gap it observed
 * between the starts of two iterations of its loop. On SIGUSR1 the main thread prints
 * one line with the longest gap per kind of thread since the previous SIGUSR1 and starts
 * a new window:
 *
 *   gaps main=NS spin=NS sleep=NS
 *
 * (nanoseconds; -1 for a kind with no thread). SLEEP_US 0: the sleepers never wake; they
 * sleep for good, in turn in nanosleep (1000 s at a time), FUTEX_WAIT on a word nobody
 * wakes, and epoll_wait on an empty set, and report no gap. A gap includes the thread's own period
 * (1 ms for main, SLEEP_US for sleepers, almost nothing for spinners), so the stall a
 * freeze caused is the gap minus that period. Only the main thread takes SIGUSR1, and it
 * is the only one that writes to stdout, so the thread count is exactly TOTAL. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/syscall.h>

#include "bench.h"

enum kind { KIND_MAIN, KIND_SPIN, KIND_SLEEP, KIND_COUNT };

/* One slot per thread, on its own cache line so that the spinners' stores do not slow
 * the other threads down. The owner raises max_gap; the main thread swaps it to 0. */
struct slot {
	_Atomic uint64_t max_gap;
	enum kind kind;
	char pad[64 - sizeof(uint64_t) - sizeof(enum kind)];
} __attribute__((aligned(64)));

static struct slot *slots;
static long sleep_us;
static volatile sig_atomic_t report_asked;
static volatile int sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Raise *max to gap unless the reader reset it meanwhile (then gap starts the new window,
 * which is what a window that began during this iteration should see). */
static void record_gap(struct slot *s, uint64_t gap)
{
	uint64_t cur = atomic_load_explicit(&s->max_gap, memory_order_relaxed);
	while (gap > cur &&
	       !atomic_compare_exchange_weak_explicit(&s->max_gap, &cur, gap, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void sleep_for_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	/* A signal (only the main thread takes one) ends the sleep early; that only makes
	 * the gap shorter, never longer, so it is not resumed. */
	nanosleep(&ts, NULL);
}

static int futex_word;
static int empty_epoll;

/* SLEEP_US 0: the n-th sleeper sleeps for good in one of three calls. */
static void *forever(void *arg)
{
	long n = (long)(intptr_t)arg;
	for (;;) {
		if (n % 3 == 0) {
			struct timespec ts = {1000, 0};
			nanosleep(&ts, NULL);
		} else if (n % 3 == 1) {
			syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
		} else {
			struct epoll_event ev;
			epoll_wait(empty_epoll, &ev, 1, -1);
		}
	}
	return NULL;
}

static void *worker(void *arg)
{
	struct slot *s = arg;
	uint64_t prev = now_ns();
	for (;;) {
		uint64_t t = now_ns();
		record_gap(s, t - prev);
		prev = t;
		if (s->kind == KIND_SLEEP)
			sleep_for_us(sleep_us);
	}
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	report_asked = 1;
}

static void report(long total)
{
	int64_t worst[KIND_COUNT] = { -1, -1, -1 };
	for (long i = 0; i < total; i++) {
		uint64_t g = atomic_exchange_explicit(&slots[i].max_gap, 0, memory_order_relaxed);
		if ((int64_t)g > worst[slots[i].kind])
			worst[slots[i].kind] = (int64_t)g;
	}
	printf("gaps main=%lld spin=%lld sleep=%lld\n", (long long)worst[KIND_MAIN],
	       (long long)worst[KIND_SPIN], (long long)worst[KIND_SLEEP]);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s TOTAL SPINNERS SLEEP_US\n", argv[0]);
		return 2;
	}
	long total = atol(argv[1]), spinners = atol(argv[2]);
	sleep_us = atol(argv[3]);
	if (total < 1 || spinners < 0 || spinners > total - 1 || sleep_us < 0) {
		fprintf(stderr, "%s: need TOTAL >= 1, 0 <= SPINNERS < TOTAL, SLEEP_US >= 0\n",
			argv[0]);
		return 2;
	}
	empty_epoll = epoll_create1(0);
	setvbuf(stdout, NULL, _IOLBF, 0);
	slots = aligned_alloc(64, sizeof(*slots) * (size_t)total);
	if (!slots)
		return 1;
	memset(slots, 0, sizeof(*slots) * (size_t)total);

	/* Workers inherit a mask with SIGUSR1 blocked, so only the main thread takes it. */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);

	/* Small stacks: a thousand threads of the default 8 MiB would reserve 8 GiB. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	slots[0].kind = KIND_MAIN;
	for (long i = 1; i < total; i++) {
		slots[i].kind = i <= spinners ? KIND_SPIN : KIND_SLEEP;
		pthread_t t;
		int rc = sleep_us == 0 && slots[i].kind == KIND_SLEEP
				 ? pthread_create(&t, &attr, forever, (void *)(intptr_t)i)
				 : pthread_create(&t, &attr, worker, &slots[i]);
		if (rc) {
			fprintf(stderr, "pthread_create %ld: %s\n", i, strerror(rc));
			return 1;
		}
	}
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	printf("ready threads=%ld\n", total);

	uint64_t prev = now_ns();
	for (int i = 0;; i++) {
		uint64_t t = now_ns();
		record_gap(&slots[0], t - prev);
		prev = t;
		sink = bench_value(i);
		if (report_asked) {
			report_asked = 0;
			report(total);
			/* The report is not part of any window: start the next one from here. */
			prev = now_ns();
		}
		sleep_for_us(1000);
	}
}
