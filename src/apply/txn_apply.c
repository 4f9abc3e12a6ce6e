/* SPDX-License-Identifier: Apache-2.0 */
/* The apply transaction (apply.h names the steps and the invariant). sut_txn_apply, at the
 * end, reads as them: check_target, plan, stage, freeze_and_commit (the freeze, the checks
 * inside it and the commit), then record_in_view, or undo_staging after any failure. The
 * helpers each step uses come first. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "apply/apply.h"
#include "apply/remote.h"
#include "apply/txn.h"
#include "link/link.h"
#include "util/buf.h"
#include "util/fault.h"

struct apply_ctx {
	const struct sut_patch *p;
	const struct sut_txn_opts *o;
	struct sut_target *t;    /* the job's view of the process */
	struct sut_registry reg;  /* a working copy of the view's registry */
	/* the header as it is in the process (as read, or as staging wrote a registry it
	 * created): reg.hdr may already differ, e.g. when stale records were dropped */
	struct sut_reg_header hdr_seen;
	bool have_reg, reg_created, region_mapped;
	struct sut_link_image img;
	uint64_t place;
	uint64_t *addr;    /* runtime entry of each replaced function */
	uint8_t (*head)[8];/* the first bytes at each entry, read at verification */
	uint8_t (*jmp)[SUT_JMP_LEN]; /* the jump written at each entry, encoded once at plan time */
	struct sut_map obj_map; /* the object's first mapping as planned (path not kept) */
	/* staging found the planned gap taken (something mapped there since the plan, often
	 * the dynamic linker of a process still starting): a new gap is picked and staging
	 * tried again, a bounded number of times */
	bool gap_taken;
	bool gap_fault_done; /* SUTURE_FAULT=stage-gap: the gap was taken once */
};

/* Attempts at staging when the gap is taken each time. */
#define STAGE_GAP_ATTEMPTS 5

static int verify_preimages(struct apply_ctx *c, struct sut_err *err)
{
	const struct sut_patch *p = c->p;
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		uint64_t a = c->addr[i];
		uint8_t *cur = sut_xmalloc(f->target_size);
		if (sut_proc_read(c->t->pid, a, cur, f->target_size, err) < 0) {
			free(cur);
			return sut_err_wrap(err, "%s: %s: reading %s", sut_target_label(c->t),
					    p->target_name, f->name);
		}
		memcpy(c->head[i], cur, SUT_JMP_LEN);
		/* A function an earlier patch redirected starts with that patch's jump; its
		 * true first bytes are the ones the bottom record saved. */
		const uint8_t *orig = c->have_reg ? sut_registry_original(&c->reg, a) : NULL;
		if (orig) {
			long ow = sut_registry_owner(&c->reg, a, -1);
			const struct sut_reg_func *of = NULL;
			const struct sut_reg_patch *op = sut_registry_patch(&c->reg, (size_t)ow);
			for (uint32_t k = 0; k < op->nfuncs; k++)
				if (sut_reg_funcs(op)[k].addr == a)
					of = &sut_reg_funcs(op)[k];
			if (memcmp(cur, of->written, SUT_JMP_LEN) != 0) {
				free(cur);
				return sut_errf(err,
						"%s: %s: %s: entry bytes differ from the jump patch %s "
						"wrote: something else modified it",
						sut_target_label(c->t), p->target_name, f->name,
						op->id);
			}
			memcpy(cur, orig, SUT_JMP_LEN);
		}
		for (uint64_t k = 0; k < f->target_size; k++) {
			if (cur[k] != f->preimage[k]) {
				sut_errf(err,
					 "%s: %s: %s: pre-image mismatch at byte %llu (expected 0x%02x, "
					 "found 0x%02x): another build, another patching tool, or a "
					 "half-applied attempt; nothing was changed",
					 sut_target_label(c->t), p->target_name, f->name,
					 (unsigned long long)k, f->preimage[k], cur[k]);
				free(cur);
				return -1;
			}
		}
		free(cur);
	}
	return 0;
}

static int stage_fn(struct sut_remote *r, void *arg, struct sut_err *err)
{
	struct apply_ctx *c = arg;
	/* The image first: its address was chosen from the maps, and the registry, placed
	 * by the kernel, could otherwise take that very gap. */
	char name[200];
	snprintf(name, sizeof name, SUT_PATCH_MEMFD_PREFIX "%s", c->p->id);
	/* every call staging (or undoing it) makes must pass the seccomp filters: checked
	 * before the first, so a refusal leaves the process untouched */
	if (sut_remote_check_map(r, c->place, c->img.rx_size, PROT_READ | PROT_EXEC,
				 c->img.rw_size, err) < 0 ||
	    (!c->have_reg && sut_remote_check_map(r, 0, SUT_REG_SIZE, PROT_READ, 0, err) < 0))
		return -1;
	/* the gap was chosen from the maps read at plan time and the process ran since (a
	 * starting one maps its libraries): the mapping is made with MAP_FIXED_NOREPLACE,
	 * so a gap taken meanwhile fails it with EEXIST, atomically, and stage() picks
	 * another */
	struct sut_err fe;
	if (!c->gap_fault_done && sut_fault("stage-gap", &fe) < 0) {
		/* tests: something maps into the planned gap first, as the dynamic linker of a
		 * starting process does */
		uint64_t at;
		c->gap_fault_done = true;
		if (sut_remote_map(r, "suture-test-gap", c->place, 4096, PROT_READ, 0, &at, err) < 0)
			return -1;
	}
	uint64_t got;
	if (sut_remote_map(r, name, c->place, c->img.rx_size, PROT_READ | PROT_EXEC,
			   c->img.rw_size, &got, err) < 0) {
		c->gap_taken = errno == EEXIST;
		return -1;
	}
	c->region_mapped = true;
	if (sut_fault("stage-mapped", err) < 0) {
		struct sut_err e2;
		if (sut_remote_unmap(r, c->place, c->img.size, &e2) == 0)
			c->region_mapped = false;
		return -1;
	}
	if (!c->have_reg) {
		if (sut_remote_map(r, SUT_REG_NAME, 0, SUT_REG_SIZE, PROT_READ, 0, &c->reg.addr,
				   err) < 0) {
			struct sut_err e2;
			if (sut_remote_unmap(r, c->place, c->img.size, &e2) == 0)
				c->region_mapped = false;
			return -1;
		}
		c->reg_created = true;
	}
	return 0;
}

/* Whether the memory staging mapped is still there, as staging left it (the process may
 * have unmapped it, mapped something else in its place, or exec'd). */
static bool region_is_ours(const struct apply_ctx *c, const struct sut_maps *m)
{
	char name[200];
	snprintf(name, sizeof name, SUT_PATCH_MEMFD_PREFIX "%s", c->p->id);
	return sut_maps_holds_memfd(m, name, c->place, c->img.rx_size, "r-xp", c->img.rw_size,
				    "rw-p");
}

static bool registry_is_ours(const struct apply_ctx *c, const struct sut_maps *m)
{
	return sut_maps_holds_memfd(m, SUT_REG_NAME, c->reg.addr, SUT_REG_SIZE, "r--p", 0, "");
}

static int unstage_fn(struct sut_remote *r, void *arg, struct sut_err *err)
{
	struct apply_ctx *c = arg;
	int rc = 0;
	/* Never unmap what is no longer ours: the process may have put its own memory where
	 * the staged memory was. */
	struct sut_maps now;
	if (sut_proc_maps(c->t->pid, &now, err) < 0)
		return -1;
	if (c->region_mapped && !region_is_ours(c, &now))
		c->region_mapped = false;
	if (c->reg_created && !registry_is_ours(c, &now))
		c->reg_created = false;
	sut_proc_maps_free(&now);
	if (c->region_mapped && sut_remote_unmap(r, c->place, c->img.size, err) < 0)
		rc = -1;
	else
		c->region_mapped = false;
	if (c->reg_created && sut_remote_unmap(r, c->reg.addr, SUT_REG_SIZE, err) < 0)
		rc = -1;
	else
		c->reg_created = false;
	return rc;
}

/* Undo staging; a failure here cannot be made better: it comes back as res's warning. */
static void unstage(struct apply_ctx *c, struct sut_txn_result *res)
{
	if (!c->region_mapped && !c->reg_created)
		return;
	struct sut_err e;
	uint64_t held = 0; /* a hold like any other: it counts in held_us */
	int urc = sut_with_one_thread(c->t->pid, NULL, 2000, unstage_fn, c, &held, &e);
	if (held > res->held_ns)
		res->held_ns = held;
	if (urc < 0 &&
	    sut_proc_exists(c->t->pid))
		snprintf(res->warning, sizeof res->warning, "%s: could not remove staged memory: %s",
			 sut_target_label(c->t), e.msg);
}

static void init_registry(struct apply_ctx *c)
{
	struct sut_reg_header *h = &c->reg.hdr;
	memset(h, 0, sizeof *h);
	memcpy(h->magic, SUT_REG_MAGIC, 8);
	h->version = SUT_REG_VERSION;
	h->size = SUT_REG_SIZE;
}

/* Builds this transaction's record and appends it (uncommitted) to reg.records. */
static size_t append_record(struct apply_ctx *c)
{
	const struct sut_patch *p = c->p;
	size_t sz = sizeof(struct sut_reg_patch) + p->nfuncs * sizeof(struct sut_reg_func);
	uint8_t *rec = sut_xcalloc(1, sz);
	struct sut_reg_patch *r = (void *)rec;
	r->rec_size = (uint32_t)sz;
	r->nfuncs = (uint32_t)p->nfuncs;
	snprintf(r->id, sizeof r->id, "%s", p->id);
	r->version = p->version;
	r->flags = p->consistency == SUT_CONS_PER_CALL ? SUT_REG_FLAG_PER_CALL : 0;
	memcpy(r->build_id, p->build_id, p->build_id_len);
	r->build_id_len = (uint32_t)p->build_id_len;
	r->bias = c->t->obj->bias;
	r->region = c->place;
	r->region_size = c->img.size;
	r->applied_at = (uint64_t)time(NULL);
	size_t off = 0;
	for (size_t i = 0; i < p->ncves && off + 1 < sizeof r->cves; i++)
		off += (size_t)snprintf(r->cves + off, sizeof r->cves - off, "%s%s", i ? "," : "",
					p->cves[i]);
	snprintf(r->target, sizeof r->target, "%s", p->target_name ? p->target_name : "");
	struct sut_reg_func *rf = (void *)(r + 1);
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		rf[i].addr = c->addr[i];
		rf[i].size = f->target_size;
		rf[i].repl = c->img.sym_addr[f->replacement];
		rf[i].repl_size = p->symbols[f->replacement].size;
		memcpy(rf[i].saved, c->head[i], SUT_JMP_LEN);
		memcpy(rf[i].written, c->jmp[i], SUT_JMP_LEN);
		snprintf(rf[i].name, sizeof rf[i].name, "%s", f->name);
	}
	c->reg.records = sut_xrealloc(c->reg.records, c->reg.records_len + sz);
	memcpy(c->reg.records + c->reg.records_len, rec, sz);
	free(rec);
	return sz;
}

/* Writes the jumps (or, back, the saved bytes) of functions [from, to) in one
 * sut_freeze_write_code (putting back: no second look at the sleepers). */
static int write_entries(struct sut_freeze *f, const struct sut_reg_func *rf, size_t from,
			 size_t to, bool back, struct sut_err *err)
{
	if (from >= to)
		return 0;
	struct sut_code_write *w = sut_xcalloc(to - from, sizeof *w);
	for (size_t k = from; k < to; k++)
		w[k - from] = (struct sut_code_write){rf[k].addr, back ? rf[k].saved : rf[k].written,
						      SUT_JMP_LEN};
	int rc = sut_freeze_write_code(f, w, to - from, !back, err);
	free(w);
	return rc;
}

/* In the freeze: journal, write every jump, commit. On failure restores every byte.
 * SUT_FROZEN_WOKE: a thread left asleep ran before the switch; nothing was changed. */
static int commit(struct sut_freeze *f, struct apply_ctx *c, struct sut_err *err)
{
	pid_t pid = c->t->pid;
	size_t sz = append_record(c);
	const struct sut_reg_func *rf =
		(const void *)(c->reg.records + c->reg.records_len + sizeof(struct sut_reg_patch));
	struct sut_reg_header committed = c->reg.hdr;
	/* journal: the pending record sits just past the committed ones */
	c->reg.hdr.state = SUT_REG_APPLYING;
	c->reg.hdr.txn_started = (uint64_t)time(NULL);
	c->reg.hdr.tool_pid = (uint32_t)getpid();
	c->reg.records_len += sz;
	int rc = sut_registry_write(pid, &c->reg, err);
	c->reg.records_len -= sz;
	if (rc < 0) {
		c->reg.hdr = committed;
		return sut_err_wrap(err, "%s: writing registry journal", sut_target_label(c->t));
	}
	size_t done = 0, n = c->p->nfuncs;
	int wr = -1;
	if (sut_fault("journal", err) < 0)
		goto undo;
	/* the first jump alone, then the others: "jump" fails or kills between them */
	wr = write_entries(f, rf, 0, 1, false, err);
	if (wr == 0) {
		done = 1;
		if (sut_fault("jump", err) < 0)
			goto undo;
		wr = write_entries(f, rf, 1, n, false, err);
		if (wr == 0)
			done = n;
	}
	if (done < n) {
		if (wr < 0)
			sut_err_wrap(err, "%s: writing jump into %s", sut_target_label(c->t),
				     rf[done].name);
undo:;
		struct sut_err e2;
		write_entries(f, rf, 0, done, true, &e2);
		/* a thread left asleep may have woken and entered a replacement while its
		 * jump was live: the patch memory stays (a later transaction releases memory
		 * no record accounts for, once no thread is inside it) */
		if (done && f->nasleep)
			c->region_mapped = false;
		c->reg.hdr = committed;
		/* what is in the process now is what suture wrote: the next attempt's
		 * check of what staging left compares against it */
		if (sut_registry_write(pid, &c->reg, &e2) == 0)
			c->hdr_seen = c->reg.hdr;
		if (wr == 1)
			return SUT_FROZEN_WOKE; /* f->woke ran: try again */
		return -1;
	}
	c->reg.hdr = committed;
	c->reg.hdr.npatches++;
	c->reg.hdr.used += (uint32_t)sz;
	c->reg.hdr.generation++;
	c->reg.records_len += sz;
	if (sut_ptrace_write(pid, c->reg.addr, &c->reg.hdr, sizeof c->reg.hdr, err) < 0) {
		/* cannot record it: take the jumps back so the process stays as it was */
		struct sut_err e2;
		write_entries(f, rf, 0, n, true, &e2);
		if (f->nasleep)
			c->region_mapped = false; /* as above */
		return sut_err_wrap(err, "%s: committing registry", sut_target_label(c->t));
	}
	/* past this point the apply is complete: a failure injected here must not undo it */
	struct sut_err e3;
	sut_fault("committed", &e3);
	return 0;
}

/* The ranges no thread may be in at the switch. Strict rule: each replaced function, its
 * split-off parts (.cold, .part.N: the same activations run there), and the current
 * replacement of a function an earlier patch redirected. Per-call rule: only the bytes
 * past the first that each jump overwrites. */
static struct sut_range *build_ranges(struct apply_ctx *c, size_t *nr)
{
	size_t n = 0, cap = 2 * c->p->nfuncs + 8;
	struct sut_range *r = sut_xcalloc(cap, sizeof *r);
#define ADD(...)                                                                   \
	do {                                                                       \
		if (n == cap)                                                      \
			r = sut_xrealloc(r, (cap *= 2) * sizeof *r);               \
		r[n++] = (struct sut_range){__VA_ARGS__};                          \
	} while (0)
	for (size_t i = 0; i < c->p->nfuncs; i++) {
		const struct sut_patch_func *f = &c->p->funcs[i];
		if (c->p->consistency == SUT_CONS_PER_CALL) {
			/* old activations may finish in old code; nothing may resume inside
			 * the bytes the jump overwrites */
			ADD(c->addr[i] + 1, c->addr[i] + SUT_JMP_LEN, f->name, true);
			continue;
		}
		ADD(c->addr[i], c->addr[i] + f->target_size, f->name, false);
		uint64_t (*frag)[2] = NULL;
		size_t nfrag = 0;
		sut_target_fragments(c->t, f->name, f->file, &frag, &nfrag);
		for (size_t k = 0; k < nfrag; k++)
			ADD(frag[k][0], frag[k][1], f->name, false);
		free(frag);
		long ow = c->have_reg ? sut_registry_owner(&c->reg, c->addr[i], -1) : -1;
		if (ow >= 0) {
			const struct sut_reg_patch *op = sut_registry_patch(&c->reg, (size_t)ow);
			for (uint32_t k = 0; k < op->nfuncs; k++) {
				const struct sut_reg_func *of = &sut_reg_funcs(op)[k];
				if (of->addr == c->addr[i])
					ADD(of->repl, of->repl + of->repl_size, f->name, false);
			}
		}
	}
#undef ADD
	*nr = n;
	return r;
}

struct frozen_apply {
	struct apply_ctx *c;
	struct sut_range *ranges;
	size_t nr;
};

/* Under the freeze, before any write: what staging left between its end and this freeze
 * is as it was. The process ran meanwhile and may have unmapped the patch memory or the
 * registry, mapped something else there, changed them, or exec'd (the same binary may come
 * back at the same addresses, without anything staged). Jumping into memory that is not
 * the image would crash it; writing a registry that is not ours would corrupt its memory. */
static int check_staged(struct apply_ctx *c, struct sut_err *err)
{
	const struct sut_maps *m = &c->t->maps;
	const char *who = sut_target_label(c->t);
	const struct sut_map *om = sut_maps_find(m, c->obj_map.start);
	if (!om || om->start != c->obj_map.start || om->end != c->obj_map.end ||
	    om->offset != c->obj_map.offset || om->inode != c->obj_map.inode ||
	    om->dev_major != c->obj_map.dev_major || om->dev_minor != c->obj_map.dev_minor)
		return sut_errf(err, "%s: %s is no longer mapped where it was planned (the process "
				"unmapped it or exec'd); nothing was changed", who,
				c->p->target_name);
	if (!region_is_ours(c, m))
		return sut_errf(err, "%s: the patch memory staged at 0x%llx is no longer mapped "
				"as staging left it (the process unmapped or replaced it, or "
				"exec'd); nothing was changed", who, (unsigned long long)c->place);
	if (!registry_is_ours(c, m))
		return sut_errf(err, "%s: the registry at 0x%llx is no longer mapped where it "
				"was (the process unmapped or replaced it, or exec'd); nothing was "
				"changed", who, (unsigned long long)c->reg.addr);
	/* the contents too: the image as written, the registry header as read or made */
	uint8_t *now = sut_xmalloc(c->img.size);
	int rc = sut_proc_read(c->t->pid, c->place, now, c->img.size, err);
	if (rc == 0 && memcmp(now, c->img.bytes, c->img.size) != 0)
		rc = sut_errf(err, "%s: the patch memory at 0x%llx no longer holds the image "
			      "staging wrote; nothing was changed", who,
			      (unsigned long long)c->place);
	free(now);
	struct sut_reg_header h;
	if (rc == 0 && sut_proc_read(c->t->pid, c->reg.addr, &h, sizeof h, err) == 0 &&
	    memcmp(&h, &c->hdr_seen, sizeof h) != 0)
		rc = sut_errf(err, "%s: the registry header changed since it was read (not by "
			      "suture); nothing was changed", who);
	return rc;
}

static int apply_frozen(struct sut_freeze *f, struct sut_target *t, void *ctx,
			struct sut_blocker *b, struct sut_err *err)
{
	struct frozen_apply *fa = ctx;
	struct apply_ctx *c = fa->c;
	if (!c->o->dry_run && check_staged(c, err) < 0)
		return -1;
	uint64_t c0 = sut_now_ns();
	int chk = sut_check_consistency(f, &t->maps, &t->objs, fa->ranges, fa->nr, b, err);
	f->ph.check_ns = sut_now_ns() - c0;
	if (chk != 0)
		return chk;
	if (verify_preimages(c, err) < 0 || sut_fault("frozen", err) < 0)
		return -1;
	return c->o->dry_run ? 0 : commit(f, c, err);
}

static int freeze_and_commit(struct apply_ctx *c, struct sut_txn_result *res, struct sut_err *err)
{
	struct frozen_apply fa = {.c = c};
	fa.ranges = build_ranges(c, &fa.nr);
	int rc = sut_frozen_retry(c->t, c->o->timeout_ms, "apply", apply_frozen, &fa, fa.ranges,
				  fa.nr, res, err);
	free(fa.ranges);
	return rc;
}

/* Check (process running, nothing written): the process maps the patch's object, its
 * registry may be used and records no transaction in flight, the records that are not
 * true now are dropped (from the working copy: the transaction's registry write removes
 * them), and the patch is not applied already. */
static int check_target(struct apply_ctx *c, struct sut_process_view *v,
			struct sut_txn_result *res, struct sut_err *err)
{
	const struct sut_patch *p = c->p;
	if (sut_view_usable(v, err) < 0 || sut_view_registry_usable(v, err) < 0)
		return -1;
	c->t->obj = sut_objects_find_build_id(&c->t->objs, p->build_id, p->build_id_len);
	if (!c->t->obj) {
		char hex[2 * SUT_BUILD_ID_MAX + 1];
		sut_hex(p->build_id, p->build_id_len, hex);
		return sut_errf(err, "%s does not map an object with build-id %s",
				sut_target_label(c->t), hex);
	}
	c->have_reg = v->have_reg;
	if (!c->have_reg)
		return 0;
	sut_registry_dup(&v->reg, &c->reg);
	c->hdr_seen = c->reg.hdr;
	if (c->reg.hdr.state != SUT_REG_IDLE)
		return sut_errf(err, "%s: an interrupted transaction (suture pid %u) is still "
				"recorded%s", sut_target_label(c->t), c->reg.hdr.tool_pid,
				c->o->dry_run ? " (a dry run repairs nothing: `suture repair -p "
						"PID` does)" : "");
	/* a record that is not true now (library reloaded, code overwritten) is dropped and
	 * the patch applied again (invariant 8: never "patched" for code that is not) */
	if (sut_drop_stale(c->t, &c->reg, res, err) < 0)
		return -1;
	if (sut_registry_find(&c->reg, p->id) >= 0)
		return sut_errf(err, "%s: patch %s is already applied", sut_target_label(c->t),
				p->id);
	return 0;
}

/* Plan, part one: where each function is, and its bytes as the patch expects them. These
 * checks need no stop and come first, so a wrong patch costs the process nothing (they
 * are repeated inside the freeze, where they count). */
static int locate_functions(struct apply_ctx *c, struct sut_err *err)
{
	const struct sut_patch *p = c->p;
	c->addr = sut_xcalloc(p->nfuncs, sizeof *c->addr);
	c->head = sut_xcalloc(p->nfuncs, sizeof *c->head);
	for (size_t i = 0; i < p->nfuncs; i++)
		c->addr[i] = c->t->obj->bias + p->funcs[i].target_addr;
	return verify_preimages(c, err);
}

/* Plan, part two: a free range within reach of the object in the maps m, and the image
 * linked there. */
static int place_and_link(struct apply_ctx *c, const struct sut_maps *m, struct sut_err *err)
{
	const struct sut_patch *p = c->p;
	const struct sut_object *obj = c->t->obj;
	uint64_t size = sut_link_size(p);
	if (sut_maps_find_gap_near(m, obj->lo, obj->hi, size, &c->place, err) < 0)
		return sut_err_wrap(err, "%s: no room for %llu bytes near %s",
				    sut_target_label(c->t), (unsigned long long)size,
				    p->target_name);
	struct sut_link_env env = {.place = c->place, .target_bias = obj->bias,
				   .resolve = sut_target_resolve, .ctx = c->t};
	if (sut_link(p, &env, &c->img, err) < 0)
		return sut_err_wrap(err, "%s: patch %s", sut_target_label(c->t), p->id);
	return 0;
}

/* Plan, part three: every jump encoded now. One that cannot be (out of rel32 range)
 * fails the transaction before anything is staged, and a jump is never written
 * unencoded. */
static int encode_jumps(struct apply_ctx *c, struct sut_err *err)
{
	const struct sut_patch *p = c->p;
	if (!c->jmp)
		c->jmp = sut_xcalloc(p->nfuncs, sizeof *c->jmp);
	struct sut_err fe;
	uint64_t skew = sut_fault("far-jump", &fe) < 0 ? 1ULL << 32 : 0; /* tests only */
	for (size_t i = 0; i < p->nfuncs; i++) {
		uint64_t to = c->img.sym_addr[p->funcs[i].replacement] + skew;
		if (sut_link_jmp(c->addr[i], to, c->jmp[i]) < 0)
			return sut_errf(err, "%s: %s: %s: a jump from 0x%llx to its replacement at "
					"0x%llx cannot be encoded (beyond +-2 GiB); nothing was "
					"changed", sut_target_label(c->t), p->target_name,
					p->funcs[i].name, (unsigned long long)c->addr[i],
					(unsigned long long)to);
	}
	return 0;
}

/* Plan, last part: the object's first mapping as planned, which the freeze compares with
 * the maps it reads (check_staged). */
static int note_object_mapping(struct apply_ctx *c, struct sut_err *err)
{
	const struct sut_map *om = sut_maps_find(&c->t->maps, c->t->obj->lo);
	if (!om)
		return sut_errf(err, "%s: %s: no mapping at 0x%llx", sut_target_label(c->t),
				c->p->target_name, (unsigned long long)c->t->obj->lo);
	c->obj_map = *om;
	c->obj_map.path = NULL;
	return 0;
}

static int plan(struct apply_ctx *c, struct sut_txn_result *res, struct sut_err *err)
{
	if (locate_functions(c, err) < 0 || place_and_link(c, &c->t->maps, err) < 0 ||
	    encode_jumps(c, err) < 0 || note_object_mapping(c, err) < 0)
		return -1;
	res->region = c->place;
	res->region_size = c->img.size;
	return 0;
}

/* Stage: one thread stopped for the remote calls that map the image memory (and the
 * registry, when the process has none), then the image written; nothing jumps to it yet.
 * On failure, what is still staged is said by region_mapped and reg_created. */
static int stage(struct apply_ctx *c, struct sut_txn_result *res, struct sut_err *err)
{
	pid_t pid = c->t->pid;
	/* a gap taken since the plan (often by the dynamic linker of a process still
	 * starting) is replaced by one free now, the image linked and the jumps encoded
	 * again for it */
	for (int attempt = 1;; attempt++) {
		c->gap_taken = false;
		uint64_t held = 0;
		int src = sut_with_one_thread(pid, attempt == 1 ? &c->t->maps : NULL,
					      c->o->timeout_ms, stage_fn, c, &held, err);
		if (held > res->held_ns)
			res->held_ns = held;
		if (src == 0)
			break;
		struct sut_maps now;
		if (!c->gap_taken || attempt >= STAGE_GAP_ATTEMPTS || sut_proc_maps(pid, &now, err) < 0)
			return sut_err_wrap(err, "%s: staging", sut_target_label(c->t));
		sut_link_image_free(&c->img);
		memset(&c->img, 0, sizeof c->img);
		int prc = place_and_link(c, &now, err);
		sut_proc_maps_free(&now);
		if (prc < 0 || encode_jumps(c, err) < 0)
			return -1;
		res->region = c->place;
		res->region_size = c->img.size;
	}
	if (c->reg_created) {
		init_registry(c);
		if (sut_registry_write(pid, &c->reg, err) < 0)
			return -1;
		c->hdr_seen = c->reg.hdr;
	}
	if (sut_ptrace_write(pid, c->place, c->img.bytes, c->img.size, err) < 0)
		return sut_err_wrap(err, "%s: writing patch image", sut_target_label(c->t));
	return sut_fault("staged", err);
}

/* After a failure: the staged memory is removed, and since that changed the process the
 * job's view is read again. */
static void undo_staging(struct apply_ctx *c, struct sut_process_view *v,
			 struct sut_txn_result *res)
{
	if (!c->region_mapped && !c->reg_created)
		return;
	unstage(c, res);
	struct sut_err e;
	sut_view_reread(v, &e);
}

/* After the commit: the view holds the registry this transaction wrote (its maps are the
 * ones the freeze read, the staged memory included). */
static void record_in_view(struct apply_ctx *c, struct sut_process_view *v)
{
	sut_view_take_registry(v, &c->reg);
	struct sut_err e;
	sut_view_status_update(v, &e);
}

static void apply_ctx_free(struct apply_ctx *c)
{
	free(c->addr);
	free(c->head);
	free(c->jmp);
	sut_link_image_free(&c->img);
	sut_registry_free(&c->reg);
}

int sut_txn_apply(struct sut_process_view *v, const struct sut_patch *p,
		  const struct sut_txn_opts *o, struct sut_txn_result *res, struct sut_err *err)
{
	struct apply_ctx c = {.p = p, .o = o, .t = &v->t};
	res->nfuncs = p->nfuncs;
	int rc = -1;
	if (check_target(&c, v, res, err) == 0 && plan(&c, res, err) == 0) {
		if (o->dry_run) /* checked under a freeze like the real one, nothing written */
			rc = freeze_and_commit(&c, res, err);
		else if (stage(&c, res, err) == 0)
			rc = freeze_and_commit(&c, res, err);
	}
	if (rc == 0 && !o->dry_run)
		record_in_view(&c, v);
	else if (rc < 0)
		undo_staging(&c, v, res);
	apply_ctx_free(&c);
	return rc;
}
