/* SPDX-License-Identifier: Apache-2.0 */
/* Thread-local storage as a linked object describes it: its TLS segment (PT_TLS), whether it
 * is the program (whose TLS block sits at a fixed offset from the thread pointer), and the
 * GOT entries the dynamic linker fills for its thread-local accesses.
 *
 * In a linked object the value of an STT_TLS symbol is the variable's offset in the
 * object's TLS block (its "DTPOFF"). A general-dynamic access passes a tls_index pair
 * {module id, offset} (DTPMOD64 + DTPOFF64 entries) to __tls_get_addr; an initial-exec
 * access loads the variable's offset from the thread pointer from a TPOFF64 entry; a
 * local-dynamic access needs the pair {module id, 0}. A DTPMOD64 against symbol 0 always
 * names the object's own module; one against a named symbol names the module the dynamic
 * linker bound that symbol to, which interposition may make another. */
#include <string.h>

#include "elf/elf_internal.h"

static bool dynamic_flag_pie(struct sut_elf *e)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_DYNAMIC);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return false;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d)
		return false;
	size_t n = d->d_size / sh.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;
		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
			return true;
	}
	return false;
}

int sut_elf_load_tls(struct sut_elf *e, struct sut_err *err)
{
	size_t phnum;
	if (elf_getphdrnum(e->elf, &phnum) != 0)
		return sut_errf(err, "%s: cannot read program headers: %s", e->path, elf_errmsg(-1));
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e->elf, (int)i, &ph) && ph.p_type == PT_TLS) {
			if (ph.p_filesz > ph.p_memsz || (ph.p_align & (ph.p_align - 1)))
				return sut_errf(err, "%s: PT_TLS segment has impossible sizes",
						e->path);
			e->has_tls = true;
			e->tls = ph;
			break;
		}
	}
	e->is_program = e->ehdr.e_type == ET_EXEC ||
			(e->ehdr.e_type == ET_DYN && dynamic_flag_pie(e));
	return 0;
}

int sut_elf_tls_segment(const struct sut_elf *e, struct sut_elf_tls *out)
{
	if (!e->has_tls)
		return 0;
	*out = (struct sut_elf_tls){ .vaddr = e->tls.p_vaddr, .filesz = e->tls.p_filesz,
				     .memsz = e->tls.p_memsz,
				     .align = e->tls.p_align ? e->tls.p_align : 1 };
	return 1;
}

bool sut_elf_is_program(const struct sut_elf *e)
{
	return e->is_program;
}

int sut_elf_tls_tpoff(const struct sut_elf *e, uint64_t offset, int64_t *tpoff)
{
	struct sut_elf_tls t;
	if (!e->is_program || !sut_elf_tls_segment(e, &t) || offset > t.memsz)
		return 0;
	/* The program's block ends at the thread pointer (x86-64 is TLS variant II), rounded
	 * to the segment's alignment: the static linker computes local-exec offsets this way
	 * and the dynamic linker places module 1 accordingly. A segment that does not start
	 * on its own alignment would add a first-byte offset; refuse that rather than guess. */
	if (t.vaddr % t.align)
		return 0;
	uint64_t block = (t.memsz + t.align - 1) & ~(t.align - 1);
	*tpoff = (int64_t)offset - (int64_t)block;
	return 1;
}

static bool named(const struct sut_elf *e, uint32_t sym, const char *name)
{
	return sym && sym < e->ndynsyms && strcmp(e->dynsyms[sym].name, name) == 0;
}

static const struct sut_elf_dynrel *dynrel_at(const struct sut_elf *e, uint64_t offset)
{
	for (size_t i = 0; i < e->ndynrels; i++)
		if (e->dynrels[i].offset == offset)
			return &e->dynrels[i];
	return NULL;
}

int sut_elf_tls_slot(const struct sut_elf *e, enum sut_elf_tls_slot_kind kind, const char *name,
		     uint64_t offset, uint64_t *slot)
{
	for (size_t i = 0; i < e->ndynrels; i++) {
		const struct sut_elf_dynrel *r = &e->dynrels[i];
		switch (kind) {
		case SUT_ELF_TLS_GD_PAIR: {
			if (r->type != R_X86_64_DTPMOD64 || !name || !named(e, r->sym, name))
				continue;
			const struct sut_elf_dynrel *o = dynrel_at(e, r->offset + 8);
			if (!o || o->type != R_X86_64_DTPOFF64 || o->sym != r->sym || o->addend)
				continue;
			break;
		}
		case SUT_ELF_TLS_TPOFF:
			if (r->type != R_X86_64_TPOFF64)
				continue;
			if (name ? !named(e, r->sym, name) || r->addend
				 : r->sym != 0 || (uint64_t)r->addend != offset)
				continue;
			break;
		case SUT_ELF_TLS_OWN_MODULE:
			if (r->type != R_X86_64_DTPMOD64 || r->sym != 0)
				continue;
			break;
		default:
			return 0;
		}
		*slot = r->offset;
		return 1;
	}
	return 0;
}
