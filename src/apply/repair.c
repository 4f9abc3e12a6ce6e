/* SPDX-License-Identifier: Apache-2.0 */
/* Repairing what a killed suture left behind (DESIGN.md invariant 6).
 *
 * The registry journals every transaction before the first byte of code is written, and
 * each registry update is a single write (txn_common.c), so a kill leaves one of:
 *   - staged memory only (no journal): an orphan "suture:ID" mapping that nothing jumps to;
 *   - state APPLYING: the pending record past the committed ones; some of its jumps may be
 *     written. Rolled back: every entry still holding the record's jump (or an int3 and
 *     four bytes of the jump or of the original: a kill inside the partial freeze's
 *     three-pass write, sut_freeze_write_code) gets its saved
 *     bytes back, so the process ends as before the apply;
 *   - state REVERTING: the record being removed is still committed; some entries may be
 *     restored. Rolled forward: the revert is finished.
 * Patch memory is released only when no thread executes in it or returns into it; if one
 * does, the mapping stays (harmless: nothing jumps to it any more) and a later run
 * releases it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/lock.h"
#include "apply/txn.h"
#include "util/buf.h"
#include "util/fault.h"

/* Leftover patch mappings released by one repair; more wait for the next run. */
#define ORPHANS_MAX 64
/* How long a repair waits for every thread to stop. */
#define REPAIR_FREEZE_MS 5000

/* Is addr inside the region of a committed record? */
static bool region_known(const struct sut_registry *reg, bool found, uint64_t addr)
{
	for (size_t i = 0; found && i < reg->hdr.npatches; i++) {
		const struct sut_reg_patch *p = sut_registry_patch(reg, i);
		if (addr >= p->region && addr < p->region + p->region_size)
			return true;
	}
	return false;
}

/* Mappings of patch memory no committed record accounts for. */
static size_t find_orphans(const struct sut_maps *m, const struct sut_registry *reg, bool found,
			   uint64_t *lo, uint64_t *hi, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct sut_map *mp = &m->v[i];
		if (strncmp(mp->path, SUT_PATCH_MAP_PREFIX, strlen(SUT_PATCH_MAP_PREFIX)) != 0)
			continue;
		if (region_known(reg, found, mp->start))
			continue;
		/* the RW part of an image is a separate mapping: merge with its RX start */
		if (n && hi[n - 1] == mp->start && i > 0 && !strcmp(m->v[i - 1].path, mp->path)) {
			hi[n - 1] = mp->end;
			continue;
		}
		if (n == cap)
			continue;
		lo[n] = mp->start;
		hi[n] = mp->end;
		n++;
	}
	return n;
}

/* Another suture still running the recorded transaction? */
static bool tool_alive(uint32_t tool_pid)
{
	if (!tool_pid || !sut_proc_exists((pid_t)tool_pid))
		return false;
	char comm[32];
	sut_proc_comm((pid_t)tool_pid, comm, sizeof comm);
	return strcmp(comm, "suture") == 0;
}

/* The journal came from the process: before acting on it, its record must describe code of
 * an object the process maps where the record says (the decoder checked its form).
 * Returns 0 when it does, 1 when that object is no longer mapped at all at that bias
 * (unloaded since: none of the record's jumps can be live, so no code is written), -1
 * (refused, err set) when it names addresses outside the object's code. */
static int journal_in_object(const struct sut_target *t, const struct sut_reg_patch *r,
			     struct sut_err *err)
{
	const struct sut_object *o = sut_registry_object(&t->objs, r);
	if (!o)
		return 1;
	for (uint32_t k = 0; k < r->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		if (f->addr < o->text_lo || f->addr + SUT_JMP_LEN > o->text_hi)
			return sut_errf(err, "%s: the journal names an address (0x%llx) outside the "
					"code of %s; left alone", sut_target_label(t),
					(unsigned long long)f->addr, o->path);
	}
	return 0;
}

static int rollback_apply(struct sut_target *t, struct sut_registry *reg, char *note,
			  size_t notelen, char *claimed, size_t claimedlen, struct sut_err *err)
{
	size_t avail = reg->pending_len;
	const struct sut_reg_patch *r = (const void *)(reg->records + reg->hdr.used);
	if (avail < sizeof *r || r->rec_size != avail ||
	    r->rec_size != sizeof *r + (size_t)r->nfuncs * sizeof(struct sut_reg_func))
		return sut_errf(err, "%s: the journal of the interrupted apply is unreadable",
				sut_target_label(t));
	int where = journal_in_object(t, r, err);
	if (where < 0)
		return -1;
	snprintf(claimed, claimedlen, "%s", r->id);
	if (where == 1) {
		reg->hdr.state = SUT_REG_IDLE;
		if (sut_ptrace_write(t->pid, reg->addr, &reg->hdr, sizeof reg->hdr, err) < 0)
			return -1;
		snprintf(note, notelen, "cleared the journal of the interrupted apply of %s (patch "
			 "id as recorded in the process): its object is not mapped where the journal "
			 "says, so no code was written", r->id);
		return 0;
	}
	unsigned undone = 0;
	for (uint32_t k = 0; k < r->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		uint8_t cur[SUT_JMP_LEN];
		if (sut_proc_read(t->pid, f->addr, cur, SUT_JMP_LEN, err) < 0)
			return -1;
		if (memcmp(cur, f->written, SUT_JMP_LEN) != 0 &&
		    !sut_entry_half_written(cur, f->saved, f->written))
			continue; /* never written */
		if (sut_ptrace_write(t->pid, f->addr, f->saved, SUT_JMP_LEN, err) < 0)
			return -1;
		undone++;
	}
	reg->hdr.state = SUT_REG_IDLE;
	if (sut_ptrace_write(t->pid, reg->addr, &reg->hdr, sizeof reg->hdr, err) < 0)
		return -1;
	snprintf(note, notelen, "rolled back the interrupted apply of %s (patch id as recorded "
		 "in the process; %u of %u jumps were written, all taken back)", r->id, undone,
		 r->nfuncs);
	return 0;
}

/* An interrupted revert is finished: the record named by the journal is removed, its
 * saved bytes written back where they are not yet; when its object is no longer mapped
 * at all, finishing it is dropping the record. */
static int finish_revert(struct sut_target *t, struct sut_registry *reg, char *note,
			 size_t notelen, char *claimed, size_t claimedlen, struct sut_err *err)
{
	long ri = (long)reg->hdr.pending_index;
	if (ri >= (long)reg->hdr.npatches)
		return sut_errf(err, "%s: the journal of the interrupted revert is unreadable",
				sut_target_label(t));
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	char id[sizeof r->id];
	memcpy(id, r->id, sizeof id);
	int where = journal_in_object(t, r, err);
	if (where < 0)
		return -1;
	snprintf(claimed, claimedlen, "%s", id);
	if (where == 1) {
		bool *drop = sut_xcalloc(reg->hdr.npatches, sizeof *drop);
		drop[ri] = true;
		sut_registry_drop(reg, drop);
		free(drop);
		reg->hdr.state = SUT_REG_IDLE;
		if (sut_registry_write(t->pid, reg, err) < 0)
			return -1;
	} else if (sut_revert_record_repair(t, reg, ri, err) < 0) {
		return -1;
	}
	snprintf(note, notelen, "finished the interrupted revert of %s (patch id as recorded in "
		 "the process)%s", id,
		 where == 1 ? "; its object is no longer mapped: record dropped" : "");
	return 0;
}

/* Patch memory nothing refers to is released where no thread is inside it; what was
 * released (and kept) is appended to the note. */
static int release_orphans(struct sut_target *t, struct sut_freeze *f,
			   const struct sut_registry *reg, bool found, char *note, size_t notelen,
			   struct sut_err *err)
{
	uint64_t lo[ORPHANS_MAX], hi[ORPHANS_MAX];
	size_t n = find_orphans(&t->maps, reg, found, lo, hi, ORPHANS_MAX), freed = 0, kept = 0;
	struct sut_remote rem;
	bool have_rem = false;
	for (size_t i = 0; i < n; i++) {
		struct sut_range rg = {lo[i], hi[i], "leftover patch memory", false};
		struct sut_blocker b;
		int chk = sut_check_consistency(f, &t->maps, &t->objs, &rg, 1, &b, err);
		if (chk < 0)
			return -1;
		if (chk == 1) {
			kept++;
			continue;
		}
		if (!have_rem) {
			if (sut_remote_init(&rem, f, &t->maps, err) < 0)
				return -1;
			have_rem = true;
		}
		if (sut_remote_unmap(&rem, lo[i], hi[i] - lo[i], err) < 0)
			return -1;
		freed++;
	}
	if (n) {
		size_t l = strlen(note);
		snprintf(note + l, notelen - l, "%sreleased %zu leftover patch mapping%s%s",
			 l ? "; " : "", freed, freed == 1 ? "" : "s",
			 kept ? " (some still in use by a thread: kept)" : "");
	}
	return 0;
}

/* Under the freeze: the journal's transaction rolled back (apply) or finished (revert),
 * then leftover patch memory released. What was done is res's repair_note. */
static int repair_frozen(struct sut_target *t, struct sut_freeze *f, struct sut_registry *reg,
			 bool found, struct sut_txn_result *res, struct sut_err *err)
{
	char *note = res->repair_note;
	size_t notelen = sizeof res->repair_note;
	note[0] = 0;
	int rc = 0;
	if (found && reg->hdr.state == SUT_REG_APPLYING)
		rc = rollback_apply(t, reg, note, notelen, res->repair_claimed_id,
				    sizeof res->repair_claimed_id, err);
	else if (found && reg->hdr.state == SUT_REG_REVERTING)
		rc = finish_revert(t, reg, note, notelen, res->repair_claimed_id,
				   sizeof res->repair_claimed_id, err);
	if (rc < 0)
		return -1;
	return release_orphans(t, f, reg, found, note, notelen, err);
}

/* Whether v shows anything to repair: a journal, or patch memory no record accounts for.
 * A corrupt registry is refused, never acted on. */
static int needs_repair(const struct sut_process_view *v, struct sut_err *err)
{
	if (sut_view_registry_usable(v, err) < 0)
		return -1;
	uint64_t lo[1], hi[1];
	return (v->have_reg && v->reg.hdr.state != SUT_REG_IDLE) ||
	       find_orphans(&v->t.maps, &v->reg, v->have_reg, lo, hi, 1) != 0;
}

/* The repair itself, under a freeze of its own; the caller holds pid's lock. */
static int repair_frozen_process(struct sut_process_view *v, struct sut_txn_result *res,
				 struct sut_err *err)
{
	struct sut_target *t = &v->t;
	bool dirty = v->have_reg && v->reg.hdr.state != SUT_REG_IDLE;
	if (dirty && tool_alive(v->reg.hdr.tool_pid))
		return sut_errf(err, "%s: suture pid %u is still running a transaction on it",
				sut_target_label(t), v->reg.hdr.tool_pid);
	sut_remote_prepare(t->pid, &t->maps); /* an unmap's code, found before the freeze */
	struct sut_freeze f;
	sigset_t old;
	sut_hold_signals(&old);
	if (sut_ptrace_freeze(t->pid, REPAIR_FREEZE_MS, &f, err) < 0) {
		sut_release_signals(&old);
		return -1;
	}
	/* read again under the freeze: this is the state we repair (the journal may have
	 * been finished by its own suture since the view was read) */
	struct sut_registry reg;
	bool found = false;
	int rc = sut_target_refresh_maps(t, err);
	if (rc == 0)
		rc = sut_registry_read(t->pid, &t->maps, &reg, &found, err);
	if (rc == 0 && repair_frozen(t, &f, &reg, found, res, err) < 0)
		rc = sut_err_wrap(err, "repairing an interrupted transaction");
	struct sut_err e2;
	sut_ptrace_thaw(&f, &e2);
	sut_freeze_free(&f);
	sut_release_signals(&old);
	sut_registry_free(&reg);
	res->repaired = rc == 0 && res->repair_note[0];
	return rc;
}

int sut_txn_repair(struct sut_process_view *v, struct sut_txn_result *res, struct sut_err *err)
{
	int need = needs_repair(v, err);
	if (need <= 0)
		return need;
	if (repair_frozen_process(v, res, err) < 0)
		return -1;
	/* the repair changed the process: what the job planned from is read again */
	return sut_view_reread(v, err);
}

int sut_repair_process(pid_t pid, int timeout_ms, struct sut_txn_result *res,
		       struct sut_err *err)
{
	memset(res, 0, sizeof *res);
	res->pid = pid;
	int fd = sut_lock_pid(pid, timeout_ms, err);
	if (fd < 0)
		return -1;
	struct sut_process_view *v;
	int rc = sut_process_view_read(pid, &v, err);
	if (rc == 0)
		rc = sut_txn_repair(v, res, err);
	sut_process_view_free(v);
	sut_unlock_pid(fd);
	return rc;
}

long sut_drop_stale(struct sut_target *t, struct sut_registry *reg, struct sut_txn_result *res,
		    struct sut_err *err)
{
	size_t n = reg->hdr.npatches;
	if (!n)
		return 0;
	struct sut_reg_liveness *l = sut_xcalloc(n, sizeof *l);
	bool *drop = sut_xcalloc(n, sizeof *drop);
	long rc = sut_registry_liveness(t->pid, reg, &t->maps, &t->objs, l, NULL, err);
	size_t i = 0, ndrop = 0;
	char first[sizeof res->repair_claimed_id] = "", why[sizeof l->why] = "";
	for (const struct sut_reg_patch *p = sut_registry_next(reg, NULL); rc == 0 && p && i < n;
	     p = sut_registry_next(reg, p), i++) {
		drop[i] = !l[i].live;
		if (drop[i] && !ndrop++) {
			snprintf(first, sizeof first, "%s", p->id);
			snprintf(why, sizeof why, "%s", l[i].why);
		}
	}
	if (rc == 0 && ndrop) {
		sut_registry_drop(reg, drop);
		size_t len = strlen(res->repair_note);
		snprintf(res->repair_note + len, sizeof res->repair_note - len,
			 "%sdropped %zu stale record%s (%s%s: %s)", len ? "; " : "", ndrop,
			 ndrop == 1 ? "" : "s", first, ndrop > 1 ? " and others" : "", why);
		if (!res->repair_claimed_id[0])
			snprintf(res->repair_claimed_id, sizeof res->repair_claimed_id, "%s", first);
		res->repaired = true;
		rc = (long)ndrop;
	}
	free(l);
	free(drop);
	return rc;
}
