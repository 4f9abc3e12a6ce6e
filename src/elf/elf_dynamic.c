/* SPDX-License-Identifier: Apache-2.0 */
/* What the dynamic linker sees: .dynsym with symbol versions (.gnu.version,
 * .gnu.version_d, .gnu.version_r) and the dynamic relocations that fill GOT slots.
 *
 * Patch code binds to other objects the way the dynamic linker would, so a lookup must
 * honour versions: libc exports two `memcpy`, and an unversioned reference means the
 * default (non-hidden) one. */
#include <stdlib.h>
#include <string.h>

#include "elf/elf_internal.h"
#include "util/buf.h"

#define VERSYM_HIDDEN 0x8000
#define VERSYM_INDEX 0x7fff

/* Records name as the version of index ndx in a table grown on demand. */
static void set_version_name(const char ***names, size_t *n, size_t ndx, const char *name)
{
	if (ndx >= *n) {
		size_t grow = ndx + 1;
		*names = sut_xrealloc(*names, grow * sizeof **names);
		memset(*names + *n, 0, (grow - *n) * sizeof **names);
		*n = grow;
	}
	(*names)[ndx] = name;
}

static int load_versym(struct sut_elf *e, struct sut_err *err)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_GNU_versym);
	if (!scn)
		return 0;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d)
		return sut_errf(err, "%s: cannot read .gnu.version: %s", e->path, elf_errmsg(-1));
	if (d->d_size / sizeof(GElf_Versym) < e->ndynsyms)
		return sut_errf(err, "%s: .gnu.version has %zu entries for %zu dynamic symbols",
				e->path, d->d_size / sizeof(GElf_Versym), e->ndynsyms);
	e->versym = sut_xcalloc(e->ndynsyms ? e->ndynsyms : 1, sizeof *e->versym);
	for (size_t i = 0; i < e->ndynsyms; i++) {
		GElf_Versym v;
		if (!gelf_getversym(d, (int)i, &v))
			return sut_errf(err, "%s: cannot read .gnu.version entry %zu: %s", e->path, i,
					elf_errmsg(-1));
		e->versym[i] = v;
	}
	return 0;
}

/* Version definitions: index (vd_ndx) -> name of the first auxiliary entry. Offsets only
 * grow along the chains, so a corrupt file cannot loop; libelf bounds each entry. */
static int load_verdef(struct sut_elf *e, struct sut_err *err)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_GNU_verdef);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return 0;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d)
		return sut_errf(err, "%s: cannot read .gnu.version_d: %s", e->path, elf_errmsg(-1));
	size_t off = 0;
	for (size_t k = 0; k < sh.sh_info; k++) {
		GElf_Verdef vd;
		GElf_Verdaux va;
		const char *name;
		if (!gelf_getverdef(d, (int)off, &vd) || !gelf_getverdaux(d, (int)(off + vd.vd_aux), &va) ||
		    !(name = elf_strptr(e->elf, sh.sh_link, va.vda_name)))
			return sut_errf(err, "%s: .gnu.version_d entry %zu is corrupt", e->path, k);
		set_version_name(&e->verdef_names, &e->nverdef_names, vd.vd_ndx & VERSYM_INDEX,
				 name);
		if (vd.vd_next == 0)
			break;
		off += vd.vd_next;
	}
	return 0;
}

/* Version requirements: index (vna_other) -> required version name. */
static int load_verneed(struct sut_elf *e, struct sut_err *err)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_GNU_verneed);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return 0;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d)
		return sut_errf(err, "%s: cannot read .gnu.version_r: %s", e->path, elf_errmsg(-1));
	size_t off = 0;
	for (size_t k = 0; k < sh.sh_info; k++) {
		GElf_Verneed vn;
		if (!gelf_getverneed(d, (int)off, &vn))
			return sut_errf(err, "%s: .gnu.version_r entry %zu is corrupt", e->path, k);
		size_t aoff = off + vn.vn_aux;
		for (size_t j = 0; j < vn.vn_cnt; j++) {
			GElf_Vernaux va;
			const char *name;
			if (!gelf_getvernaux(d, (int)aoff, &va) ||
			    !(name = elf_strptr(e->elf, sh.sh_link, va.vna_name)))
				return sut_errf(err, "%s: .gnu.version_r entry %zu is corrupt",
						e->path, k);
			set_version_name(&e->verneed_names, &e->nverneed_names,
					 va.vna_other & VERSYM_INDEX, name);
			if (va.vna_next == 0)
				break;
			aoff += va.vna_next;
		}
		if (vn.vn_next == 0)
			break;
		off += vn.vn_next;
	}
	return 0;
}

/* Is vaddr inside PT_GNU_RELRO (read-only once relocated)? An absolute relocation there is
 * a pointer the program can no longer change, so it still holds the symbol's address when
 * suture reads it; one in writable data may have been overwritten since. */
static bool in_relro(const struct sut_elf *e, uint64_t vaddr)
{
	size_t n;
	if (elf_getphdrnum(e->elf, &n) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(e->elf, (int)i, &ph) && ph.p_type == PT_GNU_RELRO &&
		    vaddr >= ph.p_vaddr && vaddr + 8 <= ph.p_vaddr + ph.p_memsz)
			return true;
	}
	return false;
}

/* The slot the dynamic linker fills with a symbol's address. A GLOB_DAT or absolute
 * slot is preferred to a JUMP_SLOT: it is resolved at load time even under lazy binding,
 * when a JUMP_SLOT still points back into the PLT. */
static void note_slot(struct sut_elf *e, uint32_t symi, uint64_t slot, bool is_jump_slot,
		      bool *jump)
{
	if (e->got_slots[symi] == 0 || (jump[symi] && !is_jump_slot)) {
		e->got_slots[symi] = slot;
		jump[symi] = is_jump_slot;
	}
}

static void note_dynrel(struct sut_elf *e, const GElf_Rela *r, uint32_t type, uint32_t symi)
{
	e->dynrels = sut_xrealloc(e->dynrels, (e->ndynrels + 1) * sizeof *e->dynrels);
	e->dynrels[e->ndynrels++] = (struct sut_elf_dynrel){ .offset = r->r_offset,
							     .addend = r->r_addend,
							     .type = type, .sym = symi };
}

static int load_got_slots(struct sut_elf *e, size_t dynsym_ndx, struct sut_err *err)
{
	e->got_slots = sut_xcalloc(e->ndynsyms ? e->ndynsyms : 1, sizeof *e->got_slots);
	bool *jump = sut_xcalloc(e->ndynsyms ? e->ndynsyms : 1, sizeof *jump);
	for (Elf_Scn *scn = elf_nextscn(e->elf, NULL); scn; scn = elf_nextscn(e->elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		/* dynamic relocations: those against .dynsym (some linkers leave sh_link 0
		 * on .rela.dyn; an allocated RELA section is dynamic all the same) */
		if (sh.sh_link != dynsym_ndx && !(sh.sh_link == 0 && (sh.sh_flags & SHF_ALLOC)))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d) {
			free(jump);
			return sut_errf(err, "%s: cannot read relocation section %zu: %s", e->path,
					elf_ndxscn(scn), elf_errmsg(-1));
		}
		size_t n = d->d_size / gelf_fsize(e->elf, ELF_T_RELA, 1, EV_CURRENT);
		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			if (!gelf_getrela(d, (int)i, &r))
				break;
			uint32_t type = GELF_R_TYPE(r.r_info), symi = GELF_R_SYM(r.r_info);
			if (symi >= e->ndynsyms)
				continue;
			if (type == R_X86_64_IRELATIVE || type == R_X86_64_DTPMOD64 ||
			    type == R_X86_64_DTPOFF64 || type == R_X86_64_TPOFF64) {
				note_dynrel(e, &r, type, symi);
				continue;
			}
			if (symi == 0)
				continue;
			/* an absolute relocation with an addend holds sym+addend, not the
			 * symbol's address */
			if (type == R_X86_64_GLOB_DAT ||
			    (type == R_X86_64_64 && r.r_addend == 0 && in_relro(e, r.r_offset)))
				note_slot(e, symi, r.r_offset, false, jump);
			else if (type == R_X86_64_JUMP_SLOT)
				note_slot(e, symi, r.r_offset, true, jump);
		}
	}
	free(jump);
	return 0;
}

int sut_elf_load_dynamic(struct sut_elf *e, struct sut_err *err)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_DYNSYM);
	if (!scn)
		return 0;
	if (sut_elf_read_symtab(e, scn, true, &e->dynsyms, &e->ndynsyms, err) < 0)
		return -1;
	sut_name_index_build(&e->dyn_index, e->dynsyms, e->ndynsyms);
	if (load_versym(e, err) < 0 || load_verdef(e, err) < 0 || load_verneed(e, err) < 0 ||
	    load_got_slots(e, elf_ndxscn(scn), err) < 0)
		return -1;
	return 0;
}

void sut_elf_free_dynamic(struct sut_elf *e)
{
	free(e->dynsyms);
	sut_name_index_free(&e->dyn_index);
	free(e->versym);
	free(e->verdef_names);
	free(e->verneed_names);
	free(e->got_slots);
	free(e->dynrels);
}

int sut_elf_got_slot(const struct sut_elf *e, const char *name, uint64_t *slot)
{
	for (uint32_t i = sut_name_index_first(&e->dyn_index, e->dynsyms, name);
	     i != SUT_NAME_NONE; i = sut_name_index_next(&e->dyn_index, i)) {
		if (e->got_slots[i] && strcmp(e->dynsyms[i].name, name) == 0) {
			*slot = e->got_slots[i];
			return 1;
		}
	}
	return 0;
}

static const char *verdef_name(const struct sut_elf *e, uint16_t ndx)
{
	return ndx < e->nverdef_names ? e->verdef_names[ndx] : NULL;
}

int sut_elf_find_dynsym(const struct sut_elf *e, const char *name, const char *version,
			uint64_t *value, uint8_t *type)
{
	const struct sut_sym *found = NULL;
	for (uint32_t i = sut_name_index_first(&e->dyn_index, e->dynsyms, name);
	     i != SUT_NAME_NONE; i = sut_name_index_next(&e->dyn_index, i)) {
		const struct sut_sym *s = &e->dynsyms[i];
		if (!sut_sym_is_definition(s) || strcmp(s->name, name) != 0 ||
		    (s->bind != STB_GLOBAL && s->bind != STB_WEAK && s->bind != STB_GNU_UNIQUE))
			continue;
		if (e->versym) {
			uint16_t v = e->versym[i], ndx = v & VERSYM_INDEX;
			if (ndx == VER_NDX_LOCAL)
				continue; /* not exported */
			if (version) {
				/* As the dynamic linker's check_match: the exact version (hidden
				 * or not), or an unversioned (index 0/1), non-hidden definition. */
				const char *vn = ndx >= 2 ? verdef_name(e, ndx) : NULL;
				bool exact = vn && strcmp(vn, version) == 0;
				if (!exact && (ndx >= 2 || (v & VERSYM_HIDDEN)))
					continue;
			} else if (v & VERSYM_HIDDEN) {
				continue; /* only reachable by naming its version */
			}
		}
		/* a file without version information satisfies any versioned reference (an
		 * unversioned interposer preloaded in front of libc, for instance) */
		/* the dynamic linker takes a strong definition over a weak one */
		if (!found || (found->bind == STB_WEAK && s->bind != STB_WEAK))
			found = s;
	}
	if (!found)
		return 0;
	if (value)
		*value = found->value;
	if (type)
		*type = found->type;
	return 1;
}

const char *sut_elf_needed_version(const struct sut_elf *e, const char *name)
{
	if (!e->versym)
		return NULL;
	for (uint32_t i = sut_name_index_first(&e->dyn_index, e->dynsyms, name);
	     i != SUT_NAME_NONE; i = sut_name_index_next(&e->dyn_index, i)) {
		const struct sut_sym *s = &e->dynsyms[i];
		if (s->shndx != SHN_UNDEF || strcmp(s->name, name) != 0)
			continue;
		uint16_t ndx = e->versym[i] & VERSYM_INDEX;
		if (ndx >= 2 && ndx < e->nverneed_names && e->verneed_names[ndx])
			return e->verneed_names[ndx];
	}
	return NULL;
}

int sut_elf_irelative_slot(const struct sut_elf *e, uint64_t resolver, uint64_t *slot)
{
	for (size_t i = 0; i < e->ndynrels; i++) {
		const struct sut_elf_dynrel *r = &e->dynrels[i];
		if (r->type == R_X86_64_IRELATIVE && r->sym == 0 && (uint64_t)r->addend == resolver) {
			*slot = r->offset;
			return 1;
		}
	}
	return 0;
}
