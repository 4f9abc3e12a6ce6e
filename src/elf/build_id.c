/* SPDX-License-Identifier: Apache-2.0 */
/* The GNU build-id: the identity of a target object (paths lie; build-ids do not). Read
 * from a file's notes, or from the first pages of an object as mapped in a process. */
#include <string.h>

#include "elf/elf_internal.h"

static const char gnu_name[] = "GNU"; /* the note owner, with its NUL: namesz 4 */

/* Looks through one block of notes already converted by libelf. */
static bool scan_notes(struct sut_elf *e, Elf_Data *d)
{
	size_t off = 0, next;
	GElf_Nhdr nh;
	size_t name_off, desc_off;
	while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
		const char *base = d->d_buf;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof gnu_name &&
		    memcmp(base + name_off, gnu_name, sizeof gnu_name) == 0 && nh.n_descsz > 0) {
			e->build_id = (const uint8_t *)base + desc_off;
			e->build_id_len = nh.n_descsz;
			return true;
		}
		off = next;
	}
	return false;
}

int sut_elf_load_build_id(struct sut_elf *e, struct sut_err *err)
{
	/* Sections first (present in relocatable objects, which have no segments), then
	 * PT_NOTE segments for files whose section headers were stripped. */
	for (Elf_Scn *scn = elf_nextscn(e->elf, NULL); scn; scn = elf_nextscn(e->elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (d && scan_notes(e, d))
			return 0;
	}
	size_t phnum;
	if (elf_getphdrnum(e->elf, &phnum) != 0)
		return 0;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		Elf_Data *d = elf_getdata_rawchunk(e->elf, (int64_t)ph.p_offset, ph.p_filesz,
						   ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		if (d && scan_notes(e, d))
			return 0;
	}
	(void)err; /* a missing build-id is not an error: callers decide what it means */
	return 0;
}

size_t sut_elf_build_id(const struct sut_elf *e, const uint8_t **id)
{
	*id = e->build_id;
	return e->build_id_len;
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Parses notes in image[start, end). Every offset is checked against end before use:
 * the image comes from another process and may be anything. */
static size_t notes_in_image(const uint8_t *image, size_t start, size_t end, size_t align,
			     uint8_t *out, size_t cap)
{
	size_t off = start;
	while (off <= end && end - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, image + off, sizeof nh);
		size_t name_off = off + sizeof nh;
		if (nh.n_namesz > end - name_off)
			return 0;
		size_t desc_off = align_up(name_off + nh.n_namesz, align);
		if (desc_off > end || nh.n_descsz > end - desc_off)
			return 0;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof gnu_name &&
		    memcmp(image + name_off, gnu_name, sizeof gnu_name) == 0) {
			if (nh.n_descsz == 0 || nh.n_descsz > cap)
				return 0;
			memcpy(out, image + desc_off, nh.n_descsz);
			return nh.n_descsz;
		}
		off = align_up(desc_off + nh.n_descsz, align);
	}
	return 0;
}

size_t sut_elf_build_id_from_image(const uint8_t *image, size_t len, uint8_t *out, size_t cap)
{
	Elf64_Ehdr eh;
	if (!image || len < sizeof eh)
		return 0;
	memcpy(&eh, image, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr))
		return 0;
	if (eh.e_phoff > len || (len - eh.e_phoff) / sizeof(Elf64_Phdr) < eh.e_phnum)
		return 0;
	for (size_t i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, image + eh.e_phoff + i * sizeof ph, sizeof ph);
		if (ph.p_type != PT_NOTE || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			continue;
		size_t n = notes_in_image(image, ph.p_offset, ph.p_offset + ph.p_filesz,
					  ph.p_align == 8 ? 8 : 4, out, cap);
		if (n)
			return n;
	}
	return 0;
}
