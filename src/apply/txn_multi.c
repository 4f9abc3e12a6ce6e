/* SPDX-License-Identifier: Apache-2.0 */
/* Transactions over several patches on one process: the patches in the order given, all
 * or nothing (a failure takes back what this call applied before it), and the revert of
 * several patch ids. The command line's apply/revert and sutured both use these. */
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
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

/* Does pid have a record of patch `id`? live: only one that is true now counts (apply: a
 * stale record is applied again). A vfork child sharing its parent's memory shows its
 * parent's patches too, which is right: the code it runs has them. */
static bool has_patch(pid_t pid, const char *id, bool live)
{
	struct sut_status st;
	struct sut_err err;
	if (sut_status_read(pid, &st, &err) < 0)
		return false;
	const struct sut_status_patch *p = sut_status_find(&st, id);
	bool has = p && (p->live || !live);
	sut_status_free(&st);
	return has;
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

static bool concerns(pid_t pid, const struct sut_patch *p, const struct sut_multi_opts *o)
{
	return !o->only_mapped ||
	       sut_process_maps_build_id(pid, p->build_id, p->build_id_len,
					 &(struct sut_err){0}) == 1;
}

int sut_apply_patches(pid_t pid, struct sut_patch *const *patches, size_t n,
		      const struct sut_multi_opts *o, struct sut_multi_result *out)
{
	memset(out, 0, sizeof *out);
	size_t done = 0;
	for (size_t i = 0; i < n; i++) {
		const struct sut_patch *p = patches[i];
		if (!concerns(pid, p, o))
			continue;
		out->touched = true;
		if (o->skip_applied && has_patch(pid, p->id, true)) {
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
		int rc = sut_apply_patch(pid, p, &o->txn, &r, &err);
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
	if (!out->failed)
		return 0;
	if (o->txn.dry_run)
		return -1;
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
		int rc = sut_revert_patch(pid, id, &o->txn, &r, &err);
		hook_done(o, "takeback", &r, id, i, rc < 0 ? err.msg : NULL);
		if (rc < 0)
			add_note(out, sut_xasprintf("pid %d: could not take back %s: %s", (int)pid,
						    id, err.msg));
		else
			add_note(out, sut_xasprintf("pid %d: took back %s", (int)pid, id));
		if (r.warning[0])
			add_note(out, sut_xasprintf("warning: %s", r.warning));
	}
	return -1;
}

int sut_revert_patches(pid_t pid, const char *const *ids, size_t n,
		       const struct sut_multi_opts *o, struct sut_multi_result *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		if (o->skip_applied && !has_patch(pid, ids[i], false))
			continue;
		out->touched = true;
		if (!hook_start(o)) {
			add_note(out, sut_xasprintf("pid %d: %s not reverted: interrupted", (int)pid,
						    ids[i]));
			out->failed = true;
			return -1;
		}
		struct sut_txn_result r;
		struct sut_err err;
		int rc = sut_revert_patch(pid, ids[i], &o->txn, &r, &err);
		hook_done(o, "revert", &r, ids[i], i, rc < 0 ? err.msg : NULL);
		if (rc < 0) {
			add_txn(out, ids[i], &r, err.msg);
			out->failed = true;
			return -1;
		}
		add_txn(out, ids[i], &r, NULL);
	}
	return 0;
}
