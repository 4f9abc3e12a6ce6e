/* SPDX-License-Identifier: Apache-2.0 */
/* The `rollout` layer: patch the processes of one host in waves, check their health after
 * each wave, and take every wave back out when a check fails (docs/rollout.md).
 *
 *   plan     the targets: processes that map the build of one of the patches (optionally
 *            only some PIDs), the canary first, then the least busy (CPU time, threads);
 *            the waves are cumulative sizes ("1,10%,100%");
 *   run      for each wave not yet healthy: apply (all or nothing per process, apply.h),
 *            soak, health (alive, listening sockets kept, no crash signal pending, verify
 *            proves every patch, the operator's command exits 0);
 *   rollback on any failure or an abort: every wave reverted, newest first, each process's
 *            patches in reverse order;
 *   state    the whole rollout as JSON, rewritten atomically after every step, so a
 *            rollout interrupted (a signal between steps, or a killed suture) is resumed
 *            or rolled back from its file.
 * Nothing here prints: progress and audit lines go through the caller's hooks. */
#ifndef SUTURE_ROLLOUT_ROLLOUT_H
#define SUTURE_ROLLOUT_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "apply/apply.h"
#include "assess/assess.h"
#include "patch/patch.h"
#include "util/err.h"

#define SUT_ROLLOUT_DIR "/var/lib/suture/rollouts"
#define SUT_ROLLOUT_MAX_LISTEN 64

struct sut_ro_check {
	pid_t pid;             /* 0 for the command */
	char check[16];        /* alive, sockets, signals, verify, command */
	bool ok;
	char detail[256];
};

struct sut_ro_undo {
	int wave;
	pid_t pid;
	char patch[SUT_PATCH_ID_MAX];
	bool ok;
	char error[256];       /* "" when none */
};

struct sut_ro_proc {
	pid_t pid;
	uint64_t start_time;   /* /proc/PID/stat field 22: tells a reused PID apart */
	char comm[64];         /* from the process: untrusted */
	uint64_t listen[SUT_ROLLOUT_MAX_LISTEN]; /* TCP sockets in LISTEN before the rollout */
	size_t nlisten;
};

struct sut_ro_wave {
	pid_t *pids;           /* the processes this wave adds */
	size_t npids;
	char state[16];        /* pending applying applied healthy failed reverted */
	char applied_at[32], checked_at[32];
	struct sut_ro_check *health;
	size_t nhealth;
};

struct sut_ro_patchref {
	char *file;            /* absolute path */
	char *id;
	char signer[80];
};

struct sut_rollout {
	char id[64];
	char created[32], updated[32];
	char state[24];        /* running interrupted done rolled-back aborted rollback-failed */
	bool dry_run;
	char *health_cmd;      /* NULL: none */
	long soak_ms;
	char *waves_spec;
	struct sut_ro_patchref *patches;
	size_t npatches;
	struct sut_ro_proc *procs; /* in rollout order */
	size_t nprocs;
	struct sut_ro_wave *waves;
	size_t nwaves;
	char *failure;         /* NULL: none */
	struct sut_ro_undo *undone;
	size_t nundone;
	char *state_dir;       /* where the file lives (not stored in it) */
};

/* "500ms", "30s", "2m", "1h", or plain seconds -> milliseconds. -1 when not one. */
long sut_parse_duration_ms(const char *s);

/* Cumulative wave sizes for n targets from "1,10%,100%" (counts or percentages, rounded
 * up, at least 1): non-increasing steps dropped, the last one raised to n. */
int sut_rollout_wave_sizes(const char *spec, size_t n, size_t **sizes, size_t *nsizes,
			   struct sut_err *err);

/* What plan needs beyond the patches. */
struct sut_rollout_params {
	const char *state_dir;     /* NULL: SUT_ROLLOUT_DIR */
	const char *waves_spec;    /* NULL: "1,10%,100%" */
	const char *health_cmd;
	long soak_ms;
	bool dry_run;
	const pid_t *select;       /* only these (nselect 0: every process mapping a build) */
	size_t nselect;
	pid_t canary;              /* 0: none */
	const char *const *files;  /* the patch files, as given (made absolute here) */
	const char *const *signers;
};

/* Finds and orders the targets and makes the waves; state "running", nothing saved yet.
 * -1 when there is no target or the canary/selection names a process that does not map
 * any patch's build. */
int sut_rollout_plan(struct sut_rollout *ro, struct sut_patch *const *patches, size_t n,
		     const struct sut_rollout_params *prm, struct sut_err *err);

/* The caller's view of the run. */
struct sut_rollout_hooks {
	void *ctx;
	const struct sut_multi_hooks *txn;     /* each apply/revert transaction (audit) */
	bool (*stop)(void *ctx);               /* a stop was requested: end between steps */
	/* a step ended: action rollout-wave, rollout-health, rollout-abort, rollout-done */
	void (*event)(void *ctx, const struct sut_rollout *ro, const char *action, int wave,
		      bool ok, const char *error, const char *detail);
	const struct sut_patch_set *known;     /* for verify: the rollout's patches */
	int timeout_ms;                        /* per transaction */
};

enum sut_rollout_end {
	SUT_RO_DONE = 0,        /* every wave healthy */
	SUT_RO_ROLLED_BACK = 1, /* a failure, every wave reverted (or rollback-failed) */
	SUT_RO_INTERRUPTED = 2, /* a stop request: state saved, resume or abort later */
};

/* Runs the waves that are not healthy yet (a new rollout, or a resumed one). -1 only when
 * the state cannot be saved. */
int sut_rollout_run(struct sut_rollout *ro, struct sut_patch *const *patches, size_t n,
		    const struct sut_rollout_hooks *h, struct sut_err *err);
/* Reverts every wave, newest first; reason becomes the failure; final state `final`. */
int sut_rollout_rollback(struct sut_rollout *ro, const char *reason, const char *final,
			 const struct sut_rollout_hooks *h, struct sut_err *err);

/* The state as a JSON document (malloc'd), as written to the file. */
char *sut_rollout_dump(const struct sut_rollout *ro);
int sut_rollout_save(struct sut_rollout *ro, struct sut_err *err);
/* Reads DIR/ID.json (ID: [A-Za-z0-9-], at most 63). */
int sut_rollout_load(const char *dir, const char *id, struct sut_rollout *ro, struct sut_err *err);
/* The ids of the rollouts in dir, oldest first. */
int sut_rollout_list(const char *dir, char ***ids, size_t *n, struct sut_err *err);
void sut_rollout_free(struct sut_rollout *ro);
/* Takes DIR/ID.lock (flock, held until the process ends or closes the fd), so one suture
 * at a time runs a rollout; -1 when another holds it. Returns the fd. */
int sut_rollout_lock(const char *dir, const char *id, struct sut_err *err);

/* Health of the processes patched so far (waves 0..wave), results into the wave. */
bool sut_rollout_health(struct sut_rollout *ro, size_t wave, struct sut_patch *const *patches,
			size_t n, const struct sut_rollout_hooks *h);

/* /proc/PID/stat: start time, CPU time (ticks), threads, state char. -1 when gone. */
int sut_ro_proc_stat(pid_t pid, uint64_t *start, uint64_t *cpu, long *threads, char *state);

#endif
