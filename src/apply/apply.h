/* SPDX-License-Identifier: Apache-2.0 */
/* The `apply` layer: transactions on running processes (apply, revert, several patches
 * on one process all or nothing), what is patched where (the status), and the process
 * view they are planned from.
 *
 * Using it: patches come from sut_patch_read_file (patch/patch.h). Whether a patch is
 * trusted (its signature) is the caller's decision, made before it gets here.
 *
 *     // every process carrying suture patches, and each patch's state there
 *     struct sut_found_process *found;
 *     size_t n;
 *     struct sut_err err;
 *     if (sut_discover_processes(SUT_DISCOVER_WITH_REGISTRY, NULL, 0, &found, &n, &err) < 0)
 *             return -1;
 *     for (size_t i = 0; i < n; i++) {
 *             struct sut_status st;
 *             if (sut_status_read(found[i].pid, &st, &err) < 0)
 *                     continue; // exited since the scan
 *             for (size_t o = 0; o < st.nobjects; o++)
 *                     for (size_t k = 0; k < st.objects[o].npatches; k++)
 *                             printf("%d %s %s\n", (int)st.pid, st.objects[o].patches[k].id,
 *                                    st.objects[o].patches[k].live ? "live" : "stale");
 *             sut_status_free(&st);
 *     }
 *     sut_found_processes_free(found, n);
 *
 *     // two patches on one process, all or nothing
 *     struct sut_patch *two[2]; // each from sut_patch_read_file(path, &two[i], &err)
 *     struct sut_multi_opts mo = {.txn = {.timeout_ms = 5000}};
 *     struct sut_multi_result r;
 *     if (sut_apply_patches(pid, two, 2, &mo, &r) < 0) // what it applied is taken back
 *             for (size_t i = 0; i < r.ntxns; i++)
 *                     if (r.txns[i].error)
 *                             fprintf(stderr, "%s\n", r.txns[i].error);
 *     sut_multi_result_free(&r);
 *
 * Nothing here prints: errors are struct sut_err sentences, what a repair or a take-back
 * did comes back in the results.
 *
 * Read once. A job (sut_apply_patches, sut_revert_patches, or the one-patch
 * sut_apply_patch and sut_revert_patch) takes the process's lock, then reads the process
 * once into a view (struct sut_process_view: maps, objects by build-id, the registry
 * decoded and checked) and plans every step from it: which patches concern the process
 * and which it has already, whether a killed suture left something to repair, where an
 * image goes, which records are stale. Each transaction leaves the view as it left the
 * process (the registry it wrote, the maps its freeze read). Read again, and why:
 *   in every freeze  the maps: the process ran since the view and staging added mappings;
 *                    the consistency check unwinds every thread against the mappings as
 *                    they are, and an apply checks that the object, the staged image and
 *                    the registry are still where staging left them. An apply also reads
 *                    back the image and the registry header (the process may have written
 *                    over them) and each function's entry bytes (the pre-image, or the
 *                    jump of the patch below it); a revert the entries it owns.
 *   a repair         the maps and the whole registry, under the repair's own freeze (the
 *                    journal it acts on must be the one frozen); the view is read again
 *                    after it.
 *   a failed apply   that had staged: removing the staged memory changed the process,
 *                    so the view is read again.
 *
 * One transaction, its steps (txn_apply.c reads in this order):
 *   check   the process maps the patch's object (by build-id), its registry is sound and
 *           records no transaction in flight, stale records are dropped, the patch is not
 *           applied already;
 *   plan    find each function and verify its pre-image, choose an address within +-2 GiB
 *           of the object, resolve symbols and link the image, encode every jump (no stop);
 *   stage   stop one thread just long enough to map the image memory and the registry
 *           with remote system calls, resume it, then write the image (never executed
 *           yet, so the other threads may run);
 *   freeze  stop every thread, read the maps again;
 *   verify  what staging left is intact; unwind every thread and apply the consistency
 *           rule; verify each function's pre-image again; on a blocked check: thaw, back
 *           off, retry until the timeout;
 *   commit  journal in the registry, write the jumps, commit the registry;
 *   thaw    resume every thread as it was.
 * Any failure after staging unmaps what was staged, so the process ends as it began. */
#ifndef SUTURE_APPLY_APPLY_H
#define SUTURE_APPLY_APPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "link/link.h"
#include "patch/patch.h"
#include "proc/proc.h"
#include "ptrace/ptrace.h"
#include "util/err.h"

struct sut_txn_opts {
	int timeout_ms;  /* give up the consistency retries after this long (default 5000) */
	bool dry_run;    /* plan and check only (a freeze included): nothing is written */
};

/* What a transaction did, for human and JSON reports. */
struct sut_txn_result {
	pid_t pid;
	int attempts;         /* freezes taken */
	size_t nfuncs;        /* functions switched by this transaction */
	uint64_t freeze_ns;   /* duration of the committing freeze (all threads stopped) */
	uint64_t held_ns;     /* the longest time any one thread was held by suture in this
				 transaction, from its seize to its release: staging, failed
				 and retried freezes included (>= what the target felt from us) */
	uint64_t total_ns;
	struct sut_freeze_phases phases; /* where the last freeze's time went */
	size_t nthreads;
	uint64_t region;      /* apply: where the image was placed */
	uint64_t region_size;
	bool repaired;        /* an interrupted earlier transaction was repaired first */
	char repair_note[512];
	/* the patch id the repaired journal (or a dropped stale record) named: text that came
	 * from the process, validated as a patch id but not vouched for by suture */
	char repair_claimed_id[128];
	/* what the transaction could not tidy up (patch memory it staged or released that
	 * stays mapped), one sentence naming the process; empty when none. The transaction
	 * succeeded or failed regardless: this is for the caller to report as a warning. */
	char warning[SUT_ERR_MAX + 128];
};

/* One patch, one process: a job of one transaction (lock, one read, repair first). */
int sut_apply_patch(pid_t pid, const struct sut_patch *p, const struct sut_txn_opts *o,
		    struct sut_txn_result *res, struct sut_err *err);
int sut_revert_patch(pid_t pid, const char *patch_id, const struct sut_txn_opts *o,
		     struct sut_txn_result *res, struct sut_err *err);

/* Finishes or rolls back a transaction that a killed suture left in pid's registry,
 * under pid's lock (so not while another suture works on it), and releases patch memory
 * nothing refers to. res->repaired says whether anything was done, repair_note what, and
 * repair_claimed_id the patch id the process's journal named. A corrupt registry is
 * refused (an error naming the process and the mapping), never acted on. Read-only
 * commands never call this (invariant 8); apply and revert do, first. */
int sut_repair_process(pid_t pid, int timeout_ms, struct sut_txn_result *res,
		       struct sut_err *err);

/* ---- Status: what is patched in a process, decoded and checked against the process ----
 * Reading a status changes nothing in the process (it is not stopped either): the
 * registry is read and validated, and each record is checked to be true now. */

enum sut_status_txn {
	SUT_STATUS_TXN_NONE = 0,
	SUT_STATUS_TXN_INTERRUPTED_APPLY,  /* a killed suture left an apply half-done */
	SUT_STATUS_TXN_INTERRUPTED_REVERT, /* ... or a revert */
};

struct sut_status_func {
	char name[96];
	uint64_t addr, size;      /* the replaced function in the process */
	uint64_t repl, repl_size; /* its replacement */
	bool superseded;          /* a newer patch of the stack redirects it (owns the jump) */
	uint8_t saved[SUT_JMP_LEN];         /* the entry's bytes before this patch wrote its jump */
	uint8_t written[SUT_JMP_LEN];       /* the jump this patch wrote at the entry */
};

struct sut_status_patch {
	char id[128];
	uint32_t version;
	char **cves;              /* ncves CVE ids */
	size_t ncves;
	enum sut_consistency consistency;
	uint64_t applied_at;      /* CLOCK_REALTIME seconds */
	uint64_t bias;            /* the object's load bias when applied */
	uint64_t region, region_size; /* the patch memory */
	char target[128];         /* target name the patch gave (informational) */
	bool live;                /* true now: the process runs this patch's code */
	char stale_why[200];      /* when !live: why the record is not true any more */
	struct sut_status_func *funcs;
	size_t nfuncs;
};

/* The patches of one object (by build-id), in application order. */
struct sut_status_object {
	uint8_t build_id[64];
	size_t build_id_len;
	char *path;               /* where the process maps it (informational: paths lie), or
				   * the patch's target name when it is mapped no more */
	bool mapped;
	struct sut_status_patch *patches;
	size_t npatches;
};

struct sut_status {
	pid_t pid;
	char comm[64];            /* as the process set it: untrusted, escape when printing */
	bool has_registry;
	bool corrupt;             /* the registry failed validation: nothing below is known */
	char corrupt_why[SUT_ERR_MAX];
	uint64_t registry_addr;
	enum sut_status_txn txn;
	uint32_t txn_tool_pid;    /* the suture that left it */
	struct sut_status_object *objects;
	size_t nobjects;
	size_t nlive, nstale;     /* patch records */
	bool exposed;             /* runs code a record says is patched (a stale record of a
				   * mapped object), or its registry is corrupt */
};

/* Reads pid's status. -1 only when the process cannot be read (gone, no permission); a
 * corrupt registry is a status (corrupt set), not an error. */
int sut_status_read(pid_t pid, struct sut_status *st, struct sut_err *err);
void sut_status_free(struct sut_status *st);
/* The record of patch id in st (live or stale), or NULL. */
const struct sut_status_patch *sut_status_find(const struct sut_status *st, const char *id);

/* ---- The process view: one read of a process, handed down ----
 * Maps, mapped objects (by build-id) and the registry, decoded and checked (the status
 * above), read once, without stopping the process and without changing it. A job of
 * sut_apply_patches / sut_revert_patches takes the process's lock, reads one view and
 * plans every step from it; its transactions keep it up to date (what they wrote, the
 * maps as their freeze read them), so a job reads its process once. What a view cannot
 * vouch for is read again inside the freeze, where it counts: see "Read once" above. */
struct sut_process_view;
/* Reads pid's view. -1 only when the process cannot be read (gone, no permission); a
 * corrupt registry is part of the view (its status says so). */
int sut_process_view_read(pid_t pid, struct sut_process_view **out, struct sut_err *err);
void sut_process_view_free(struct sut_process_view *v);
/* The status of the view's process (valid as long as the view). */
const struct sut_status *sut_process_view_status(const struct sut_process_view *v);
/* The object with this build-id the process maps, or NULL (valid as long as the view). */
const struct sut_object *sut_process_view_object(const struct sut_process_view *v,
						 const uint8_t *build_id, size_t len);

/* Process discovery, the one scan of /proc behind status, exposure and --all. */
enum sut_discover {
	SUT_DISCOVER_ALL,            /* every process but the caller */
	SUT_DISCOVER_WITH_REGISTRY,  /* processes with a suture-registry mapping */
	SUT_DISCOVER_MAPPING,        /* processes mapping the object with a build-id */
};
struct sut_found_process {
	pid_t pid;
	char *path; /* SUT_DISCOVER_MAPPING: where it maps the object; else NULL */
	/* SUT_DISCOVER_MAPPING: the process as the scan read it (its status included), so a
	 * caller that wants the status reads nothing again; else NULL. Freed with the list. */
	struct sut_process_view *view;
};
/* Lists the processes of the kind asked, in pid order (build_id/len only for
 * SUT_DISCOVER_MAPPING). Processes that vanish or cannot be read are left out. */
int sut_discover_processes(enum sut_discover what, const uint8_t *build_id, size_t len,
			   struct sut_found_process **out, size_t *n, struct sut_err *err);
void sut_found_processes_free(struct sut_found_process *v, size_t n);

/* Links p for pid exactly as apply does, placed at `place`, resolving symbols in the process
 * as it is now; for verify, which compares the result with what is in memory. Read-only.
 *
 * A lazily bound function GOT slot of the target (a SUT_SYM_TARGET_GOT symbol) holds the
 * PLT entry that calls the dynamic linker until the function's first call binds it; the
 * image keeps the value the slot had when the patch was applied. So when alts is non-NULL,
 * for each such symbol some relocation uses whose slot now holds another value than the
 * file's unbound one, an image linked with that symbol alone at its unbound value is added
 * to *alts (*nalts of them; free with sut_relink_alts_free). The layout does not depend on
 * the values: an alternative differs from *img only in the bytes of that symbol's
 * references. */
struct sut_relink_alt {
	size_t sym;     /* index into p->symbols */
	uint64_t value; /* the value that symbol was linked with */
	struct sut_link_image img;
};
int sut_relink(pid_t pid, const struct sut_patch *p, uint64_t place, struct sut_link_image *img,
	       struct sut_relink_alt **alts, size_t *nalts, struct sut_err *err);
void sut_relink_alts_free(struct sut_relink_alt *a, size_t n);

/* Several patches on one process (txn_multi.c): one job, one read of the process. */
struct sut_multi_hooks {
	void *ctx;
	/* before each transaction: false leaves it (and the rest) undone (a stop request) */
	bool (*start)(void *ctx);
	/* as each started transaction ends, also in a dry run (action "apply", "revert" or
	 * "takeback"); index: of the patch or id in the caller's array */
	void (*done)(void *ctx, const char *action, const struct sut_txn_result *r,
		     const char *patch_id, size_t index, const char *error);
};

struct sut_multi_opts {
	struct sut_txn_opts txn;
	bool only_mapped;  /* leave out patches for objects the process does not map */
	/* apply: a patch live there counts as done (a state is asked, not an action; a stale
	 * record is applied again); revert: an id with no record there is left out */
	bool skip_applied;
	const struct sut_multi_hooks *hooks; /* may be NULL */
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
	char **notes;               /* what was taken back after a failure, interruptions */
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
