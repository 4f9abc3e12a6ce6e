/* SPDX-License-Identifier: Apache-2.0 */
/* The writer: a validated model to a relocatable x86-64 ELF file (docs/patch-format.md).
 *
 * Invariant: deterministic. The same model gives the same bytes (no timestamps, no host
 * data, a fixed section order, relocations in a fixed order), because a patch's signature
 * is computed over these bytes re-made from the model (see patch/sign.h). */
#include "patch/patch.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patch/patch_format.h"
#include "util/buf.h"

/* A string table: offset 0 is the empty string, as ELF requires. */
static void strtab_init(struct sut_buf *b)
{
	sut_buf_append(b, "", 1);
}

static uint32_t strtab_add(struct sut_buf *b, const char *s)
{
	size_t off = b->len;
	sut_buf_append(b, s, strlen(s) + 1);
	return (uint32_t)off;
}

/* Offset of an optional string: 0 stands for NULL (validation forbids "" there). */
static uint32_t strtab_add_opt(struct sut_buf *b, const char *s)
{
	return s ? strtab_add(b, s) : 0;
}

static void meta_add(struct sut_buf *b, const char *key, const char *value)
{
	sut_buf_append(b, key, strlen(key));
	sut_buf_append(b, "=", 1);
	sut_buf_append(b, value, strlen(value) + 1);
}

/* Everything the ELF sections point at, built before libelf sees any of it so the buffers
 * stay put until elf_update() has copied them out. */
struct image {
	struct sut_buf shstr, symstr, str, meta, bind, funcs, preimage, sig;
	Elf64_Sym *syms;
	Elf64_Rela **rela; /* per carried section, NULL when it has none */
	size_t *nrela;
};

static void image_free(struct image *im, size_t nsections)
{
	sut_buf_free(&im->shstr);
	sut_buf_free(&im->symstr);
	sut_buf_free(&im->str);
	sut_buf_free(&im->meta);
	sut_buf_free(&im->bind);
	sut_buf_free(&im->funcs);
	sut_buf_free(&im->preimage);
	sut_buf_free(&im->sig);
	free(im->syms);
	for (size_t i = 0; i < nsections && im->rela; i++)
		free(im->rela[i]);
	free(im->rela);
	free(im->nrela);
}

static void build_meta(const struct sut_patch *p, struct sut_buf *m)
{
	char num[32], hex[2 * SUT_BUILD_ID_MAX + 1];
	snprintf(num, sizeof num, "%u", p->format);
	meta_add(m, "format", num);
	meta_add(m, "id", p->id);
	snprintf(num, sizeof num, "%u", p->version);
	meta_add(m, "version", num);
	sut_hex(p->build_id, p->build_id_len, hex);
	meta_add(m, "build-id", hex);
	if (p->target_name)
		meta_add(m, "target", p->target_name);
	if (p->pkg_source)
		meta_add(m, "source-package", p->pkg_source);
	if (p->pkg_version)
		meta_add(m, "source-version", p->pkg_version);
	if (p->pkg_binary)
		meta_add(m, "binary-package", p->pkg_binary);
	meta_add(m, "consistency", p->consistency == SUT_CONS_PER_CALL ? "per-call" : "strict");
	for (size_t i = 0; i < p->ncves; i++)
		meta_add(m, "cve", p->cves[i]);
	if (p->description)
		meta_add(m, "description", p->description);
}

static void build_symbols(const struct sut_patch *p, struct image *im)
{
	im->syms = sut_xcalloc(p->nsymbols + 1, sizeof *im->syms);
	for (size_t i = 0; i < p->nsymbols; i++) {
		const struct sut_patch_symbol *y = &p->symbols[i];
		Elf64_Sym *s = &im->syms[i + 1];
		bool local = y->kind == SUT_SYM_LOCAL;
		s->st_name = strtab_add(&im->symstr, y->name);
		/* All STB_GLOBAL so the ELF order can be the model order (sh_info = 1). */
		s->st_info = ELF64_ST_INFO(STB_GLOBAL, y->is_func ? STT_FUNC : STT_OBJECT);
		s->st_other = STV_DEFAULT;
		s->st_shndx = local ? (Elf64_Section)(y->section + 1) : SHN_UNDEF;
		s->st_value = local ? y->value : 0;
		s->st_size = y->size;

		uint8_t rec[SUT_BIND_SIZE];
		sut_put_u32(rec + 0, (uint32_t)(i + 1));
		sut_put_u32(rec + 4, (uint32_t)y->kind);
		sut_put_u64(rec + 8, y->value);
		sut_put_u64(rec + 16, y->size);
		sut_put_u32(rec + 24, strtab_add_opt(&im->str, y->version));
		sut_put_u32(rec + 28, y->is_func ? SUT_BIND_FLAG_FUNC : 0);
		sut_buf_append(&im->bind, rec, sizeof rec);
	}
}

/* Relocations grouped by section, model order kept within a section: one .rela section
 * per carried section, as a compiler would emit. */
static void build_relocs(const struct sut_patch *p, struct image *im)
{
	im->rela = sut_xcalloc(p->nsections, sizeof *im->rela);
	im->nrela = sut_xcalloc(p->nsections, sizeof *im->nrela);
	for (size_t i = 0; i < p->nrelocs; i++)
		im->nrela[p->relocs[i].section]++;
	for (size_t s = 0; s < p->nsections; s++) {
		if (im->nrela[s])
			im->rela[s] = sut_xcalloc(im->nrela[s], sizeof **im->rela);
		im->nrela[s] = 0;
	}
	for (size_t i = 0; i < p->nrelocs; i++) {
		const struct sut_patch_reloc *r = &p->relocs[i];
		Elf64_Rela *e = &im->rela[r->section][im->nrela[r->section]++];
		e->r_offset = r->offset;
		e->r_info = ELF64_R_INFO((uint64_t)r->symbol + 1, r->type);
		e->r_addend = r->addend;
	}
}

static void build_funcs(const struct sut_patch *p, struct image *im)
{
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		uint8_t rec[SUT_FUNC_SIZE];
		sut_put_u32(rec + 0, strtab_add(&im->str, f->name));
		sut_put_u32(rec + 4, strtab_add_opt(&im->str, f->file));
		sut_put_u32(rec + 8, f->replacement);
		sut_put_u32(rec + 12, strtab_add_opt(&im->str, f->reason));
		sut_put_u64(rec + 16, f->target_addr);
		sut_put_u64(rec + 24, f->target_size);
		sut_put_u32(rec + 32, (uint32_t)im->preimage.len);
		sut_put_u32(rec + 36, f->preimage_len);
		sut_buf_append(&im->funcs, rec, sizeof rec);
		sut_buf_append(&im->preimage, f->preimage, f->preimage_len);
	}
}

static void build_sig(const struct sut_patch *p, struct image *im)
{
	if (!p->sig)
		return;
	uint8_t hdr[SUT_SIG_HDR_SIZE];
	memcpy(hdr, p->sig_key_id, SUT_KEY_ID_LEN);
	sut_put_u32(hdr + 16, SUT_SIG_ALG_ED25519);
	sut_put_u32(hdr + 20, (uint32_t)p->sig_len);
	sut_buf_append(&im->sig, hdr, sizeof hdr);
	sut_buf_append(&im->sig, p->sig, p->sig_len);
}

/* Adds one section with a single data block. Returns its index, or 0 on libelf failure. */
static size_t add_scn(Elf *e, struct sut_buf *shstr, const char *name, uint32_t type,
		      uint64_t flags, uint64_t align, void *buf, size_t size, Elf_Type dtype,
		      uint64_t entsize)
{
	Elf_Scn *scn = elf_newscn(e);
	if (!scn)
		return 0;
	if (size) {
		Elf_Data *d = elf_newdata(scn);
		if (!d)
			return 0;
		d->d_buf = buf;
		d->d_size = size;
		d->d_type = dtype;
		d->d_align = align;
		d->d_version = EV_CURRENT;
	}
	GElf_Shdr sh;
	if (!gelf_getshdr(scn, &sh))
		return 0;
	sh.sh_name = strtab_add(shstr, name);
	sh.sh_type = type;
	sh.sh_flags = flags;
	sh.sh_addralign = align;
	sh.sh_entsize = entsize;
	if (type == SHT_NOBITS)
		sh.sh_size = size;
	if (!gelf_update_shdr(scn, &sh))
		return 0;
	return elf_ndxscn(scn);
}

static int set_link(Elf *e, size_t idx, uint32_t link, uint32_t info)
{
	Elf_Scn *scn = elf_getscn(e, idx);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return -1;
	sh.sh_link = link;
	sh.sh_info = info;
	return gelf_update_shdr(scn, &sh) ? 0 : -1;
}

static const uint64_t sec_flags[] = {
	[SUT_SEC_TEXT] = SHF_ALLOC | SHF_EXECINSTR,
	[SUT_SEC_RODATA] = SHF_ALLOC,
	[SUT_SEC_DATA] = SHF_ALLOC | SHF_WRITE,
	[SUT_SEC_BSS] = SHF_ALLOC | SHF_WRITE,
};

/* Lays the image out as ELF sections in the documented order; 0 or -1 (libelf error). */
static int emit(const struct sut_patch *p, struct image *im, Elf *e)
{
	Elf64_Ehdr *eh = elf64_newehdr(e);
	if (!eh)
		return -1;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh->e_type = ET_REL;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;

	/* Carried sections first: ELF index i + 1 is model section i. */
	for (size_t i = 0; i < p->nsections; i++) {
		const struct sut_patch_section *s = &p->sections[i];
		bool bss = s->kind == SUT_SEC_BSS;
		if (!add_scn(e, &im->shstr, s->name, bss ? SHT_NOBITS : SHT_PROGBITS,
			     sec_flags[s->kind], s->align, s->bytes, s->size, ELF_T_BYTE, 0))
			return -1;
	}
	size_t symtab = add_scn(e, &im->shstr, ".symtab", SHT_SYMTAB, 0, 8, im->syms,
				(p->nsymbols + 1) * sizeof(Elf64_Sym), ELF_T_SYM, sizeof(Elf64_Sym));
	size_t strtab = add_scn(e, &im->shstr, ".strtab", SHT_STRTAB, 0, 1, im->symstr.data,
				im->symstr.len, ELF_T_BYTE, 0);
	if (!symtab || !strtab || set_link(e, symtab, (uint32_t)strtab, 1))
		return -1;
	for (size_t i = 0; i < p->nsections; i++) {
		if (!im->nrela[i])
			continue;
		char *name = sut_xasprintf(".rela%s", p->sections[i].name);
		size_t idx = add_scn(e, &im->shstr, name, SHT_RELA, SHF_INFO_LINK, 8, im->rela[i],
				     im->nrela[i] * sizeof(Elf64_Rela), ELF_T_RELA, sizeof(Elf64_Rela));
		free(name);
		if (!idx || set_link(e, idx, (uint32_t)symtab, (uint32_t)(i + 1)))
			return -1;
	}
	struct {
		const char *name;
		struct sut_buf *b;
		uint64_t align, entsize;
	} own[] = {
		{SUT_SEC_META, &im->meta, 1, 0},
		{SUT_SEC_BIND, &im->bind, 8, SUT_BIND_SIZE},
		{SUT_SEC_FUNCS, &im->funcs, 8, SUT_FUNC_SIZE},
		{SUT_SEC_PREIMAGE, &im->preimage, 1, 0},
		{SUT_SEC_STR, &im->str, 1, 0},
		{SUT_SEC_SIG, &im->sig, 1, 0},
	};
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
		if (own[i].b == &im->sig && !p->sig)
			continue;
		if (!add_scn(e, &im->shstr, own[i].name, SHT_PROGBITS, 0, own[i].align, own[i].b->data,
			     own[i].b->len, ELF_T_BYTE, own[i].entsize))
			return -1;
	}
	/* .shstrtab last: its own name must be in it before its size is fixed. */
	Elf_Scn *scn = elf_newscn(e);
	GElf_Shdr sh;
	if (!scn || !gelf_getshdr(scn, &sh))
		return -1;
	sh.sh_name = strtab_add(&im->shstr, ".shstrtab");
	sh.sh_type = SHT_STRTAB;
	sh.sh_addralign = 1;
	Elf_Data *d = elf_newdata(scn);
	if (!d || !gelf_update_shdr(scn, &sh))
		return -1;
	d->d_buf = im->shstr.data;
	d->d_size = im->shstr.len;
	d->d_type = ELF_T_BYTE;
	d->d_align = 1;
	d->d_version = EV_CURRENT;
	eh = elf64_getehdr(e);
	if (!eh)
		return -1;
	eh->e_shstrndx = (Elf64_Half)elf_ndxscn(scn);
	return elf_update(e, ELF_C_WRITE) < 0 ? -1 : 0;
}

int sut_patch_write_mem(const struct sut_patch *p, uint8_t **data, size_t *len, struct sut_err *err)
{
	if (sut_patch_validate(p, err))
		return sut_err_wrap(err, "cannot write patch");
	if (elf_version(EV_CURRENT) == EV_NONE)
		return sut_errf(err, "libelf: %s", elf_errmsg(-1));

	struct image im = {0};
	strtab_init(&im.shstr);
	strtab_init(&im.symstr);
	strtab_init(&im.str);
	build_meta(p, &im.meta);
	build_symbols(p, &im);
	build_relocs(p, &im);
	build_funcs(p, &im);
	build_sig(p, &im);

	/* libelf writes only to a file descriptor; an anonymous memory file keeps this pure. */
	int rc = -1;
	int fd = memfd_create("suture-patch", MFD_CLOEXEC);
	if (fd < 0) {
		sut_errno(err, "cannot write patch: memfd_create");
		goto out;
	}
	Elf *e = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!e || emit(p, &im, e)) {
		sut_errf(err, "cannot write patch %s: libelf: %s", p->id, elf_errmsg(-1));
		if (e)
			elf_end(e);
		goto out;
	}
	elf_end(e);
	struct stat st;
	if (fstat(fd, &st)) {
		sut_errno(err, "cannot write patch: fstat");
		goto out;
	}
	uint8_t *buf = sut_xmalloc((size_t)st.st_size);
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		free(buf);
		sut_errno(err, "cannot write patch: read back");
		goto out;
	}
	*data = buf;
	*len = (size_t)st.st_size;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	image_free(&im, p->nsections);
	return rc;
}

int sut_patch_write_file(const struct sut_patch *p, const char *path, struct sut_err *err)
{
	uint8_t *data;
	size_t len;
	if (sut_patch_write_mem(p, &data, &len, err))
		return sut_err_wrap(err, "%s", path);
	int rc = sut_write_file(path, data, len, err);
	free(data);
	return rc;
}
