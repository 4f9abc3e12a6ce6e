/* SPDX-License-Identifier: Apache-2.0 */
/* Running one job per process on a pool of threads (apply/revert --all), and stopping
 * cleanly on Ctrl-C: the first SIGINT/SIGTERM lets the transactions under way finish and
 * starts no new one, so no process is left between two states. */
#ifndef SUTURE_CLI_POOL_H
#define SUTURE_CLI_POOL_H

#include <stdbool.h>
#include <stddef.h>

/* Runs fn(i, ctx) for i in [0, n) on up to `threads` threads (1 = in this thread).
 * Returns the number of jobs that were not started because a stop was requested. */
size_t cli_pool_run(size_t n, int threads, void (*fn)(size_t i, void *ctx), void *ctx);

/* Installs the SIGINT/SIGTERM handlers that request a stop. */
void cli_pool_catch_signals(void);
bool cli_pool_stop_requested(void);

/* Worker threads to use for n jobs: SUTURE_JOBS if set, else min(n, 2 * cores, 16). */
int cli_pool_threads(size_t n);

#endif
