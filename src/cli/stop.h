/* SPDX-License-Identifier: Apache-2.0 */
/* Signals never end suture in the middle of a transaction (DESIGN.md invariant 6).
 *
 * For the commands that change processes (apply, revert, repair) main() calls
 * cli_stop_init() before any other thread exists: the terminating signals (HUP, INT,
 * QUIT, TERM, USR1, USR2, PIPE) are blocked in the main thread, so every thread created
 * afterwards (the --all worker pool) starts with them blocked too, for the whole run:
 * staging (when a target thread's registers are borrowed for a remote system call),
 * the freeze and the commit alike. One thread takes them with sigwait():
 *   first signal   finish what is under way (each process's job: its patches, or the
 *                  take-back of those that applied), start no new process; the report
 *                  names what was not done;
 *   second signal  still held: the transaction under way ends, then no further
 *                  transaction starts, not even in the current process's job;
 *   later ones     a note that suture is waiting for the transaction under way.
 * SIGKILL cannot be held; what it interrupts is repaired by the next suture run. A
 * broken pipe on standard output makes writes fail (EPIPE) instead of killing suture. */
#ifndef SUTURE_CLI_STOP_H
#define SUTURE_CLI_STOP_H

#include <stdbool.h>

/* Blocks the signals and starts the signal thread. Call once, before other threads. */
void cli_stop_init(void);

/* A first signal arrived: start no new job. */
bool cli_stop_requested(void);
/* The first signal's number, 0 if none. */
int cli_stop_signal(void);

/* Brackets one transaction. cli_txn_start() returns false (and the transaction must not
 * start) once a second signal arrived. */
bool cli_txn_start(void);
void cli_txn_end(void);

#endif
