/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/stop.h"
#include "util/buf.h"
#include "util/env.h"

int cli_pool_threads(size_t n, long jobs)
{
	const char *env = sut_env("SUTURE_JOBS");
	long want = jobs > 0 ? jobs : env ? atol(env) : 2 * sysconf(_SC_NPROCESSORS_ONLN);
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
	bool *not_started;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n)
			break;
		if (cli_stop_requested()) {
			atomic_fetch_add(&p->skipped, 1);
			if (p->not_started)
				p->not_started[i] = true;
			continue;
		}
		p->fn(i, p->ctx);
	}
	return NULL;
}

size_t cli_pool_run(size_t n, int threads, void (*fn)(size_t i, void *ctx), void *ctx,
		    bool *not_started)
{
	struct pool p = {.n = n, .fn = fn, .ctx = ctx, .not_started = not_started};
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
