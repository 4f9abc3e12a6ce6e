/* SPDX-License-Identifier: Apache-2.0 */
/* Thread churn. Two threads create short-lived threads without pause: one joins each
 * thread it creates, the other detaches them (at most 8 alive at once). Each short-lived
 * thread calls value(k) and checks the answer is either the original (1000 + k % 100) or
 * the fixed one (2000 + k % 100), printing "BAD ..." otherwise. The main thread prints
 * "iter=I value=V threads=N" every 20 ms, V = value(I), N = threads created so far. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int value(int i);

static atomic_long created;
static atomic_int detached_alive;

static void *short_lived(void *arg)
{
	int k = (int)(long)arg, v = value(k);

	if (v != 1000 + k % 100 && v != 2000 + k % 100)
		printf("BAD value(%d) = %d in a short-lived thread\n", k, v);
	return NULL;
}

static void *detached_one(void *arg)
{
	short_lived(arg);
	atomic_fetch_sub(&detached_alive, 1);
	return NULL;
}

static void *joiner(void *arg)
{
	(void)arg;
	for (long k = 0;; k++) {
		pthread_t t;
		int rc = pthread_create(&t, NULL, short_lived, (void *)k);

		if (rc != 0) {
			printf("BAD pthread_create: %s\n", strerror(rc));
			continue;
		}
		atomic_fetch_add(&created, 1);
		pthread_join(t, NULL);
	}
	return NULL;
}

static void *detacher(void *arg)
{
	pthread_attr_t attr;

	(void)arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (long k = 0;; k++) {
		pthread_t t;

		while (atomic_load(&detached_alive) >= 8)
			sched_yield();
		atomic_fetch_add(&detached_alive, 1);
		int rc = pthread_create(&t, &attr, detached_one, (void *)k);
		if (rc != 0) {
			atomic_fetch_sub(&detached_alive, 1);
			if (rc != EAGAIN)
				printf("BAD pthread_create (detached): %s\n", strerror(rc));
			continue;
		}
		atomic_fetch_add(&created, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t a, b;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pthread_create(&a, NULL, joiner, NULL) != 0 || pthread_create(&b, NULL, detacher, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	for (int i = 0;; i++) {
		printf("iter=%d value=%d threads=%ld\n", i, value(i), atomic_load(&created));
		usleep(20 * 1000);
	}
}
