/* SPDX-License-Identifier: Apache-2.0 */
/* Running one job per process on a pool of threads (apply/revert --all). A stop request
 * (cli/stop.h: the first SIGINT, SIGTERM, SIGHUP...) lets the jobs under way finish and
 * starts no new one, so no process is left between two states. */
#ifndef SUTURE_CLI_POOL_H
#define SUTURE_CLI_POOL_H

#include <stdbool.h>
#include <stddef.h>

/* Runs fn(i, ctx) for i in [0, n) on up to `threads` threads (1 = in this thread).
 * Returns the number of jobs that were not started because a stop was requested;
 * not_started[i] (when not NULL, n entries) says which. */
size_t cli_pool_run(size_t n, int threads, void (*fn)(size_t i, void *ctx), void *ctx,
		    bool *not_started);

/* Worker threads to use for n jobs: `jobs` (--jobs) if > 0, else SUTURE_JOBS when the
 * environment is believed, else 2 * cores; at most 16 and at most n. */
int cli_pool_threads(size_t n, long jobs);

#endif
