/* SPDX-License-Identifier: Apache-2.0 */
/* Opening an ELF file: validation of its layout, then each table extracted once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "elf/elf_internal.h"
#include "util/buf.h"

static pthread_once_t libelf_once = PTHREAD_ONCE_INIT;
static bool libelf_ok;

static void libelf_init(void)
{
	libelf_ok = elf_version(EV_CURRENT) != EV_NONE;
}

/* Every section with file contents and every segment must lie inside the file: libelf
 * checks some of this lazily, and a truncated file must be refused here, with a message,
 * rather than surprise a later query. */
static int check_layout(struct sut_elf *e, struct sut_err *err)
{
	size_t shnum, shstrndx, phnum;
	if (elf_getshdrnum(e->elf, &shnum) != 0)
		return sut_errf(err, "%s: cannot read the section count: %s", e->path, elf_errmsg(-1));
	if (elf_getphdrnum(e->elf, &phnum) != 0)
		return sut_errf(err, "%s: cannot read the program header count: %s", e->path,
				elf_errmsg(-1));
	if (shnum > 0 && elf_getshdrstrndx(e->elf, &shstrndx) != 0)
		return sut_errf(err, "%s: cannot find the section name table: %s", e->path,
				elf_errmsg(-1));
	/* libelf quietly reports no sections when the header table lies past the end of
	 * the image; the ELF header's own count says how many there must be. */
	size_t declared = e->ehdr.e_shnum;
	if (e->ehdr.e_shoff != 0) {
		if (e->ehdr.e_shentsize != sizeof(Elf64_Shdr) || e->ehdr.e_shoff > e->size ||
		    e->size - e->ehdr.e_shoff < sizeof(Elf64_Shdr))
			return sut_errf(err,
					"%s: section headers at offset 0x%llx lie past the end of the "
					"file (%zu bytes): truncated or corrupt",
					e->path, (unsigned long long)e->ehdr.e_shoff, e->size);
		if (declared == 0) { /* more than SHN_LORESERVE sections: count in entry 0 */
			Elf64_Shdr first;
			memcpy(&first, e->data + e->ehdr.e_shoff, sizeof first);
			declared = first.sh_size;
		}
		if ((e->size - e->ehdr.e_shoff) / sizeof(Elf64_Shdr) < declared)
			return sut_errf(err,
					"%s: %zu section headers at offset 0x%llx extend past the end "
					"of the file (%zu bytes): truncated or corrupt",
					e->path, declared, (unsigned long long)e->ehdr.e_shoff, e->size);
		if (shnum != declared)
			return sut_errf(err, "%s: libelf sees %zu sections where the header declares %zu",
					e->path, shnum, declared);
	}
	for (size_t i = 1; i < shnum; i++) {
		GElf_Shdr sh;
		Elf_Scn *scn = elf_getscn(e->elf, i);
		if (!scn || !gelf_getshdr(scn, &sh))
			return sut_errf(err, "%s: cannot read section header %zu: %s", e->path, i,
					elf_errmsg(-1));
		if (sh.sh_type == SHT_NOBITS || sh.sh_type == SHT_NULL)
			continue;
		if (sh.sh_offset > e->size || sh.sh_size > e->size - sh.sh_offset)
			return sut_errf(err,
					"%s: section %zu (offset 0x%llx, size 0x%llx) extends past the "
					"end of the file (%zu bytes): truncated or corrupt",
					e->path, i, (unsigned long long)sh.sh_offset,
					(unsigned long long)sh.sh_size, e->size);
	}
	if (e->ehdr.e_phnum != 0 &&
	    (e->ehdr.e_phentsize != sizeof(Elf64_Phdr) || e->ehdr.e_phoff > e->size ||
	     (e->size - e->ehdr.e_phoff) / sizeof(Elf64_Phdr) < phnum || phnum == 0))
		return sut_errf(err,
				"%s: program headers at offset 0x%llx extend past the end of the file "
				"(%zu bytes): truncated or corrupt",
				e->path, (unsigned long long)e->ehdr.e_phoff, e->size);
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e->elf, (int)i, &ph))
			return sut_errf(err, "%s: cannot read program header %zu: %s", e->path, i,
					elf_errmsg(-1));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE && ph.p_type != PT_DYNAMIC)
			continue;
		if (ph.p_offset > e->size || ph.p_filesz > e->size - ph.p_offset)
			return sut_errf(err,
					"%s: segment %zu (offset 0x%llx, size 0x%llx) extends past the "
					"end of the file (%zu bytes): truncated or corrupt",
					e->path, i, (unsigned long long)ph.p_offset,
					(unsigned long long)ph.p_filesz, e->size);
	}
	return 0;
}

/* Takes ownership of `owned` (may be NULL when the caller keeps the buffer). */
static int open_image(const uint8_t *data, size_t len, uint8_t *owned, const char *name,
		      struct sut_elf **out, struct sut_err *err)
{
	*out = NULL;
	pthread_once(&libelf_once, libelf_init);
	if (!libelf_ok) {
		free(owned);
		return sut_errf(err, "%s: libelf is too old for this program", name);
	}
	struct sut_elf *e = sut_xcalloc(1, sizeof *e);
	e->path = sut_xstrdup(name);
	e->owned = owned;
	e->data = data;
	e->size = len;

	/* Only native (64-bit little-endian) files: libelf then reads the image in place and
	 * never converts it, so a caller's const buffer stays untouched. */
	if (len < EI_NIDENT || memcmp(data, ELFMAG, SELFMAG) != 0) {
		sut_errf(err, "%s: not an ELF file", name);
		goto fail;
	}
	if (data[EI_CLASS] != ELFCLASS64 || data[EI_DATA] != ELFDATA2LSB) {
		sut_errf(err, "%s: not a 64-bit little-endian ELF file", name);
		goto fail;
	}
	e->elf = elf_memory((char *)data, len);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
		sut_errf(err, "%s: not a readable ELF file: %s", name, elf_errmsg(-1));
		goto fail;
	}
	if (!gelf_getehdr(e->elf, &e->ehdr)) {
		sut_errf(err, "%s: cannot read the ELF header: %s", name, elf_errmsg(-1));
		goto fail;
	}
	if (check_layout(e, err) < 0 || sut_elf_load_segments(e, err) < 0 ||
	    sut_elf_load_symbols(e, err) < 0 || sut_elf_load_dynamic(e, err) < 0 ||
	    sut_elf_load_tls(e, err) < 0 || sut_elf_load_build_id(e, err) < 0)
		goto fail;
	*out = e;
	return 0;
fail:
	sut_elf_close(e);
	return -1;
}

int sut_elf_open(const char *path, struct sut_elf **out, struct sut_err *err)
{
	uint8_t *data;
	size_t len;
	/* The whole file is read into memory: the parsed form must not change if the file
	 * on disk is replaced (upgrades) or vanishes (a process's map_files entry). */
	if (sut_read_file(path, &data, &len, err) < 0) {
		*out = NULL;
		return -1;
	}
	return open_image(data, len, data, path, out, err);
}

int sut_elf_open_mem(const void *data, size_t len, const char *name, struct sut_elf **out,
		     struct sut_err *err)
{
	return open_image(data, len, NULL, name ? name : "(memory)", out, err);
}

void sut_elf_close(struct sut_elf *e)
{
	if (!e)
		return;
	sut_elf_free_symbols(e);
	sut_elf_free_dynamic(e);
	free(e->loads);
	if (e->elf)
		elf_end(e->elf);
	free(e->owned);
	free(e->path);
	free(e);
}

const char *sut_elf_path(const struct sut_elf *e)
{
	return e->path;
}

Elf *sut_elf_handle(const struct sut_elf *e)
{
	return e->elf;
}

uint16_t sut_elf_type(const struct sut_elf *e)
{
	return e->ehdr.e_type;
}

Elf_Scn *sut_elf_find_section(const struct sut_elf *e, GElf_Word type)
{
	for (Elf_Scn *scn = elf_nextscn(e->elf, NULL); scn; scn = elf_nextscn(e->elf, scn)) {
		GElf_Shdr sh;
		if (gelf_getshdr(scn, &sh) && sh.sh_type == type)
			return scn;
	}
	return NULL;
}
