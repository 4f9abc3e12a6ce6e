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

/* The process view of apply.h: what one job read of its process, handed down to each
 * step. A transaction works on it and leaves it describing the process as it left it:
 * the maps as read under its last freeze (minus the memory it released), the registry
 * as it wrote it. Only a failure after staging, a repair or a registry nobody can trust
 * makes the job read the process again. */
struct sut_process_view {
	struct sut_target t;        /* pid, label, maps, objects (and ELF files opened) */
	struct sut_registry reg;    /* the registry as read or as last written */
	bool have_reg;              /* the process has a registry mapping */
	bool reg_corrupt;           /* ... that failed validation: never used */
	char reg_error[SUT_ERR_MAX];/* why, naming the process and the mapping */
	struct sut_status status;   /* reg decoded, each record checked against the process */
	char lost[SUT_ERR_MAX];     /* a read again failed (process gone): why; "" while usable */
};

/* Reads the view afresh (after a repair or a failed staging changed the process). */
int sut_view_reread(struct sut_process_view *v, struct sut_err *err);
/* 0 while v describes its process; -1 (err) once a read again failed. */
int sut_view_usable(const struct sut_process_view *v, struct sut_err *err);
/* Decodes v->reg into v->status again (after a transaction changed the registry). */
int sut_view_status_update(struct sut_process_view *v, struct sut_err *err);
/* 0 when the registry may be used; -1 (err: why) when it is corrupt. */
int sut_view_registry_usable(const struct sut_process_view *v, struct sut_err *err);
/* The registry a committed transaction wrote becomes the view's (reg is emptied). */
void sut_view_take_registry(struct sut_process_view *v, struct sut_registry *reg);
/* Drops from the view's maps the mappings inside [lo, hi) (memory a transaction
 * released after its freeze read the maps). */
void sut_view_forget_mappings(struct sut_process_view *v, uint64_t lo, uint64_t hi);
/* A deep copy of src (its records duplicated): a transaction's working registry. */
void sut_registry_dup(const struct sut_registry *src, struct sut_registry *dst);
/* The status view of reg in a process with these maps and objects (status.c). */
int sut_status_decode(pid_t pid, const struct sut_registry *reg, const struct sut_maps *maps,
		      const struct sut_objects *objs, struct sut_status *st, struct sut_err *err);

/* One transaction on the process of view v (the caller holds the pid's lock and has
 * repaired what needed repair: sut_txn_repair). res: the caller sets pid and any repair
 * fields; the transaction fills the rest. */
int sut_txn_apply(struct sut_process_view *v, const struct sut_patch *p,
		  const struct sut_txn_opts *o, struct sut_txn_result *res, struct sut_err *err);
int sut_txn_revert(struct sut_process_view *v, const char *patch_id,
		   const struct sut_txn_opts *o, struct sut_txn_result *res, struct sut_err *err);
/* Repairs what a killed suture left, when v shows any (a journal, or patch memory no
 * record accounts for), and then reads v again; res says what was done. Nothing to
 * repair costs nothing. The caller holds the lock. */
int sut_txn_repair(struct sut_process_view *v, struct sut_txn_result *res, struct sut_err *err);

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
 * against; under the partial freeze (the default; SUTURE_FREEZE=all: the full freeze)
 * the threads left asleep are checked against them before any is stopped. */
int sut_frozen_retry(struct sut_target *t, int timeout_ms, const char *op, sut_frozen_fn fn,
		     void *ctx, const struct sut_range *ranges, size_t nranges,
		     struct sut_txn_result *res, struct sut_err *err);

/* Sleeps for the retry backoff of attempt n (1 ms doubling, capped at 100 ms). */
void sut_backoff(int attempt);

/* Message for a consistency failure: names thread, function and how it blocked. */
int sut_blocked_error(struct sut_err *err, const struct sut_target *t,
		      const struct sut_blocker *b, int attempts, const char *op);

/* Whether SUT_JMP_LEN entry bytes are what a killed suture can leave in the middle of
 * sut_freeze_write_code (partial freeze): an int3 over the first byte, the other four
 * either the old (`from`) or the new (`to`) ones. Repair then writes the bytes it wants
 * whole, as for a complete jump. */
bool sut_entry_half_written(const uint8_t cur[SUT_JMP_LEN], const uint8_t from[SUT_JMP_LEN],
			    const uint8_t to[SUT_JMP_LEN]);

/* Removes record ri from reg and the process under the freeze f the caller holds (see
 * txn_revert.c): journal, restore the entries it owns (under a partial freeze in one
 * sut_freeze_write_code: SUT_FROZEN_WOKE when a sleeper ran meanwhile, nothing changed),
 * commit; everything is restored on failure. The patch memory stays mapped: the caller
 * releases it. */
int sut_revert_record(struct sut_target *t, struct sut_registry *reg, long ri,
		      struct sut_freeze *f, struct sut_err *err);
/* The same, finishing a revert a killed suture journalled: no new journal; an entry that
 * already holds its saved bytes is done, one that holds neither them nor the jump is
 * refused (nothing changed). */
int sut_revert_record_repair(struct sut_target *t, struct sut_registry *reg, long ri,
			     struct sut_err *err);

/* Drops the records of reg that are stale in t's process (sut_registry_liveness) from the
 * in-memory registry, so the transaction's registry write removes them; notes what was
 * dropped in res. Returns the number dropped, or -1 when the process cannot be read. */
long sut_drop_stale(struct sut_target *t, struct sut_registry *reg, struct sut_txn_result *res,
		    struct sut_err *err);

#endif
