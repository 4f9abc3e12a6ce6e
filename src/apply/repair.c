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
#include "apply/fault.h"
#include "apply/lock.h"
#include "apply/txn.h"
#include "util/buf.h"

#define PATCH_MAP_PREFIX "/memfd:suture:"

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
		if (strncmp(mp->path, PATCH_MAP_PREFIX, strlen(PATCH_MAP_PREFIX)) != 0)
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
		if (f->addr < o->text_lo || f->addr + SUT_REG_JMP_LEN > o->text_hi)
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
		uint8_t cur[5];
		if (sut_proc_read(t->pid, f->addr, cur, 5, err) < 0)
			return -1;
		if (memcmp(cur, f->written, 5) != 0 &&
		    !sut_entry_half_written(cur, f->saved, f->written))
			continue; /* never written */
		if (sut_ptrace_write(t->pid, f->addr, f->saved, 5, err) < 0)
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

static int repair_frozen(struct sut_target *t, struct sut_freeze *f, struct sut_registry *reg,
			 bool found, struct sut_txn_result *res, struct sut_err *err)
{
	char *note = res->repair_note;
	size_t notelen = sizeof res->repair_note;
	note[0] = 0;
	if (found && reg->hdr.state == SUT_REG_APPLYING) {
		if (rollback_apply(t, reg, note, notelen, res->repair_claimed_id,
				   sizeof res->repair_claimed_id, err) < 0)
			return -1;
	} else if (found && reg->hdr.state == SUT_REG_REVERTING) {
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
		snprintf(res->repair_claimed_id, sizeof res->repair_claimed_id, "%s", id);
		if (where == 1) {
			/* its object is gone: finishing the revert is dropping the record */
			bool *drop = sut_xcalloc(reg->hdr.npatches, sizeof *drop);
			drop[ri] = true;
			sut_registry_drop(reg, drop);
			free(drop);
			reg->hdr.state = SUT_REG_IDLE;
			if (sut_registry_write(t->pid, reg, err) < 0)
				return -1;
		} else if (sut_revert_record(t, reg, ri, NULL, true, err) < 0) {
			return -1;
		}
		snprintf(note, notelen, "finished the interrupted revert of %s (patch id as "
			 "recorded in the process)%s", id,
			 where == 1 ? "; its object is no longer mapped: record dropped" : "");
	}
	/* release patch memory nothing refers to, if no thread is inside it */
	uint64_t lo[64], hi[64];
	size_t n = find_orphans(&t->maps, reg, found, lo, hi, 64), freed = 0, kept = 0;
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

/* The repair itself; the caller holds pid's lock. */
static int repair_locked(pid_t pid, struct sut_txn_result *res, struct sut_err *err)
{
	struct sut_registry reg;
	bool found;
	/* The common case (nothing to repair) costs the maps and the registry header only:
	 * every transaction starts here. */
	{
		struct sut_maps m;
		if (sut_proc_maps(pid, &m, err) < 0)
			return sut_err_wrap(err, "pid %d", (int)pid);
		int r = sut_registry_read(pid, &m, &reg, &found, err);
		uint64_t lo[1], hi[1];
		bool clean = r == 0 && !(found && reg.hdr.state != SUT_REG_IDLE) &&
			     find_orphans(&m, &reg, found, lo, hi, 1) == 0;
		sut_registry_free(&reg);
		sut_proc_maps_free(&m);
		if (r < 0)
			return -1;
		if (clean)
			return 0;
	}
	struct sut_target t;
	if (sut_target_open(pid, NULL, 0, &t, err) < 0)
		return -1;
	int rc = -1;
	if (sut_registry_read(pid, &t.maps, &reg, &found, err) < 0)
		goto out;
	bool dirty = found && reg.hdr.state != SUT_REG_IDLE;
	if (dirty && tool_alive(reg.hdr.tool_pid)) {
		sut_errf(err, "%s: suture pid %u is still running a transaction on it",
			 sut_target_label(&t), reg.hdr.tool_pid);
		goto out;
	}
	sut_registry_free(&reg);
	struct sut_freeze f;
	sigset_t old;
	sut_hold_signals(&old);
	if (sut_ptrace_freeze(pid, 5000, &f, err) < 0) {
		sut_release_signals(&old);
		goto out;
	}
	/* read again under the freeze: this is the state we repair */
	rc = sut_target_refresh_maps(&t, err);
	if (rc == 0)
		rc = sut_registry_read(pid, &t.maps, &reg, &found, err);
	if (rc == 0 && repair_frozen(&t, &f, &reg, found, res, err) < 0)
		rc = sut_err_wrap(err, "repairing an interrupted transaction");
	struct sut_err e2;
	sut_ptrace_thaw(&f, &e2);
	sut_freeze_free(&f);
	sut_release_signals(&old);
	res->repaired = rc == 0 && res->repair_note[0];
out:
	sut_registry_free(&reg);
	sut_target_close(&t);
	return rc;
}

int sut_repair_process(pid_t pid, int timeout_ms, struct sut_txn_result *res,
		       struct sut_err *err)
{
	memset(res, 0, sizeof *res);
	res->pid = pid;
	int fd = sut_lock_pid(pid, timeout_ms, err);
	if (fd < 0)
		return -1;
	int rc = repair_locked(pid, res, err);
	sut_unlock_pid(fd);
	return rc;
}

int sut_txn_begin(pid_t pid, int timeout_ms, struct sut_txn_result *res, struct sut_err *err)
{
	int fd = sut_lock_pid(pid, timeout_ms, err);
	if (fd < 0)
		return -1;
	/* what was repaired comes back in res; the caller reports it */
	if (repair_locked(pid, res, err) < 0) {
		sut_unlock_pid(fd);
		return -1;
	}
	return fd;
}

int sut_txn_begin_readonly(pid_t pid, int timeout_ms, struct sut_err *err)
{
	/* invariant 8: a dry run repairs nothing; an interrupted transaction is reported
	 * by the caller when it reads the registry */
	return sut_lock_pid(pid, timeout_ms, err);
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
