/* SPDX-License-Identifier: Apache-2.0 */
/* The revert transaction: the inverse of apply, for any patch of the stack.
 *
 * Stack rule (registry.h): for each function of the reverted record R, if a newer record N
 * also redirects it, the live jump is N's and stays; N inherits R's saved bytes so that
 * reverting N later restores what was there before R. Otherwise R owns the live jump and
 * its saved bytes go back into the code. Either way no jump is resurrected or orphaned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/remote.h"
#include "apply/txn.h"
#include "util/buf.h"
#include "util/fault.h"

/* Offset of record i in reg->records. */
static size_t record_offset(const struct sut_registry *reg, size_t i)
{
	return (size_t)((const uint8_t *)sut_registry_patch(reg, i) - reg->records);
}

/* Checks the live entry bytes of every function R owns, before anything is written. */
static int verify_owned(struct sut_target *t, const struct sut_registry *reg, long ri,
			struct sut_err *err)
{
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	for (uint32_t k = 0; k < r->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		if (sut_registry_owner(reg, f->addr, ri) >= 0)
			continue;
		uint8_t cur[SUT_JMP_LEN];
		if (sut_proc_read(t->pid, f->addr, cur, SUT_JMP_LEN, err) < 0)
			return sut_err_wrap(err, "%s: reading %s", sut_target_label(t), f->name);
		if (memcmp(cur, f->written, SUT_JMP_LEN) != 0)
			return sut_errf(err,
					"%s: %s: entry bytes are not the jump patch %s wrote: "
					"something else modified it; nothing was changed",
					sut_target_label(t), f->name, r->id);
	}
	return 0;
}

/* How a record's removal is written: a new revert journals itself first; a repair finishes
 * one a killed suture started (journal already written; an entry may already hold its
 * saved bytes, and one holding neither the jump nor them is left alone). */
enum revert_mode { REVERT_NEW, REVERT_REPAIR };

/* next = reg without record ri: each function whose live jump belongs to a newer record
 * hands R's saved bytes to the lowest newer record naming it (whose saved bytes are R's
 * jump), then the record goes and the header counts one record less. */
static void registry_without(const struct sut_registry *reg, long ri, struct sut_registry *next)
{
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	size_t roff = record_offset(reg, (size_t)ri), rsz = r->rec_size;
	*next = *reg;
	next->records = sut_xmalloc(reg->records_len);
	memcpy(next->records, reg->records, reg->records_len);
	for (uint32_t k = 0; k < r->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		if (sut_registry_owner(reg, f->addr, ri) < 0)
			continue;
		for (size_t j = (size_t)ri + 1; j < reg->hdr.npatches; j++) {
			struct sut_reg_patch *np = (void *)(next->records + record_offset(reg, j));
			struct sut_reg_func *nf = (void *)(np + 1);
			bool done = false;
			for (uint32_t q = 0; q < np->nfuncs; q++)
				if (nf[q].addr == f->addr) {
					memcpy(nf[q].saved, f->saved, sizeof nf[q].saved);
					done = true;
				}
			if (done)
				break;
		}
	}
	memmove(next->records + roff, next->records + roff + rsz, reg->records_len - roff - rsz);
	next->records_len -= rsz;
	next->hdr.npatches--;
	next->hdr.used -= (uint32_t)rsz;
	next->hdr.generation++;
	next->hdr.state = SUT_REG_IDLE;
}

/* Journals the removal of record ri in the process's registry header (REVERTING), before
 * the first byte of code is written. A fault injected here puts the header back. */
static int journal_revert(pid_t pid, const struct sut_registry *reg, long ri, struct sut_err *err)
{
	struct sut_reg_header j = reg->hdr;
	j.state = SUT_REG_REVERTING;
	j.pending_index = (uint32_t)ri;
	j.txn_started = (uint64_t)time(NULL);
	j.tool_pid = (uint32_t)getpid();
	if (sut_ptrace_write(pid, reg->addr, &j, sizeof j, err) < 0)
		return -1;
	if (sut_fault("revert-journal", err) < 0) {
		struct sut_err e2;
		sut_ptrace_write(pid, reg->addr, &reg->hdr, sizeof reg->hdr, &e2);
		return -1;
	}
	return 0;
}

/* Writes the saved bytes back into every entry record ri owns. Returns 0, or -1 with err
 * set and *done the number of entries (in record order) to put back. */
static int restore_entries(struct sut_target *t, const struct sut_registry *reg, long ri,
			   enum revert_mode mode, uint32_t *done, struct sut_err *err)
{
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	for (*done = 0; *done < r->nfuncs; ++*done) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[*done];
		if (sut_registry_owner(reg, f->addr, ri) >= 0)
			continue;
		if (mode == REVERT_REPAIR) {
			uint8_t cur[SUT_JMP_LEN];
			if (sut_proc_read(t->pid, f->addr, cur, SUT_JMP_LEN, err) < 0)
				return -1;
			if (memcmp(cur, f->saved, SUT_JMP_LEN) == 0)
				continue; /* restored before the kill */
			if (memcmp(cur, f->written, SUT_JMP_LEN) != 0 &&
			    !sut_entry_half_written(cur, f->written, f->saved))
				return sut_errf(err, "%s: %s: entry bytes are neither the jump nor the "
						"original; left alone", sut_target_label(t), f->name);
		}
		if (sut_ptrace_write(t->pid, f->addr, f->saved, SUT_JMP_LEN, err) < 0)
			return -1;
		if (*done == 0 && mode == REVERT_NEW && sut_fault("revert-restore", err) < 0) {
			++*done;
			return -1;
		}
	}
	return 0;
}

/* Under a partial freeze (sleepers left asleep): every owned entry in one
 * sut_freeze_write_code, so that no thread runs an entry half written. Returns 0, -1, or
 * SUT_FROZEN_WOKE (a sleeper ran meanwhile: nothing was changed, the header put back). */
static int restore_entries_partial(struct sut_freeze *fz, const struct sut_registry *reg,
				   long ri, struct sut_err *err)
{
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	struct sut_code_write *w = sut_xcalloc(r->nfuncs ? r->nfuncs : 1, sizeof *w);
	struct sut_code_write *back = sut_xcalloc(r->nfuncs ? r->nfuncs : 1, sizeof *back);
	size_t nw = 0;
	for (uint32_t k = 0; k < r->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		if (sut_registry_owner(reg, f->addr, ri) >= 0)
			continue;
		back[nw] = (struct sut_code_write){f->addr, f->written, SUT_JMP_LEN};
		w[nw++] = (struct sut_code_write){f->addr, f->saved, SUT_JMP_LEN};
	}
	int wr = sut_freeze_write_code(fz, w, nw, true, err);
	if (wr == 0 && sut_fault("revert-restore", err) < 0) {
		struct sut_err e2; /* put the jumps back */
		sut_freeze_write_code(fz, back, nw, false, &e2);
		wr = -1;
	}
	free(w);
	free(back);
	if (wr != 0) {
		struct sut_err e2;
		sut_ptrace_write(fz->pid, reg->addr, &reg->hdr, sizeof reg->hdr, &e2);
		return wr == 1 ? SUT_FROZEN_WOKE : -1;
	}
	return 0;
}

/* After a failed restore: the first `done` owned entries get their jump back and the header
 * its state before the revert, so the process is as the revert found it. */
static void undo_restore(pid_t pid, const struct sut_registry *reg, long ri, uint32_t done)
{
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	struct sut_err e2;
	for (uint32_t k = 0; k < done; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		if (sut_registry_owner(reg, f->addr, ri) < 0)
			sut_ptrace_write(pid, f->addr, f->written, SUT_JMP_LEN, &e2);
	}
	sut_ptrace_write(pid, reg->addr, &reg->hdr, sizeof reg->hdr, &e2);
}

/* Removing record ri: journal (a new revert only), restore the entries it owns, commit the
 * registry without it; restores everything on failure. The region stays mapped: the
 * caller releases it once no thread is inside. */
static int revert_record(struct sut_target *t, struct sut_registry *reg, long ri,
			 enum revert_mode mode, struct sut_freeze *fz, struct sut_err *err)
{
	struct sut_registry next;
	registry_without(reg, ri, &next);
	int rc = -1;
	uint32_t done;
	if (mode == REVERT_NEW && journal_revert(t->pid, reg, ri, err) < 0)
		goto out;
	if (mode == REVERT_NEW && fz && fz->sl) {
		int wr = restore_entries_partial(fz, reg, ri, err);
		if (wr != 0) {
			rc = wr;
			goto out;
		}
	} else if (restore_entries(t, reg, ri, mode, &done, err) < 0) {
		undo_restore(t->pid, reg, ri, done);
		goto out;
	}
	if (sut_registry_write(t->pid, &next, err) < 0)
		goto out;
	free(reg->records);
	*reg = next;
	next.records = NULL;
	rc = 0;
out:
	free(next.records);
	return rc;
}

int sut_revert_record(struct sut_target *t, struct sut_registry *reg, long ri,
		      struct sut_freeze *f, struct sut_err *err)
{
	return revert_record(t, reg, ri, REVERT_NEW, f, err);
}

int sut_revert_record_repair(struct sut_target *t, struct sut_registry *reg, long ri,
			     struct sut_err *err)
{
	return revert_record(t, reg, ri, REVERT_REPAIR, NULL, err);
}

struct frozen_revert {
	struct sut_registry *reg;
	long ri;
	const struct sut_range *range;
	bool dry_run;
	struct sut_txn_result *res; /* where a memory release that failed is reported */
	bool release_after; /* the region is released after the thaw (release_region) */
};

static int revert_frozen(struct sut_freeze *f, struct sut_target *t, void *ctx,
			 struct sut_blocker *b, struct sut_err *err)
{
	struct frozen_revert *fr = ctx;
	fr->release_after = false;
	uint64_t c0 = sut_now_ns();
	int chk = sut_check_consistency(f, &t->maps, &t->objs, fr->range, 1, b, err);
	f->ph.check_ns = sut_now_ns() - c0;
	if (chk != 0)
		return chk;
	if (verify_owned(t, fr->reg, fr->ri, err) < 0 || sut_fault("revert-frozen", err) < 0)
		return -1;
	if (fr->dry_run)
		return 0;
	struct sut_remote rem;
	bool later = false; /* the release after the thaw, once the revert is complete */
	if (sut_remote_init(&rem, f, &t->maps, err) < 0) {
		/* The unmap needs a stopped thread: under a partial freeze there may be none,
		 * every thread asleep. Then the region is released after the thaw, in one
		 * borrowed thread (release_region): once the jumps are gone and no thread is
		 * inside or returns into it (checked above), nothing reaches it. That thread's
		 * filters cannot be read now: with any filter among the sleepers, the full
		 * freeze, whose check refuses an unmap they forbid before a byte is written. */
		if (!f->nasleep)
			return -1;
		if (sut_freeze_sleepers_filtered(f))
			return SUT_FROZEN_FULL;
		later = true;
	}
	const struct sut_reg_patch *r = sut_registry_patch(fr->reg, (size_t)fr->ri);
	uint64_t region = r->region, region_size = r->region_size;
	if (!later && sut_remote_check_unmap(&rem, region, region_size, err) < 0)
		return sut_err_wrap(err, "%s: releasing the code of patch %s",
				    sut_target_label(t), r->id);
	int rr = sut_revert_record(t, fr->reg, fr->ri, f, err);
	if (rr != 0)
		return rr < 0 ? -1 : rr;
	/* the revert itself is complete; a fault here skips only the release of memory */
	if (sut_fault("revert-committed", err) < 0)
		return 0;
	fr->release_after = later;
	if (later)
		return 0;
	/* The jumps are gone and no thread is inside the region (checked): release it. A
	 * failure leaves harmless memory nothing jumps to: a warning, not an error. */
	struct sut_err e;
	if (sut_remote_unmap(&rem, region, region_size, &e) < 0)
		snprintf(fr->res->warning, sizeof fr->res->warning,
			 "%s: patch memory at 0x%llx not released: %s", sut_target_label(t),
			 (unsigned long long)region, e.msg);
	return 0;
}

/* The release after the thaw (revert_frozen, release_after): in the one thread
 * sut_with_one_thread borrows, the region is unmapped if it is still the patch's memory
 * (the process ran since the freeze, and may have unmapped it and put its own memory
 * there) and the thread's filters allow it. */
struct region_release {
	pid_t pid;
	const char *id;
	uint64_t lo, len;
};

static int release_fn(struct sut_remote *r, void *arg, struct sut_err *err)
{
	struct region_release *rr = arg;
	char name[200];
	snprintf(name, sizeof name, SUT_PATCH_MEMFD_PREFIX "%s", rr->id);
	struct sut_maps now;
	if (sut_proc_maps(rr->pid, &now, err) < 0)
		return -1;
	bool ours = sut_maps_holds_memfd(&now, name, rr->lo, rr->len, NULL, 0, NULL);
	sut_proc_maps_free(&now);
	if (!ours)
		return sut_errf(err, "it is no longer the patch's mapping (the process changed it)");
	if (sut_remote_check_unmap(r, rr->lo, rr->len, err) < 0)
		return -1;
	return sut_remote_unmap(r, rr->lo, rr->len, err);
}

/* A failure leaves harmless memory nothing jumps to: res's warning, not an error. */
static void release_region(struct sut_target *t, const char *id, uint64_t lo, uint64_t len,
			   int timeout_ms, struct sut_txn_result *res)
{
	struct region_release rr = {t->pid, id, lo, len};
	struct sut_err e;
	uint64_t held = 0; /* a hold like any other: it counts in held_us */
	int rc = sut_with_one_thread(t->pid, NULL, timeout_ms, release_fn, &rr, &held, &e);
	if (held > res->held_ns)
		res->held_ns = held;
	if (rc < 0)
		snprintf(res->warning, sizeof res->warning,
			 "%s: patch memory at 0x%llx not released: %s", sut_target_label(t),
			 (unsigned long long)lo, e.msg);
}

int sut_txn_revert(struct sut_process_view *v, const char *patch_id,
		   const struct sut_txn_opts *o, struct sut_txn_result *res, struct sut_err *err)
{
	struct sut_target *t = &v->t;
	pid_t pid = t->pid;
	if (sut_view_usable(v, err) < 0 || sut_view_registry_usable(v, err) < 0)
		return -1;
	long ri = v->have_reg ? sut_registry_find(&v->reg, patch_id) : -1;
	if (ri < 0)
		return sut_errf(err, "%s: patch %s is not applied", sut_target_label(t), patch_id);
	if (v->reg.hdr.state != SUT_REG_IDLE)
		return sut_errf(err, "%s: an interrupted transaction (suture pid %u) is recorded",
				sut_target_label(t), v->reg.hdr.tool_pid);
	struct sut_registry reg;
	sut_registry_dup(&v->reg, &reg);
	int rc = -1;
	uint64_t released_lo = 0, released_hi = 0;
	/* A stale record (its code no longer runs: library reloaded) is dropped; when it is
	 * the one asked for, writing the registry without it is the whole revert. */
	long dropped = sut_drop_stale(t, &reg, res, err);
	if (dropped < 0)
		goto out;
	ri = sut_registry_find(&reg, patch_id);
	if (ri < 0) {
		rc = o->dry_run ? 0 : sut_registry_write(pid, &reg, err);
		goto out;
	}
	const struct sut_reg_patch *r = sut_registry_patch(&reg, (size_t)ri);
	res->nfuncs = r->nfuncs;
	res->region = released_lo = r->region;
	res->region_size = r->region_size;
	released_hi = r->region + r->region_size;
	char what[200];
	snprintf(what, sizeof what, "the code of patch %s", patch_id);
	/* Strict rule, whatever the patch declared: the region is unmapped afterwards, so
	 * no thread may be executing in it or return into it. */
	struct sut_range range = {r->region, r->region + r->region_size, what, false};
	if (verify_owned(t, &reg, ri, err) < 0)
		goto out;
	struct frozen_revert fr = {.reg = &reg, .ri = ri, .range = &range, .dry_run = o->dry_run,
				   .res = res};
	if (!o->dry_run)
		sut_remote_prepare(pid, &t->maps); /* the unmap's code, found before the freeze */
	rc = sut_frozen_retry(t, o->timeout_ms, "revert", revert_frozen, &fr, &range, 1, res, err);
	if (rc == 0 && fr.release_after)
		release_region(t, patch_id, released_lo, released_hi - released_lo, o->timeout_ms,
			       res);
out:
	if (rc == 0 && !o->dry_run) {
		/* the view now holds the registry written and no longer the memory released */
		sut_view_take_registry(v, &reg);
		if (released_hi)
			sut_view_forget_mappings(v, released_lo, released_hi);
		struct sut_err e2;
		sut_view_status_update(v, &e2);
	}
	sut_registry_free(&reg);
	return rc;
}
