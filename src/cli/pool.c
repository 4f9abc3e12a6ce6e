/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/pool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void cli_pool_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

bool cli_pool_stop_requested(void)
{
	return stop_flag != 0;
}

int cli_pool_threads(size_t n)
{
	const char *env = getenv("SUTURE_JOBS");
	long want = env ? atol(env) : 2 * sysconf(_SC_NPROCESSORS_ONLN);
	if (want < 1)
		want = 1;
	if (want > 16)
		want = 16;
	if ((size_t)want > n)
		want = (long)(n ? n : 1);
	return (int)want;
}

struct pool {
	atomic_size_t next;
	atomic_size_t skipped;
	size_t n;
	void (*fn)(size_t, void *);
	void *ctx;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		if (stop_flag) {
			atomic_fetch_add(&p->skipped, 1);
			continue;
		}
		p->fn(i, p->ctx);
	}
	return NULL;
}

size_t cli_pool_run(size_t n, int threads, void (*fn)(size_t i, void *ctx), void *ctx)
{
	struct pool p = {.n = n, .fn = fn, .ctx = ctx};
	atomic_init(&p.next, 0);
	atomic_init(&p.skipped, 0);
	if (threads <= 1 || n <= 1) {
		worker(&p);
		return atomic_load(&p.skipped);
	}
	pthread_t *t = sut_xcalloc((size_t)threads, sizeof *t);
	int started = 0;
	for (int k = 0; k < threads; k++)
		if (pthread_create(&t[k], NULL, worker, &p) == 0)
			started++;
		else
			break;
	if (started == 0)
		worker(&p);
	for (int k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	free(t);
	return atomic_load(&p.skipped);
}
