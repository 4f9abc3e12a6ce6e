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
#include "apply/fault.h"
#include "apply/lock.h"
#include "apply/remote.h"
#include "apply/txn.h"
#include "util/buf.h"

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
		uint8_t cur[5];
		if (sut_proc_read(t->pid, f->addr, cur, 5, err) < 0)
			return sut_err_wrap(err, "%s: reading %s", sut_target_label(t), f->name);
		if (memcmp(cur, f->written, 5) != 0)
			return sut_errf(err,
					"%s: %s: entry bytes are not the jump patch %s wrote: "
					"something else modified it; nothing was changed",
					sut_target_label(t), f->name, r->id);
	}
	return 0;
}

/* Writes code and registry for removing record ri; restores everything on failure.
 * repair: finishing a revert a killed suture started (journal already written; an entry
 * may already hold its saved bytes). rem NULL: leave the region mapped (the caller
 * releases it once no thread is inside). */
int sut_revert_record(struct sut_target *t, struct sut_registry *reg, long ri,
		      struct sut_remote *rem, bool repair, struct sut_err *err)
{
	pid_t pid = t->pid;
	const struct sut_reg_patch *r = sut_registry_patch(reg, (size_t)ri);
	size_t roff = record_offset(reg, (size_t)ri), rsz = r->rec_size;
	uint64_t region = r->region, region_size = r->region_size;

	struct sut_registry next = *reg;
	next.records = sut_xmalloc(reg->records_len);
	memcpy(next.records, reg->records, reg->records_len);
	/* hand saved bytes to newer owners */
	for (uint32_t k = 0; k < r->nfuncs; k++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
		long ow = sut_registry_owner(reg, f->addr, ri);
		if (ow < 0)
			continue;
		/* the lowest newer record naming f is the one whose saved bytes are R's jump */
		for (size_t j = (size_t)ri + 1; j < reg->hdr.npatches; j++) {
			struct sut_reg_patch *np = (void *)(next.records + record_offset(reg, j));
			struct sut_reg_func *nf = (void *)(np + 1);
			bool done = false;
			for (uint32_t q = 0; q < np->nfuncs; q++)
				if (nf[q].addr == f->addr) {
					memcpy(nf[q].saved, f->saved, 8);
					done = true;
				}
			if (done)
				break;
		}
	}
	memmove(next.records + roff, next.records + roff + rsz, reg->records_len - roff - rsz);
	next.records_len -= rsz;
	next.hdr.npatches--;
	next.hdr.used -= (uint32_t)rsz;
	next.hdr.generation++;
	next.hdr.state = SUT_REG_IDLE;

	/* journal */
	struct sut_reg_header j = reg->hdr;
	j.state = SUT_REG_REVERTING;
	j.pending_index = (uint32_t)ri;
	j.txn_started = (uint64_t)time(NULL);
	j.tool_pid = (uint32_t)getpid();
	int rc = -1;
	if (!repair && sut_ptrace_write(pid, reg->addr, &j, sizeof j, err) < 0)
		goto out;
	if (!repair && sut_fault("revert-journal", err) < 0) {
		struct sut_err e2;
		sut_ptrace_write(pid, reg->addr, &reg->hdr, sizeof reg->hdr, &e2);
		goto out;
	}
	uint32_t done = 0;
	bool failed = false;
	struct sut_freeze *fz = rem ? rem->f : NULL;
	if (!repair && fz && fz->sl) {
		/* partial freeze: every owned entry in one sut_freeze_write_code */
		struct sut_code_write *w = sut_xcalloc(r->nfuncs ? r->nfuncs : 1, sizeof *w);
		struct sut_code_write *back = sut_xcalloc(r->nfuncs ? r->nfuncs : 1, sizeof *back);
		size_t nw = 0;
		for (uint32_t k = 0; k < r->nfuncs; k++) {
			const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
			if (sut_registry_owner(reg, f->addr, ri) >= 0)
				continue;
			back[nw] = (struct sut_code_write){f->addr, f->written, 5};
			w[nw++] = (struct sut_code_write){f->addr, f->saved, 5};
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
			sut_ptrace_write(pid, reg->addr, &reg->hdr, sizeof reg->hdr, &e2);
			rc = wr == 1 ? SUT_FROZEN_WOKE : -1;
			goto out;
		}
		done = r->nfuncs;
	}
	for (; done < r->nfuncs; done++) {
		const struct sut_reg_func *f = &sut_reg_funcs(r)[done];
		if (sut_registry_owner(reg, f->addr, ri) >= 0)
			continue;
		if (repair) {
			uint8_t cur[5];
			if (sut_proc_read(pid, f->addr, cur, 5, err) < 0)
				break;
			if (memcmp(cur, f->saved, 5) == 0)
				continue; /* restored before the kill */
			if (memcmp(cur, f->written, 5) != 0 &&
			    !sut_entry_half_written(cur, f->written, f->saved)) {
				sut_errf(err, "%s: %s: entry bytes are neither the jump nor the "
					 "original; left alone", sut_target_label(t), f->name);
				break;
			}
		}
		if (sut_ptrace_write(pid, f->addr, f->saved, 5, err) < 0)
			break;
		if (done == 0 && !repair && sut_fault("revert-restore", err) < 0) {
			done++;
			failed = true;
			break;
		}
	}
	if (failed || done < r->nfuncs) {
		struct sut_err e2;
		for (uint32_t k = 0; k < done; k++) {
			const struct sut_reg_func *f = &sut_reg_funcs(r)[k];
			if (sut_registry_owner(reg, f->addr, ri) < 0)
				sut_ptrace_write(pid, f->addr, f->written, 5, &e2);
		}
		sut_ptrace_write(pid, reg->addr, &reg->hdr, sizeof reg->hdr, &e2);
		goto out;
	}
	if (sut_registry_write(pid, &next, err) < 0)
		goto out;
	if (!repair && sut_fault("revert-committed", err) < 0) {
		/* the revert itself is complete; only the release of memory is skipped */
		free(reg->records);
		*reg = next;
		return 0;
	}
	/* The jumps are gone and no thread is inside the region (checked): release it. */
	struct sut_err e3;
	if (rem && sut_remote_unmap(rem, region, region_size, &e3) < 0)
		fprintf(stderr, "suture: warning: %s: patch memory at 0x%llx not released: %s\n",
			sut_target_label(t), (unsigned long long)region, e3.msg);
	free(reg->records);
	*reg = next;
	next.records = NULL;
	rc = 0;
out:
	free(next.records);
	return rc;
}

struct frozen_revert {
	struct sut_registry *reg;
	long ri;
	const struct sut_range *range;
	bool dry_run;
};

static int revert_frozen(struct sut_freeze *f, struct sut_target *t, void *ctx,
			 struct sut_blocker *b, struct sut_err *err)
{
	struct frozen_revert *fr = ctx;
	int chk = sut_check_consistency(f, &t->maps, &t->objs, fr->range, 1, b, err);
	if (chk != 0)
		return chk;
	if (verify_owned(t, fr->reg, fr->ri, err) < 0 || sut_fault("revert-frozen", err) < 0)
		return -1;
	if (fr->dry_run)
		return 0;
	struct sut_remote rem;
	if (sut_remote_init(&rem, f, &t->maps, err) < 0)
		/* the unmap needs a stopped thread: under a partial freeze there may be none */
		return f->nasleep ? SUT_FROZEN_FULL : -1;
	const struct sut_reg_patch *r = sut_registry_patch(fr->reg, (size_t)fr->ri);
	if (sut_remote_check_unmap(&rem, r->region, r->region_size, err) < 0)
		return sut_err_wrap(err, "%s: releasing the code of patch %s",
				    sut_target_label(t), r->id);
	return sut_revert_record(t, fr->reg, fr->ri, &rem, false, err);
}

int sut_revert_patch(pid_t pid, const char *patch_id, const struct sut_txn_opts *o,
		     struct sut_txn_result *res, struct sut_err *err)
{
	memset(res, 0, sizeof *res);
	res->pid = pid;
	uint64_t t0 = sut_now_ns();
	struct sut_target t;
	int lock = sut_txn_begin(pid, o->timeout_ms, res, err);
	if (lock < 0)
		return -1;
	if (sut_target_open(pid, NULL, 0, &t, err) < 0) {
		sut_unlock_pid(lock);
		return -1;
	}
	struct sut_registry reg;
	bool found;
	int rc = -1;
	if (sut_registry_read(pid, &t.maps, &reg, &found, err) < 0)
		goto out_t;
	long ri = found ? sut_registry_find(&reg, patch_id) : -1;
	if (ri < 0) {
		sut_errf(err, "%s: patch %s is not applied", sut_target_label(&t), patch_id);
		goto out;
	}
	if (reg.hdr.state != SUT_REG_IDLE) {
		sut_errf(err, "%s: an interrupted transaction (suture pid %u) is recorded",
			 sut_target_label(&t), reg.hdr.tool_pid);
		goto out;
	}
	/* A stale record (its code no longer runs: library reloaded) is dropped; when it is
	 * the one asked for, writing the registry without it is the whole revert. */
	long dropped = sut_drop_stale(&t, &reg, res, err);
	if (dropped < 0)
		goto out;
	ri = sut_registry_find(&reg, patch_id);
	if (ri < 0) {
		rc = o->dry_run ? 0 : sut_registry_write(pid, &reg, err);
		goto out;
	}
	const struct sut_reg_patch *r = sut_registry_patch(&reg, (size_t)ri);
	res->nfuncs = r->nfuncs;
	res->region = r->region;
	res->region_size = r->region_size;
	char what[200];
	snprintf(what, sizeof what, "the code of patch %s", patch_id);
	/* Strict rule, whatever the patch declared: the region is unmapped afterwards, so
	 * no thread may be executing in it or return into it. */
	struct sut_range range = {r->region, r->region + r->region_size, what, false};
	if (verify_owned(&t, &reg, ri, err) < 0)
		goto out;
	struct frozen_revert fr = {.reg = &reg, .ri = ri, .range = &range, .dry_run = o->dry_run};
	rc = sut_frozen_retry(&t, o->timeout_ms, "revert", revert_frozen, &fr, &range, 1, res,
			      err);
out:
	sut_registry_free(&reg);
out_t:
	sut_target_close(&t);
	sut_unlock_pid(lock);
	res->total_ns = sut_now_ns() - t0;
	return rc;
}
