/* SPDX-License-Identifier: Apache-2.0 */
/* Turning the changed functions of one patched object into parts of a sut_patch.
 *
 * Carried: the sections of changed and new functions (with their .cold parts), of changed or
 * new read-only objects, of new writable objects, and the anonymous sections these reference
 * (strings, constants, jump tables). Everything else a carried section references binds to
 * the original build's target object, so the new code shares the running program's state:
 * a static by name within its STT_FILE scope, a global through the target's GOT slot when it
 * has one (what the dynamic linker chose), else its definition, else by name at apply time. */
#include "build/build_internal.h"

#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

struct emit_obj {
	struct bld_emit *em;
	const struct bld_obj *o, *p; /* orig (may be NULL), patched */
	struct bld_objdiff *d;
	bool *carried;      /* per patched section */
	long *patch_sec;    /* per patched section: index in em->p->sections, or -1 */
	long *patch_sym;    /* per patched symbol: index in em->p->symbols, or -1 */
	long *sec_sym;      /* per patched section: its LOCAL section symbol, or -1 */
	size_t *work;       /* sections whose relocations remain to be scanned */
	size_t nwork;
	struct bld_inlines *dw; /* DWARF of the original object, opened when first needed */
	bool dw_tried;
};

/* Why changed function i is replaced: the reason objdiff or spread_inlined gave, else the
 * inlined functions whose changed lines it contains (from the original object's DWARF, whose
 * line numbers are those of the original sources, which the change set uses), else
 * "changed". Malloc'd. */
static char *reason_for(struct emit_obj *x, size_t i, const char *orig_name)
{
	if (x->d->reason[i])
		return sut_xstrdup(x->d->reason[i]);
	if (x->o && x->em->changes && !x->dw_tried) {
		struct sut_err e2;
		x->dw_tried = true;
		/* without the DWARF the reason stays "changed": less precise, not wrong */
		(void)bld_inlines_open(x->o->path, &x->dw, &e2);
	}
	char *r = bld_inline_reason(x->dw, orig_name, x->em->changes);
	return r ? r : sut_xstrdup("changed");
}

static const char *scope_of(const struct emit_obj *x, size_t i)
{
	return x->p->syms[i].bind == STB_LOCAL ? x->p->file : NULL;
}

static void carry(struct emit_obj *x, uint32_t sec)
{
	if (sec == 0 || sec >= x->p->nsecs || x->carried[sec])
		return;
	x->carried[sec] = true;
	x->work[x->nwork++] = sec;
}

long bld_patch_add_symbol(struct sut_patch *p, struct sut_patch_symbol s)
{
	p->symbols = sut_xrealloc(p->symbols, (p->nsymbols + 1) * sizeof *p->symbols);
	p->symbols[p->nsymbols] = s;
	return (long)p->nsymbols++;
}
#define add_symbol bld_patch_add_symbol

/* Symbols bound to the target are shared by every object of the patch. */
static long add_bound(struct sut_patch *p, const char *name, enum sut_sym_kind kind,
		      uint64_t value, uint64_t size, bool is_func, const char *version)
{
	for (size_t i = 0; i < p->nsymbols; i++) {
		const struct sut_patch_symbol *s = &p->symbols[i];
		if (s->kind == kind && s->value == value && !strcmp(s->name, name) &&
		    !strcmp(s->version ? s->version : "", version ? version : ""))
			return (long)i;
	}
	return add_symbol(p, (struct sut_patch_symbol){ .name = sut_xstrdup(name), .kind = kind,
							.value = value, .size = size, .is_func = is_func,
							.version = version ? sut_xstrdup(version) : NULL });
}

long bld_patch_add_bound(struct sut_patch *p, const char *name, enum sut_sym_kind kind,
			 uint64_t value)
{
	return add_bound(p, name, kind, value, 0, false, NULL);
}

/* Where symbol i of the patched object lives in the target; 1 bound, 0 absent, -1 error.
 * The binding rule is the one of build.h: statics and hidden symbols by address, default-
 * visibility globals through the target's GOT slot, else its definition, else extern. */
static int bind_to_target(struct emit_obj *x, size_t i, long *out, struct sut_err *err)
{
	const struct bld_sym *s = &x->p->syms[i];
	const char *name = bld_orig_name(x->p, x->o, x->d, i);
	const struct sut_elf *t = x->em->target;
	bool is_func = s->type == STT_FUNC || s->type == STT_GNU_IFUNC;
	bool global = s->bind != STB_LOCAL && s->vis == STV_DEFAULT;
	uint64_t slot;
	if (global && sut_elf_got_slot(t, name, &slot) == 1) {
		*out = add_bound(x->em->p, name, SUT_SYM_TARGET_GOT, slot, 0, is_func, NULL);
		return 1;
	}
	const struct sut_sym *ts = NULL;
	int r = sut_elf_find_sym(t, name, scope_of(x, i), &ts, err);
	if (r < 0)
		return sut_err_wrap(err, "%s", x->p->file);
	if (r == 1 && ts->type == STT_GNU_IFUNC) {
		/* The symbol's address is its resolver's: what the program calls is the
		 * implementation the resolver returned when the object was loaded, which the
		 * dynamic linker stored in the GOT slot of an IRELATIVE relocation. */
		if (sut_elf_irelative_slot(t, ts->value, &slot) != 1)
			return sut_errf(err, "%s: '%s' is an IFUNC of the target, which holds no "
					"resolved address for it (no IRELATIVE slot): a patch "
					"cannot call it without running its resolver",
					x->p->file, name);
		*out = add_bound(x->em->p, name, SUT_SYM_TARGET_GOT, slot, 0, true, NULL);
		return 1;
	}
	if (r == 1) {
		*out = add_bound(x->em->p, name, SUT_SYM_TARGET, ts->value, ts->size,
				 ts->type == STT_FUNC, NULL);
		return 1;
	}
	if (global && s->shndx == SHN_UNDEF) {
		*out = add_bound(x->em->p, name, SUT_SYM_EXTERN, 0, 0, is_func,
				 sut_elf_needed_version(t, name));
		return 1;
	}
	return 0;
}

static enum sut_sec_kind section_kind(const struct bld_sec *s)
{
	if (s->flags & SHF_EXECINSTR)
		return SUT_SEC_TEXT;
	/* relocated by the patch's link before it is written, then never written again */
	if (bld_sec_is_relro(s))
		return SUT_SEC_RODATA;
	if (s->flags & SHF_WRITE)
		return s->type == SHT_NOBITS ? SUT_SEC_BSS : SUT_SEC_DATA;
	return SUT_SEC_RODATA;
}

static void add_report(struct bld_emit *em, const char *name, const char *file, const char *reason,
		       uint64_t size)
{
	em->rep = sut_xrealloc(em->rep, (em->nrep + 1) * sizeof *em->rep);
	em->rep[em->nrep++] = (struct sut_build_func){ sut_xstrdup(name), file ? sut_xstrdup(file) : NULL,
						       sut_xstrdup(reason), size };
}

/* A changed function the target does not have was inlined into its callers there: every
 * function of the original object that references it must be replaced, because each one
 * contains the old copy. Repeats until no caller is added (callers may be absent too). */
static int spread_inlined(struct emit_obj *x, struct sut_err *err)
{
	if (!x->o)
		return 0;
	bool *done = sut_xcalloc(x->p->nsyms, sizeof *done);
	bool again = true;
	int rc = 0;
	while (again && rc == 0) {
		again = false;
		for (size_t i = 0; i < x->p->nsyms; i++) {
			if (done[i] || !bld_sym_is_func(x->p, i) || x->d->state[i] != BLD_CHANGED ||
			    x->d->match[i] < 0 || bld_cold_parent(x->p, i) >= 0)
				continue;
			const struct sut_sym *ts;
			int r = sut_elf_find_sym(x->em->target, bld_orig_name(x->p, x->o, x->d, i),
						 scope_of(x, i), &ts, err);
			if (r < 0) {
				rc = -1;
				break;
			}
			if (r == 1)
				continue;
			done[i] = true;
			const char *absent = x->o->syms[x->d->match[i]].name;
			for (size_t k = 0; k < x->o->nsyms; k++) {
				if (!bld_sym_is_func(x->o, k) || k == (size_t)x->d->match[i])
					continue;
				const struct bld_sym *f = &x->o->syms[k];
				const struct bld_sec *s = &x->o->secs[f->shndx];
				bool calls = false;
				for (size_t r2 = 0; r2 < s->nrelas && !calls; r2++) {
					if (s->relas[r2].offset < f->value ||
					    s->relas[r2].offset >= f->value + f->size)
						continue;
					struct bld_ref ref;
					bld_resolve_ref(x->o, &s->relas[r2], &ref);
					calls = ref.kind == BLD_REF_SYM &&
						!strcmp(x->o->syms[ref.sym].name, absent);
				}
				if (!calls)
					continue;
				for (size_t pi = 0; pi < x->p->nsyms; pi++) {
					if (x->d->match[pi] != (long)k)
						continue;
					if (x->d->state[pi] == BLD_SAME)
						again = true;
					x->d->state[pi] = BLD_CHANGED;
					free(x->d->reason[pi]);
					x->d->reason[pi] = sut_xasprintf("contains inlined %s", absent);
				}
			}
		}
	}
	free(done);
	return rc;
}

/* The first set of carried sections: what changed or is new. */
static void carry_changes(struct emit_obj *x)
{
	for (size_t i = 0; i < x->p->nsyms; i++) {
		if (x->d->state[i] == BLD_SAME)
			continue;
		if (bld_sym_is_func(x->p, i) || bld_sym_is_object(x->p, i))
			carry(x, x->p->syms[i].shndx);
	}
	/* A carried function takes its .cold part along, and a carried .cold part its parent. */
	for (size_t i = 0; i < x->p->nsyms; i++) {
		long parent = bld_sym_is_func(x->p, i) ? bld_cold_parent(x->p, i) : -1;
		if (parent < 0)
			continue;
		if (x->carried[x->p->syms[parent].shndx] || x->carried[x->p->syms[i].shndx]) {
			carry(x, x->p->syms[parent].shndx);
			carry(x, x->p->syms[i].shndx);
		}
	}
}

/* Resolves one relocation of a carried section to a patch symbol and addend, carrying more
 * sections when the reference has to travel with the code. */
static int reloc_target(struct emit_obj *x, const struct bld_rela *r, long *sym, int64_t *addend,
			bool scan_only, struct sut_err *err)
{
	struct bld_ref ref;
	bld_resolve_ref(x->p, r, &ref);
	if (ref.kind != BLD_REF_SYM) {
		carry(x, ref.sec);
		if (scan_only)
			return 0;
		const struct bld_sym *s = &x->p->syms[r->sym];
		if (x->sec_sym[ref.sec] < 0)
			x->sec_sym[ref.sec] = add_symbol(x->em->p, (struct sut_patch_symbol){
				.name = sut_xstrdup(x->p->secs[ref.sec].name), .kind = SUT_SYM_LOCAL,
				.section = (uint32_t)x->patch_sec[ref.sec],
				.size = x->p->secs[ref.sec].size });
		*sym = x->sec_sym[ref.sec];
		*addend = (int64_t)s->value + r->addend;
		return 0;
	}
	size_t i = ref.sym;
	const struct bld_sym *s = &x->p->syms[i];
	if (s->type == STT_GNU_IFUNC && s->shndx != SHN_UNDEF &&
	    (s->shndx >= x->p->nsecs || x->carried[s->shndx]))
		/* its value is the resolver: binding to it would call the resolver */
		return sut_errf(err, "%s: '%s' is an IFUNC whose resolver the patch carries: "
				"a patch cannot run a resolver", x->p->file, s->name);
	if (s->shndx != SHN_UNDEF && s->shndx < x->p->nsecs && x->carried[s->shndx]) {
		if (scan_only)
			return 0;
		if (x->patch_sym[i] < 0)
			x->patch_sym[i] = add_symbol(x->em->p, (struct sut_patch_symbol){
				.name = sut_xstrdup(s->name), .kind = SUT_SYM_LOCAL,
				.section = (uint32_t)x->patch_sec[s->shndx], .value = s->value,
				.size = s->size, .is_func = s->type == STT_FUNC });
		*sym = x->patch_sym[i];
		*addend = ref.delta;
		return 0;
	}
	if (s->shndx == SHN_ABS || s->shndx == SHN_COMMON)
		return sut_errf(err, "%s: symbol '%s' is %s, which a patch cannot reference",
				x->p->file, s->name, s->shndx == SHN_ABS ? "absolute" : "common");
	long b = -1;
	int found = bind_to_target(x, i, &b, err);
	if (found < 0)
		return -1;
	if (found == 0) {
		/* Not in the target: a function or constant travels with the patch; writable
		 * state cannot, since the running code would not see the copy. */
		if (s->type == STT_GNU_IFUNC)
			return sut_errf(err, "%s: IFUNC '%s' is not in the target: a patch cannot "
					"run its resolver", x->p->file, s->name);
		if (s->shndx == SHN_UNDEF)
			return sut_errf(err, "%s: symbol '%s' is neither in the target nor exported",
					x->p->file, s->name);
		if (bld_sym_is_writable(x->p, i))
			return sut_errf(err, "cannot live-patch: writable variable '%s' (%s) used by the patch is not in the target",
					s->name, x->p->file);
		carry(x, s->shndx);
		if (bld_sym_is_func(x->p, i) && x->d->state[i] == BLD_SAME)
			x->d->state[i] = BLD_NEW;
		return 0;
	}
	*sym = b;
	*addend = ref.delta;
	return 0;
}

/* A thread-local access, or any reference to a thread-local variable. */
static bool is_tls_ref(const struct bld_obj *o, const struct bld_rela *r)
{
	return bld_reloc_is_tls(r->type) || (r->sym < o->nsyms && o->syms[r->sym].type == STT_TLS);
}

static int scan_carried(struct emit_obj *x, struct sut_err *err)
{
	while (x->nwork) {
		size_t sec = x->work[--x->nwork];
		const struct bld_sec *s = &x->p->secs[sec];
		for (size_t k = 0; k < s->nrelas; k++) {
			long sym;
			int64_t add;
			/* a thread-local variable never travels: tls.c binds its accesses */
			if (s->relas[k].type == R_X86_64_NONE || is_tls_ref(x->p, &s->relas[k]))
				continue;
			if (reloc_target(x, &s->relas[k], &sym, &add, true, err))
				return sut_err_wrap(err, "%s", s->name);
		}
	}
	return 0;
}

static void add_sections(struct emit_obj *x)
{
	struct sut_patch *p = x->em->p;
	for (size_t i = 1; i < x->p->nsecs; i++) {
		if (!x->carried[i])
			continue;
		const struct bld_sec *s = &x->p->secs[i];
		enum sut_sec_kind kind = section_kind(s);
		uint8_t *bytes = NULL;
		if (kind != SUT_SEC_BSS) {
			bytes = sut_xcalloc(1, s->size);
			if (s->data)
				memcpy(bytes, s->data, s->size);
		}
		p->sections = sut_xrealloc(p->sections, (p->nsections + 1) * sizeof *p->sections);
		p->sections[p->nsections] = (struct sut_patch_section){ sut_xstrdup(s->name), kind,
									 s->align, s->size, bytes };
		x->patch_sec[i] = (long)p->nsections++;
	}
	/* Every function and object symbol of a carried section, so replacements and later
	 * readers (inspect) can name them. */
	for (size_t i = 0; i < x->p->nsyms; i++) {
		const struct bld_sym *s = &x->p->syms[i];
		if ((bld_sym_is_func(x->p, i) || bld_sym_is_object(x->p, i)) && x->carried[s->shndx])
			x->patch_sym[i] = add_symbol(p, (struct sut_patch_symbol){
				.name = sut_xstrdup(s->name), .kind = SUT_SYM_LOCAL,
				.section = (uint32_t)x->patch_sec[s->shndx], .value = s->value,
				.size = s->size, .is_func = s->type == STT_FUNC });
	}
}

static int add_relocs(struct emit_obj *x, struct sut_err *err)
{
	struct sut_patch *p = x->em->p;
	for (size_t i = 1; i < x->p->nsecs; i++) {
		if (!x->carried[i])
			continue;
		const struct bld_sec *s = &x->p->secs[i];
		for (size_t k = 0; k < s->nrelas; k++) {
			const struct bld_rela *r = &s->relas[k];
			if (r->type == R_X86_64_NONE)
				continue;
			if (is_tls_ref(x->p, r)) {
				size_t y = r->sym < x->p->nsyms ? r->sym : 0;
				struct bld_tls_site site = {
					.p = p, .target = x->em->target, .file = x->p->file,
					.sec_name = s->name, .patch_sec = (uint32_t)x->patch_sec[i],
					.orig = x->o, .patched = x->p, .sym = &x->p->syms[y],
					.var = bld_orig_name(x->p, x->o, x->d, y) };
				if (bld_tls_bind(&site, r, err))
					return -1;
				continue;
			}
			if (!sut_patch_reloc_type_ok(r->type)) {
				char tb[32];
				return sut_errf(err, "%s: %s+0x%llx: relocation %s cannot be carried",
						x->p->file, s->name, (unsigned long long)r->offset,
						sut_reloc_type_name(r->type, tb, sizeof tb));
			}
			long sym = -1;
			int64_t add = 0;
			if (reloc_target(x, r, &sym, &add, false, err))
				return sut_err_wrap(err, "%s", s->name);
			p->relocs = sut_xrealloc(p->relocs, (p->nrelocs + 1) * sizeof *p->relocs);
			p->relocs[p->nrelocs++] = (struct sut_patch_reloc){ (uint32_t)x->patch_sec[i], r->offset,
									   r->type, (uint32_t)sym, add };
		}
	}
	return 0;
}

static bool already_replaced(const struct sut_patch *p, uint64_t addr)
{
	for (size_t i = 0; i < p->nfuncs; i++)
		if (p->funcs[i].target_addr == addr)
			return true;
	return false;
}

/* One sut_patch_func per changed function the target has; report entries for new ones. */
static int add_funcs(struct emit_obj *x, struct sut_err *err)
{
	struct sut_patch *p = x->em->p;
	for (size_t i = 0; i < x->p->nsyms; i++) {
		if (!bld_sym_is_func(x->p, i) || x->d->state[i] == BLD_SAME || bld_cold_parent(x->p, i) >= 0)
			continue;
		const struct bld_sym *s = &x->p->syms[i];
		const char *scope = scope_of(x, i);
		if (x->d->state[i] == BLD_NEW) {
			add_report(x->em, s->name, scope, "new", s->size);
			continue;
		}
		const char *name = bld_orig_name(x->p, x->o, x->d, i);
		const struct sut_sym *ts = NULL;
		int r = sut_elf_find_sym(x->em->target, name, scope, &ts, err);
		if (r < 0)
			return sut_err_wrap(err, "%s", x->p->file);
		if (r == 0)
			continue; /* inlined everywhere in the target: its callers are replaced */
		uint64_t span = ts->size;
		if (span < SUT_JMP_LEN) {
			/* A tiny function (a getter is 4 bytes) is followed by alignment padding
			 * that no code reaches: the jump may extend into it when no symbol claims
			 * those bytes. The pre-image then covers the padding too. */
			for (uint64_t a = ts->value + ts->size; a < ts->value + SUT_JMP_LEN; a++) {
				const struct sut_sym *o = sut_elf_sym_at(x->em->target, a);
				if (o && o != ts)
					return sut_errf(err, "%s: %s: the target's copy is %llu bytes and "
							"%s follows it directly: no room for a %d-byte jump",
							x->p->file, name, (unsigned long long)ts->size,
							o->name, SUT_JMP_LEN);
			}
			span = SUT_JMP_LEN;
		}
		if (already_replaced(p, ts->value))
			continue;
		uint8_t *pre = sut_xmalloc(span);
		if (sut_elf_read_vaddr(x->em->target, ts->value, pre, span, err)) {
			free(pre);
			return sut_err_wrap(err, "%s: %s: pre-image", x->p->file, name);
		}
		char *reason = reason_for(x, i, name);
		/* The file names the function whenever the target's symbol is local: a static,
		 * or a hidden global that the link turned local (OpenSSL's ossl_*), so that
		 * inspect never shows a function as "(global)" that is not exported. The link
		 * puts the symbols it localised after an empty STT_FILE, so for those the scope
		 * is the object's own: the function is defined in this translation unit. */
		const char *tfile = scope;
		if (ts->bind == STB_LOCAL)
			tfile = ts->file && ts->file[0] ? ts->file : x->p->file[0] ? x->p->file : NULL;
		p->funcs = sut_xrealloc(p->funcs, (p->nfuncs + 1) * sizeof *p->funcs);
		p->funcs[p->nfuncs++] = (struct sut_patch_func){
			.name = sut_xstrdup(name), .file = tfile ? sut_xstrdup(tfile) : NULL,
			.target_addr = ts->value, .target_size = span, .preimage = pre,
			.preimage_len = (uint32_t)span, .replacement = (uint32_t)x->patch_sym[i],
			.reason = reason };
		add_report(x->em, name, tfile, reason, s->size);
	}
	return 0;
}

int bld_emit_object(struct bld_emit *em, const struct bld_obj *orig, const struct bld_obj *patched,
		    struct bld_objdiff *d, struct sut_err *err)
{
	struct emit_obj x = { .em = em, .o = orig, .p = patched, .d = d };
	size_t ns = patched->nsecs, ny = patched->nsyms;
	x.carried = sut_xcalloc(ns, sizeof *x.carried);
	x.patch_sec = sut_xcalloc(ns, sizeof *x.patch_sec);
	x.sec_sym = sut_xcalloc(ns, sizeof *x.sec_sym);
	x.patch_sym = sut_xcalloc(ny, sizeof *x.patch_sym);
	x.work = sut_xcalloc(ns, sizeof *x.work);
	for (size_t i = 0; i < ns; i++)
		x.patch_sec[i] = x.sec_sym[i] = -1;
	for (size_t i = 0; i < ny; i++)
		x.patch_sym[i] = -1;
	int rc = -1;
	if (spread_inlined(&x, err))
		goto out;
	carry_changes(&x);
	if (scan_carried(&x, err))
		goto out;
	add_sections(&x);
	if (add_relocs(&x, err) || add_funcs(&x, err))
		goto out;
	rc = 0;
out:
	free(x.carried);
	free(x.patch_sec);
	free(x.sec_sym);
	free(x.patch_sym);
	free(x.work);
	bld_inlines_close(x.dw);
	return rc;
}
