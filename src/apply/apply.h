/* SPDX-License-Identifier: Apache-2.0 */
/* The `apply` layer: transactions on one process: apply, revert; and the status read-out.
 *
 * A transaction is all or nothing (DESIGN.md invariant 1). Its steps:
 *   plan    find the target object by build-id, read the registry, choose an address
 *           within +-2 GiB of the target, resolve symbols and link the image (no stop);
 *   stage   stop one thread just long enough to map the image memory and the registry
 *           with remote system calls, resume it, then write the image (never executed
 *           yet, so the other threads may run);
 *   freeze  stop every thread;
 *   check   unwind every thread and apply the consistency rule; verify each function's
 *           pre-image; on a blocked check: thaw, back off, retry until the timeout;
 *   commit  journal in the registry, write the jumps, commit the registry;
 *   thaw    resume every thread as it was.
 * Any failure after staging unmaps what was staged, so the process ends as it began. */
#ifndef SUTURE_APPLY_APPLY_H
#define SUTURE_APPLY_APPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "apply/registry.h"
#include "patch/patch.h"
#include "util/err.h"

struct sut_txn_opts {
	int timeout_ms;  /* give up the consistency retries after this long (default 5000) */
	bool dry_run;    /* plan and check only: nothing is written */
};

/* What a transaction did, for human and JSON reports. */
struct sut_txn_result {
	pid_t pid;
	int attempts;         /* freezes taken */
	size_t nfuncs;        /* functions switched by this transaction */
	uint64_t freeze_ns;   /* duration of the committing freeze (all threads stopped) */
	uint64_t total_ns;
	size_t nthreads;
	uint64_t region;      /* apply: where the image was placed */
	uint64_t region_size;
	bool repaired;        /* an interrupted earlier transaction was repaired first */
	char repair_note[256];
};

int sut_apply_patch(pid_t pid, const struct sut_patch *p, const struct sut_txn_opts *o,
		    struct sut_txn_result *res, struct sut_err *err);
int sut_revert_patch(pid_t pid, const char *patch_id, const struct sut_txn_opts *o,
		     struct sut_txn_result *res, struct sut_err *err);

/* Does pid map the object with this build-id? 1 yes, 0 no, -1 error (process gone). */
int sut_process_maps_build_id(pid_t pid, const uint8_t *id, size_t len, struct sut_err *err);

/* Finishes or rolls back a transaction that a killed suture left in pid's registry.
 * *repaired says whether anything was found; note describes what was done. */
int sut_repair(pid_t pid, bool *repaired, char *note, size_t notelen, struct sut_err *err);

/* Several patches on one process (txn_multi.c). */
struct sut_multi_opts {
	struct sut_txn_opts txn;
	bool only_mapped;  /* leave out patches for objects the process does not map */
	/* apply: a patch already applied there counts as done (a state is asked, not an
	 * action); revert: an id not applied there is left out */
	bool skip_applied;
};

struct sut_multi_txn {
	const char *id;             /* the caller's patch id string */
	struct sut_txn_result res;
	char *error;                /* NULL when the transaction succeeded */
};

struct sut_multi_result {
	struct sut_multi_txn *txns; /* transactions attempted, in order */
	size_t ntxns;
	size_t already;             /* apply: patches left out, applied there already */
	bool touched;               /* at least one patch concerned the process */
	bool failed;
	char **notes;               /* what was taken back after a failure */
	size_t nnotes;
};

/* Applies the patches to pid in the order given, all or nothing: when one fails, those
 * this call applied before it are reverted (each take-back is a note). 0 when every patch
 * ended applied, -1 otherwise (details in out, which the caller frees). */
int sut_apply_patches(pid_t pid, struct sut_patch *const *patches, size_t n,
		      const struct sut_multi_opts *o, struct sut_multi_result *out);
/* Reverts the patch ids from pid in the order given, stopping at the first failure. */
int sut_revert_patches(pid_t pid, const char *const *ids, size_t n,
		       const struct sut_multi_opts *o, struct sut_multi_result *out);
void sut_multi_result_free(struct sut_multi_result *r);

#endif
