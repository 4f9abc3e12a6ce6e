/* SPDX-License-Identifier: Apache-2.0 */
/* Thread-local accesses in carried code, bound to the target's own thread-local variables.
 *
 * A patch cannot add thread-local storage (every thread's block was laid out when the thread
 * started), so each access must reach the variable the running program uses, in the calling
 * thread. The compiler chooses one of four access models; in a -ffunction-sections object
 * they appear as these relocations (x86-64 TLS ABI), and each is turned into something the
 * link layer already computes, or refused by name:
 *
 *   local-exec      TPOFF32 x          the variable's offset from the thread pointer. Fixed
 *                                      only for the program (module 1): computed from its
 *                                      PT_TLS (sut_elf_tls_tpoff) and written into the code.
 *                                      Refused in a shared library.
 *   initial-exec    GOTTPOFF x         the address of a GOT entry holding that offset: the
 *                                      target's own TPOFF64 entry for x when it has one
 *                                      (PC32 to it), else, in the program, a read-only
 *                                      8-byte entry the patch carries. Else refused.
 *   general-dynamic TLSGD x,           the address of a tls_index {module, offset} for
 *                   PLT32              __tls_get_addr: the target's own pair for x when it
 *                   __tls_get_addr     has one (DTPMOD64 + DTPOFF64: the module the dynamic
 *                                      linker bound x to, interposition included), else a
 *                                      pair the patch carries: {the target's module, offset}.
 *   local-dynamic   TLSLD, DTPOFF32 x  a pair {the target's module, 0}, carried; DTPOFF32 is
 *                                      x's offset in the target's block, written into the code.
 *
 * The target's module id is 1 for the program (the dynamic linker numbers the program's
 * TLS first); for a library it is read, at apply time, from one of the library's own
 * DTPMOD64 entries against symbol 0 (which always hold its own module id), through an
 * R_X86_64_64 against a TARGET_GOT symbol in the carried pair. A library without such an
 * entry is refused. TLS descriptors (-mtls-dialect=gnu2) and every other TLS relocation are
 * refused by name. */
#include "build/build_internal.h"

#include <ctype.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

bool bld_reloc_is_tls(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t && t->tls;
}

static const char *model_of(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t && t->tls_model ? t->tls_model : "thread-local";
}

/* The error every refusal gives: where, which variable, which model and relocation, why. */
static int refuse(const struct bld_tls_site *s, const struct bld_rela *r, struct sut_err *err,
		  const char *why)
{
	char tb[32];
	return sut_errf(err, "cannot live-patch: %s: %s+0x%llx: thread-local '%s' (%s access, %s): %s",
			s->file[0] ? s->file : "(no file)", s->sec_name,
			(unsigned long long)r->offset, s->var, model_of(r->type),
			sut_reloc_type_name(r->type, tb, sizeof tb), why);
}

/* "n.0", "buf.12": a function-scope static, numbered by the compiler in an order an edit
 * can change, so its name alone does not say which variable of the target it is. */
static bool numbered(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1])
		return false;
	for (const char *c = dot + 1; *c; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	return true;
}

/* Writes v (width 4 signed, or 8) into the carried bytes of the field. */
static int put_const(const struct bld_tls_site *s, const struct bld_rela *r, int64_t v,
		     struct sut_err *err)
{
	struct sut_patch_section *sec = &s->p->sections[s->patch_sec];
	unsigned w = sut_reloc_type(r->type)->width;
	if (!sec->bytes || r->offset > sec->size || sec->size - r->offset < w)
		return refuse(s, r, err, "field outside its section");
	if (w == 4 && (v < INT32_MIN || v > INT32_MAX))
		return refuse(s, r, err, "offset does not fit in 32 bits");
	for (unsigned k = 0; k < w; k++)
		sec->bytes[r->offset + k] = (uint8_t)((uint64_t)v >> (8 * k));
	return 0;
}

/* A read-only section the patch carries (a tls_index or a TP offset), shared by every
 * access of the patch to the same variable; its index in p->sections. */
static uint32_t carried_entry(struct sut_patch *p, const char *name, const uint8_t *bytes,
			      uint64_t size, long *sym)
{
	for (size_t i = 0; i < p->nsections; i++)
		if (!strcmp(p->sections[i].name, name)) {
			*sym = -1;
			for (size_t k = 0; k < p->nsymbols; k++)
				if (p->symbols[k].kind == SUT_SYM_LOCAL && p->symbols[k].section == i &&
				    !strcmp(p->symbols[k].name, name))
					*sym = (long)k;
			return (uint32_t)i;
		}
	uint8_t *b = sut_xmalloc(size);
	memcpy(b, bytes, size);
	p->sections = sut_xrealloc(p->sections, (p->nsections + 1) * sizeof *p->sections);
	p->sections[p->nsections] = (struct sut_patch_section){ sut_xstrdup(name), SUT_SEC_RODATA,
								 16, size, b };
	uint32_t sec = (uint32_t)p->nsections++;
	*sym = bld_patch_add_symbol(p, (struct sut_patch_symbol){ .name = sut_xstrdup(name),
								   .kind = SUT_SYM_LOCAL,
								   .section = sec, .size = size });
	return sec;
}

static void add_reloc(struct sut_patch *p, uint32_t sec, uint64_t off, uint32_t type, long sym,
		      int64_t addend)
{
	p->relocs = sut_xrealloc(p->relocs, (p->nrelocs + 1) * sizeof *p->relocs);
	p->relocs[p->nrelocs++] = (struct sut_patch_reloc){ sec, off, type, (uint32_t)sym, addend };
}

/* The field becomes a PC32 to `sym` (same addend: both are S + A - P). */
static void pc32_to(const struct bld_tls_site *s, const struct bld_rela *r, long sym)
{
	add_reloc(s->p, s->patch_sec, r->offset, R_X86_64_PC32, sym, r->addend);
}

/* A carried tls_index {the target's module, offset}. */
static int carried_pair(const struct bld_tls_site *s, const struct bld_rela *r, uint64_t offset,
			const char *name, long *sym, struct sut_err *err)
{
	uint8_t pair[16] = {0};
	uint64_t mod_slot = 0;
	bool program = sut_elf_is_program(s->target);
	if (program) {
		struct sut_elf_tls seg;
		if (!sut_elf_tls_segment(s->target, &seg))
			return refuse(s, r, err, "the target program has no TLS segment");
		pair[0] = 1; /* the program's TLS is module 1 */
	} else if (sut_elf_tls_slot(s->target, SUT_ELF_TLS_OWN_MODULE, NULL, 0, &mod_slot) != 1) {
		return refuse(s, r, err, "the target library has no GOT entry holding its own TLS "
				  "module id (no DTPMOD64 against symbol 0), so the module cannot be "
				  "known");
	}
	for (int k = 0; k < 8; k++)
		pair[8 + k] = (uint8_t)(offset >> (8 * k));
	bool fresh = true;
	for (size_t i = 0; i < s->p->nsections && fresh; i++)
		fresh = strcmp(s->p->sections[i].name, name) != 0;
	uint32_t sec = carried_entry(s->p, name, pair, sizeof pair, sym);
	if (fresh && !program) {
		long mod = bld_patch_add_bound(s->p, "(TLS module id)", SUT_SYM_TARGET_GOT, mod_slot);
		add_reloc(s->p, sec, 0, R_X86_64_64, mod, 0);
	}
	return 0;
}

/* The bytes a thread-local variable starts with in each new thread (NULL: zero, .tbss). */
static const uint8_t *initial_bytes(const struct bld_obj *o, const struct bld_sym *y)
{
	if (y->shndx == SHN_UNDEF || y->shndx >= o->nsecs)
		return NULL;
	const struct bld_sec *sec = &o->secs[y->shndx];
	if (!sec->data || y->value > sec->size || sec->size - y->value < y->size)
		return NULL;
	return sec->data + y->value;
}

/* Like a writable variable's, a thread-local's size and initial value are the running
 * program's: threads that exist keep their copy, threads started later get the original
 * image from the target's PT_TLS, whatever the patch says. */
static int same_definition(const struct bld_tls_site *s, const struct bld_rela *r,
			   struct sut_err *err)
{
	const struct bld_sym *y = s->sym;
	if (!s->orig || y->shndx == SHN_UNDEF)
		return 0;
	for (size_t i = 0; i < s->orig->nsyms; i++) {
		const struct bld_sym *o = &s->orig->syms[i];
		if (o->type != STT_TLS || o->shndx == SHN_UNDEF || o->bind != y->bind ||
		    strcmp(o->name, s->var))
			continue;
		const uint8_t *a = initial_bytes(s->orig, o), *b = initial_bytes(s->patched, y);
		bool zero_a = !a, zero_b = !b;
		if (o->size != y->size || zero_a != zero_b || (a && memcmp(a, b, y->size)))
			return refuse(s, r, err, "its size or initial value changed, which threads "
					  "already running (and the target's TLS image) would not see");
		return 0;
	}
	return 0;
}

int bld_tls_bind(const struct bld_tls_site *s, const struct bld_rela *r, struct sut_err *err)
{
	const struct bld_sym *y = s->sym;
	if (same_definition(s, r, err))
		return -1;
	if (y->type != STT_TLS)
		return refuse(s, r, err, "the relocation does not name a thread-local variable");
	if (numbered(s->var))
		return refuse(s, r, err, "a function-scope static thread-local variable: its "
				  "compiler-numbered name does not identify the target's variable");
	/* The target's definition: a static within the object's file scope, a global by name.
	 * An undefined one lives in another module and is reachable only through the
	 * target's own GOT entries for it. */
	const struct sut_sym *ts = NULL;
	bool local = y->bind == STB_LOCAL;
	int found = sut_elf_find_sym(s->target, s->var, local ? s->file : NULL, &ts, err);
	if (found < 0)
		return sut_err_wrap(err, "%s", s->file);
	if (found == 1 && ts->type != STT_TLS)
		return refuse(s, r, err, "the target's symbol of that name is not thread-local");
	bool defined = found == 1 && ts->shndx != SHN_UNDEF;
	if (!defined && y->shndx != SHN_UNDEF)
		return refuse(s, r, err, "the variable is not in the target: a patch cannot add "
				  "thread-local storage");
	uint64_t off = defined ? ts->value : 0;
	/* the dynamic linker may bind a default-visibility global to another module's copy */
	bool preemptible = !local && y->vis == STV_DEFAULT;
	const char *dynname = preemptible ? s->var : NULL;
	uint64_t slot;
	long sym;
	char *name;
	int rc = 0;

	switch (r->type) {
	case R_X86_64_TPOFF32: {
		int64_t tp;
		if (!sut_elf_is_program(s->target))
			return refuse(s, r, err, "local-exec in a shared library: only the program's "
					  "variables are at a fixed offset from the thread pointer");
		if (!defined || sut_elf_tls_tpoff(s->target, off, &tp) != 1)
			return refuse(s, r, err, "no offset from the thread pointer for it in the "
					  "target program");
		return put_const(s, r, tp + r->addend, err);
	}
	case R_X86_64_DTPOFF32:
	case R_X86_64_DTPOFF64:
		if (!defined)
			return refuse(s, r, err, "the variable is not defined in the target");
		return put_const(s, r, (int64_t)off + r->addend, err);
	case R_X86_64_GOTTPOFF:
		if (sut_elf_tls_slot(s->target, SUT_ELF_TLS_TPOFF, dynname, off, &slot) == 1 &&
		    (dynname || defined)) {
			name = sut_xasprintf("%s@gottpoff", s->var);
			pc32_to(s, r, bld_patch_add_bound(s->p, name, SUT_SYM_TARGET, slot));
			free(name);
			return 0;
		}
		int64_t tp;
		if (!defined || sut_elf_tls_tpoff(s->target, off, &tp) != 1)
			return refuse(s, r, err, "the target has no initial-exec GOT entry for it and "
					  "its offset from the thread pointer is not fixed (not the "
					  "program's own variable)");
		uint8_t b[8];
		for (int k = 0; k < 8; k++)
			b[k] = (uint8_t)((uint64_t)tp >> (8 * k));
		name = sut_xasprintf(".tpoff.%s@%#llx", s->var, (unsigned long long)off);
		carried_entry(s->p, name, b, sizeof b, &sym);
		free(name);
		pc32_to(s, r, sym);
		return 0;
	case R_X86_64_TLSGD:
		if (dynname && sut_elf_tls_slot(s->target, SUT_ELF_TLS_GD_PAIR, dynname, 0, &slot) == 1) {
			name = sut_xasprintf("%s@tlsgd", s->var);
			pc32_to(s, r, bld_patch_add_bound(s->p, name, SUT_SYM_TARGET, slot));
			free(name);
			return 0;
		}
		if (!defined)
			return refuse(s, r, err, "the variable is in another module and the target "
					  "has no tls_index for it");
		name = sut_xasprintf(".tls_index.%s@%#llx", s->var, (unsigned long long)off);
		rc = carried_pair(s, r, off, name, &sym, err);
		free(name);
		if (rc == 0)
			pc32_to(s, r, sym);
		return rc;
	case R_X86_64_TLSLD:
		if (!defined)
			return refuse(s, r, err, "the variable is not defined in the target");
		rc = carried_pair(s, r, 0, ".tls_index.module", &sym, err);
		if (rc == 0)
			pc32_to(s, r, sym);
		return rc;
	case R_X86_64_GOTPC32_TLSDESC:
	case R_X86_64_TLSDESC_CALL:
	case R_X86_64_TLSDESC:
		return refuse(s, r, err, "TLS descriptors (-mtls-dialect=gnu2) are not supported");
	default:
		return refuse(s, r, err, "this thread-local relocation cannot be carried");
	}
}
