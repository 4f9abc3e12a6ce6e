/* SPDX-License-Identifier: Apache-2.0 */
/* Where an object's own code first runs when the dynamic linker loads it: its first
 * initialiser (DT_INIT, else the first DT_INIT_ARRAY entry; ld.so calls DT_INIT before
 * the array), and its IFUNC resolvers (run earlier, while it relocates). */
#include <string.h>

#include "elf/elf_internal.h"

/* The PT_LOAD segment holding vaddr in its file part, executable. */
static const GElf_Phdr *exec_segment(const struct sut_elf *e, uint64_t vaddr)
{
	for (size_t i = 0; i < e->nloads; i++) {
		const GElf_Phdr *ph = &e->loads[i];
		if (vaddr >= ph->p_vaddr && vaddr - ph->p_vaddr < ph->p_filesz)
			return (ph->p_flags & PF_X) ? ph : NULL;
	}
	return NULL;
}

/* The value the dynamic linker stores at vaddr (an DT_INIT_ARRAY slot): the addend of
 * the R_X86_64_RELATIVE relocation of that slot, else the file's bytes there. */
static int slot_value(const struct sut_elf *e, uint64_t vaddr, uint64_t *out, struct sut_err *err)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e->elf, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !(sh.sh_flags & SHF_ALLOC))
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d || sh.sh_entsize != sizeof(Elf64_Rela))
			continue;
		size_t n = d->d_size / sizeof(Elf64_Rela);
		for (size_t i = 0; i < n; i++) {
			GElf_Rela r;
			if (!gelf_getrela(d, (int)i, &r))
				break;
			if (r.r_offset == vaddr) {
				if (GELF_R_TYPE(r.r_info) != R_X86_64_RELATIVE)
					return sut_errf(err, "%s: the first DT_INIT_ARRAY slot has a "
							"relocation of type %u, not RELATIVE",
							e->path, (unsigned)GELF_R_TYPE(r.r_info));
				*out = (uint64_t)r.r_addend;
				return 0;
			}
		}
	}
	return sut_elf_read_vaddr(e, vaddr, out, sizeof *out, err);
}

int sut_elf_first_init(const struct sut_elf *e, uint64_t *vaddr, uint64_t *file_off,
		       struct sut_err *err)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_DYNAMIC);
	if (!scn)
		return sut_errf(err, "%s: no dynamic section", e->path);
	GElf_Shdr sh;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!gelf_getshdr(scn, &sh) || !d || sh.sh_entsize != sizeof(Elf64_Dyn))
		return sut_errf(err, "%s: unreadable dynamic section", e->path);
	uint64_t init = 0, arr = 0, arrsz = 0;
	bool has_init = false, has_arr = false;
	size_t n = d->d_size / sizeof(Elf64_Dyn);
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn dyn;
		if (!gelf_getdyn(d, (int)i, &dyn) || dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_INIT) {
			init = dyn.d_un.d_ptr;
			has_init = true;
		} else if (dyn.d_tag == DT_INIT_ARRAY) {
			arr = dyn.d_un.d_ptr;
			has_arr = true;
		} else if (dyn.d_tag == DT_INIT_ARRAYSZ) {
			arrsz = dyn.d_un.d_val;
		}
	}
	if (!has_init) {
		if (!has_arr || arrsz < 8)
			return sut_errf(err, "%s: no initialiser (neither DT_INIT nor DT_INIT_ARRAY)",
					e->path);
		if (slot_value(e, arr, &init, err) < 0)
			return -1;
	}
	const GElf_Phdr *ph = exec_segment(e, init);
	if (!ph)
		return sut_errf(err, "%s: its first initialiser 0x%llx is not in an executable "
				"segment of the file", e->path, (unsigned long long)init);
	*vaddr = init;
	*file_off = init - ph->p_vaddr + ph->p_offset;
	return 0;
}

size_t sut_elf_count_ifuncs(const struct sut_elf *e)
{
	size_t n = 0;
	for (size_t i = 0; i < e->ndynsyms; i++)
		if (e->dynsyms[i].type == STT_GNU_IFUNC && e->dynsyms[i].shndx != SHN_UNDEF)
			n++;
	for (size_t i = 0; i < e->ndynrels; i++)
		if (e->dynrels[i].type == R_X86_64_IRELATIVE)
			n++;
	return n;
}
