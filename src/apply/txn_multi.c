/* SPDX-License-Identifier: Apache-2.0 */
/* Transactions over several patches on one process: the patches in the order given, all
 * or nothing (a failure takes back what this call applied before it), and the revert of
 * several patch ids. The command line's apply/revert and sutured both use these. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "apply/lock.h"
#include "apply/txn.h"
#include "proc/proc.h"
#include "util/buf.h"

static void add_txn(struct sut_multi_result *r, const char *id, const struct sut_txn_result *t,
		    const char *error)
{
	r->txns = sut_xrealloc(r->txns, (r->ntxns + 1) * sizeof *r->txns);
	r->txns[r->ntxns++] = (struct sut_multi_txn){
		.id = id, .res = *t, .error = error ? sut_xstrdup(error) : NULL};
}

static void add_note(struct sut_multi_result *r, char *note)
{
	r->notes = sut_xrealloc(r->notes, (r->nnotes + 1) * sizeof *r->notes);
	r->notes[r->nnotes++] = note;
}

void sut_multi_result_free(struct sut_multi_result *r)
{
	for (size_t i = 0; i < r->ntxns; i++)
		free(r->txns[i].error);
	for (size_t i = 0; i < r->nnotes; i++)
		free(r->notes[i]);
	free(r->txns);
	free(r->notes);
	memset(r, 0, sizeof *r);
}

/* The process's record of patch `id` (live or stale), or NULL. A vfork child sharing its
 * parent's memory shows its parent's patches too, which is right: the code it runs has
 * them. */
static const struct sut_status_patch *record_of(const struct sut_process_view *v,
						 const char *id)
{
	return v ? sut_status_find(&v->status, id) : NULL;
}

/* Is patch `id` applied and true now? (apply: a stale record is applied again) */
static bool has_live_patch(const struct sut_process_view *v, const char *id)
{
	const struct sut_status_patch *p = record_of(v, id);
	return p && p->live;
}

static bool hook_start(const struct sut_multi_opts *o)
{
	return !o->hooks || !o->hooks->start || o->hooks->start(o->hooks->ctx);
}

static void hook_done(const struct sut_multi_opts *o, const char *action,
		      const struct sut_txn_result *r, const char *id, size_t index,
		      const char *error)
{
	if (o->hooks && o->hooks->done)
		o->hooks->done(o->hooks->ctx, action, r, id, index, error);
}

static bool concerns(const struct sut_process_view *v, const struct sut_patch *p,
		     const struct sut_multi_opts *o)
{
	return !o->only_mapped || (v && sut_process_view_object(v, p->build_id, p->build_id_len));
}

/* A job: the lock of one process, taken first, then the one read of it (the view) that
 * every step of the job is planned from. */
struct job {
	pid_t pid;
	int lock;
	struct sut_process_view *v;
	uint64_t t0;
	bool repair_tried;
	char error[SUT_ERR_MAX]; /* why the job could not begin */
};

/* Takes the lock, then reads the view. When the lock cannot be had (another suture kept
 * it past the timeout) the view is still read, without it, only so that the job can tell
 * whether the process concerns it: its first transaction then fails with the reason. */
static void job_begin(struct job *j, pid_t pid, const struct sut_txn_opts *o)
{
	*j = (struct job){.pid = pid, .lock = -1, .t0 = sut_now_ns()};
	struct sut_err err, e2;
	j->lock = sut_lock_pid(pid, o->timeout_ms, &err);
	if (j->lock < 0)
		snprintf(j->error, sizeof j->error, "%s", err.msg);
	if (sut_process_view_read(pid, &j->v, &e2) < 0 && !j->error[0])
		snprintf(j->error, sizeof j->error, "%s", e2.msg);
}

static void job_end(struct job *j)
{
	sut_process_view_free(j->v);
	if (j->lock >= 0)
		sut_unlock_pid(j->lock);
	j->v = NULL;
	j->lock = -1;
}

/* Before a transaction of the job: the process could be locked and read, and the first
 * transaction repairs what a killed suture left (never in a dry run: invariant 8). */
static int job_txn_begin(struct job *j, const struct sut_txn_opts *o, struct sut_txn_result *r,
			 uint64_t *t0, struct sut_err *err)
{
	*t0 = j->repair_tried ? sut_now_ns() : j->t0;
	if (j->lock < 0 || !j->v)
		return sut_errf(err, "%s", j->error);
	bool first = !j->repair_tried;
	j->repair_tried = true;
	return first && !o->dry_run ? sut_txn_repair(j->v, r, err) : 0;
}

/* One apply of the job, on its view. */
static int job_apply(struct job *j, const struct sut_patch *p, const struct sut_txn_opts *o,
		     struct sut_txn_result *r, struct sut_err *err)
{
	*r = (struct sut_txn_result){.pid = j->pid, .nfuncs = p->nfuncs};
	uint64_t t0;
	int rc = job_txn_begin(j, o, r, &t0, err);
	if (rc == 0)
		rc = sut_txn_apply(j->v, p, o, r, err);
	r->total_ns = sut_now_ns() - t0;
	return rc;
}

/* One revert of the job, on its view. */
static int job_revert(struct job *j, const char *id, const struct sut_txn_opts *o,
		      struct sut_txn_result *r, struct sut_err *err)
{
	*r = (struct sut_txn_result){.pid = j->pid};
	uint64_t t0;
	int rc = job_txn_begin(j, o, r, &t0, err);
	if (rc == 0)
		rc = sut_txn_revert(j->v, id, o, r, err);
	r->total_ns = sut_now_ns() - t0;
	return rc;
}

int sut_apply_patch(pid_t pid, const struct sut_patch *p, const struct sut_txn_opts *o,
		    struct sut_txn_result *res, struct sut_err *err)
{
	struct job j;
	job_begin(&j, pid, o);
	int rc = job_apply(&j, p, o, res, err);
	job_end(&j);
	return rc;
}

int sut_revert_patch(pid_t pid, const char *patch_id, const struct sut_txn_opts *o,
		     struct sut_txn_result *res, struct sut_err *err)
{
	struct job j;
	job_begin(&j, pid, o);
	int rc = job_revert(&j, patch_id, o, res, err);
	job_end(&j);
	return rc;
}

int sut_apply_patches(pid_t pid, struct sut_patch *const *patches, size_t n,
		      const struct sut_multi_opts *o, struct sut_multi_result *out)
{
	memset(out, 0, sizeof *out);
	if (n == 0)
		return 0;
	struct job j;
	job_begin(&j, pid, &o->txn); /* a process that cannot be read concerns no filter */
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sut_patch *p = patches[i];
		if (!concerns(j.v, p, o))
			continue;
		out->touched = true;
		if (o->skip_applied && has_live_patch(j.v, p->id)) {
			out->already++;
			done = i + 1;
			continue;
		}
		if (!hook_start(o)) {
			add_note(out, sut_xasprintf("pid %d: %s not applied: interrupted", (int)pid,
						    p->id));
			out->failed = true;
			break;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int rc = job_apply(&j, p, &o->txn, &r, &err);
		/* reported as it ends: a later kill loses nothing */
		hook_done(o, "apply", &r, p->id, i, rc < 0 ? err.msg : NULL);
		if (rc < 0) {
			add_txn(out, p->id, &r, err.msg);
			out->failed = true;
			break;
		}
		add_txn(out, p->id, &r, NULL);
		done = i + 1;
	}
	if (!out->failed || o->txn.dry_run) {
		job_end(&j);
		return out->failed ? -1 : 0;
	}
	/* all or nothing: take back what this call applied (newest first); patches that were
	 * there before the call stay */
	for (size_t i = done; i-- > 0;) {
		const char *id = patches[i]->id;
		bool applied_here = false;
		for (size_t t = 0; t < out->ntxns; t++)
			if (!out->txns[t].error && !strcmp(out->txns[t].id, id))
				applied_here = true;
		if (!applied_here)
			continue;
		if (!hook_start(o)) {
			add_note(out, sut_xasprintf("pid %d: %s left applied: interrupted before its "
						    "take-back", (int)pid, id));
			continue;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int rc = job_revert(&j, id, &o->txn, &r, &err);
		hook_done(o, "takeback", &r, id, i, rc < 0 ? err.msg : NULL);
		if (rc < 0)
			add_note(out, sut_xasprintf("pid %d: could not take back %s: %s", (int)pid,
						    id, err.msg));
		else
			add_note(out, sut_xasprintf("pid %d: took back %s", (int)pid, id));
		if (r.warning[0])
			add_note(out, sut_xasprintf("warning: %s", r.warning));
	}
	job_end(&j);
	return -1;
}

int sut_revert_patches(pid_t pid, const char *const *ids, size_t n,
		       const struct sut_multi_opts *o, struct sut_multi_result *out)
{
	memset(out, 0, sizeof *out);
	if (n == 0)
		return 0;
	struct job j;
	job_begin(&j, pid, &o->txn);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (o->skip_applied && !record_of(j.v, ids[i]))
			continue;
		out->touched = true;
		if (!hook_start(o)) {
			add_note(out, sut_xasprintf("pid %d: %s not reverted: interrupted", (int)pid,
						    ids[i]));
			out->failed = true;
			rc = -1;
			break;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int trc = job_revert(&j, ids[i], &o->txn, &r, &err);
		hook_done(o, "revert", &r, ids[i], i, trc < 0 ? err.msg : NULL);
		if (trc < 0) {
			add_txn(out, ids[i], &r, err.msg);
			out->failed = true;
			rc = -1;
			break;
		}
		add_txn(out, ids[i], &r, NULL);
	}
	job_end(&j);
	return rc;
}
