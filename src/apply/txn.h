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

/* The work done inside one freeze: consistency check first, then whatever the transaction
 * writes. Returns 0 done, 1 blocked by a thread (b says which: the loop retries), -1 error,
 * and under a partial freeze (f->nasleep) SUT_FROZEN_FULL: a thread left asleep must be
 * judged on its full registers, or the work needs a stopped thread there is not: again at
 * once under the full freeze; SUT_FROZEN_WOKE: a thread left asleep ran before the switch
 * (sut_freeze_write_code), nothing was changed: again at once (a few times, then under the
 * full freeze). */
#define SUT_FROZEN_FULL 2
#define SUT_FROZEN_WOKE 3
typedef int (*sut_frozen_fn)(struct sut_freeze *f, struct sut_target *t, void *ctx,
			     struct sut_blocker *b, struct sut_err *err);

/* Freezes t's process, refreshes its maps, runs fn, thaws; while fn reports a blocking
 * thread, backs off and retries until timeout_ms, then fails naming thread and function
 * ("OP refused after N attempts: ..."). Signals that would end suture are held during each
 * freeze. Fills attempts, nthreads and freeze_ns of res. ranges: those fn checks the rule
 * against; under the partial freeze (SUTURE_FREEZE=sleepers; the full freeze is the
 * default) the threads left asleep are checked against them before any is stopped. */
int sut_frozen_retry(struct sut_target *t, int timeout_ms, const char *op, sut_frozen_fn fn,
		     void *ctx, const struct sut_range *ranges, size_t nranges,
		     struct sut_txn_result *res, struct sut_err *err);

/* Sleeps for the retry backoff of attempt n (1 ms doubling, capped at 100 ms). */
void sut_backoff(int attempt);

/* Message for a consistency failure: names thread, function and how it blocked. */
int sut_blocked_error(struct sut_err *err, const struct sut_target *t,
		      const struct sut_blocker *b, int attempts, const char *op);

/* Whether 5 entry bytes are what a killed suture can leave in the middle of
 * sut_freeze_write_code (partial freeze): an int3 over the first byte, the other four
 * either the old (`from`) or the new (`to`) ones. Repair then writes the bytes it wants
 * whole, as for a complete jump. */
bool sut_entry_half_written(const uint8_t cur[5], const uint8_t from[5], const uint8_t to[5]);

/* Removes record ri from reg and the process (see txn_revert.c). */
int sut_revert_record(struct sut_target *t, struct sut_registry *reg, long ri,
		      struct sut_remote *rem, bool repair, struct sut_err *err);

/* Takes the per-pid lock and repairs an interrupted transaction if one is recorded;
 * what it repaired comes back in res (repaired, repair_note, repair_claimed_id). Returns
 * the lock fd, or -1 with err set. */
int sut_txn_begin(pid_t pid, int timeout_ms, struct sut_txn_result *res, struct sut_err *err);
/* The same for a dry run: takes the lock, repairs nothing (read-only, invariant 8). */
int sut_txn_begin_readonly(pid_t pid, int timeout_ms, struct sut_err *err);

/* Drops the records of reg that are stale in t's process (sut_registry_liveness) from the
 * in-memory registry, so the transaction's registry write removes them; notes what was
 * dropped in res. Returns the number dropped, or -1 when the process cannot be read. */
long sut_drop_stale(struct sut_target *t, struct sut_registry *reg, struct sut_txn_result *res,
		    struct sut_err *err);

#endif
