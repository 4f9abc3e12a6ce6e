/* SPDX-License-Identifier: Apache-2.0 */
/* Pieces shared by the apply and revert transactions. Internal to the apply layer. */
#ifndef SUTURE_APPLY_TXN_H
#define SUTURE_APPLY_TXN_H

#include <signal.h>
#include <stdint.h>

#include "apply/apply.h"
#include "apply/consistency.h"
#include "apply/registry.h"
#include "apply/remote.h"
#include "apply/target.h"
#include "ptrace/ptrace.h"

uint64_t sut_now_ns(void);

/* Signals that would end the tool are held while threads are frozen (invariant 6):
 * a Ctrl-C then lands after the thaw, never between two jump writes. */
void sut_hold_signals(sigset_t *old);
void sut_release_signals(const sigset_t *old);

/* Writes the registry (header and records) into the process. */
int sut_registry_write(pid_t pid, const struct sut_registry *reg, struct sut_err *err);

/* Sleeps for the retry backoff of attempt n (1 ms doubling, capped at 100 ms). */
void sut_backoff(int attempt);

/* Message for a consistency failure: names thread, function and how it blocked. */
int sut_blocked_error(struct sut_err *err, const struct sut_target *t,
		      const struct sut_blocker *b, int attempts, const char *op);

/* Removes record ri from reg and the process (see txn_revert.c). */
int sut_revert_record(struct sut_target *t, struct sut_registry *reg, long ri,
		      struct sut_remote *rem, bool repair, struct sut_err *err);

/* Takes the per-pid lock and repairs an interrupted transaction if one is recorded;
 * prints what it repaired to stderr. Returns the lock fd, or -1 with err set. */
int sut_txn_begin(pid_t pid, int timeout_ms, struct sut_txn_result *res, struct sut_err *err);

#endif
