/* SPDX-License-Identifier: Apache-2.0 */
/* A relocatable object (ET_REL) read into plain arrays: sections with their relocations,
 * symbols, and the STT_FILE name that scopes the object's static symbols. The comparison
 * and the emitter work on this model, never on libelf directly. */
#include "build/build_internal.h"

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"

static int cmp_rela(const void *a, const void *b)
{
	const struct bld_rela *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int read_sections(struct bld_obj *o, Elf *elf, size_t shstrndx, struct sut_err *err)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		size_t i = elf_ndxscn(scn);
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			return sut_errf(err, "%s: section %zu: %s", o->path, i, elf_errmsg(-1));
		struct bld_sec *s = &o->secs[i];
		s->name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!s->name)
			s->name = "";
		s->type = sh.sh_type;
		s->flags = sh.sh_flags;
		s->size = sh.sh_size;
		s->align = sh.sh_addralign ? sh.sh_addralign : 1;
		s->entsize = sh.sh_entsize;
		if (sh.sh_type != SHT_NOBITS && sh.sh_size) {
			Elf_Data *d = elf_getdata(scn, NULL);
			if (!d || d->d_size < sh.sh_size)
				return sut_errf(err, "%s: section %s: cannot read its bytes", o->path, s->name);
			s->data = d->d_buf;
		}
	}
	/* Relocations second, so every target section is known. */
	scn = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type == SHT_REL)
			return sut_errf(err, "%s: SHT_REL relocations are not x86-64 objects", o->path);
		if (sh.sh_type != SHT_RELA || sh.sh_info >= o->nsecs || !sh.sh_entsize)
			continue;
		struct bld_sec *t = &o->secs[sh.sh_info];
		Elf_Data *d = elf_getdata(scn, NULL);
		size_t n = d ? d->d_size / sizeof(Elf64_Rela) : 0;
		t->relas = sut_xcalloc(n, sizeof *t->relas);
		for (size_t k = 0; k < n; k++) {
			GElf_Rela r;
			if (!gelf_getrela(d, (int)k, &r))
				return sut_errf(err, "%s: relocation %zu of %s unreadable", o->path, k, t->name);
			t->relas[k] = (struct bld_rela){ r.r_offset, (uint32_t)GELF_R_TYPE(r.r_info),
							 (uint32_t)GELF_R_SYM(r.r_info), r.r_addend };
		}
		t->nrelas = n;
		qsort(t->relas, n, sizeof *t->relas, cmp_rela);
	}
	return 0;
}

static int read_symbols(struct bld_obj *o, Elf *elf, struct sut_err *err)
{
	Elf_Scn *scn = NULL, *symscn = NULL;
	Elf_Data *xdata = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type == SHT_SYMTAB)
			symscn = scn;
		else if (sh.sh_type == SHT_SYMTAB_SHNDX)
			xdata = elf_getdata(scn, NULL);
	}
	if (!symscn)
		return sut_errf(err, "%s: no symbol table", o->path);
	GElf_Shdr sh;
	gelf_getshdr(symscn, &sh);
	Elf_Data *d = elf_getdata(symscn, NULL);
	size_t n = d && sh.sh_entsize ? d->d_size / sh.sh_entsize : 0;
	o->syms = sut_xcalloc(n, sizeof *o->syms);
	o->nsyms = n;
	o->file = "";
	for (size_t i = 0; i < n; i++) {
		GElf_Sym s;
		Elf32_Word xndx = 0;
		if (!gelf_getsymshndx(d, xdata, (int)i, &s, &xndx))
			return sut_errf(err, "%s: symbol %zu unreadable", o->path, i);
		struct bld_sym *y = &o->syms[i];
		y->name = elf_strptr(elf, sh.sh_link, s.st_name);
		if (!y->name)
			y->name = "";
		y->type = GELF_ST_TYPE(s.st_info);
		y->bind = GELF_ST_BIND(s.st_info);
		y->vis = GELF_ST_VISIBILITY(s.st_other);
		y->shndx = s.st_shndx == SHN_XINDEX ? xndx : s.st_shndx;
		if (s.st_shndx >= SHN_LORESERVE && s.st_shndx != SHN_XINDEX)
			y->shndx = s.st_shndx; /* SHN_ABS, SHN_COMMON: never a section index */
		y->value = s.st_value;
		y->size = s.st_size;
		if (y->type == STT_FILE && !o->file[0])
			o->file = y->name;
	}
	return 0;
}

int bld_obj_open(const char *path, struct bld_obj **out, struct sut_err *err)
{
	elf_version(EV_CURRENT);
	struct bld_obj *o = sut_xcalloc(1, sizeof *o);
	o->path = sut_xstrdup(path);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0) {
		sut_errno(err, "%s", path);
		bld_obj_close(o);
		return -1;
	}
	Elf *elf = elf_begin(o->fd, ELF_C_READ_MMAP, NULL);
	o->elf = elf;
	GElf_Ehdr eh;
	size_t shstrndx, nsecs;
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		sut_errf(err, "%s: not an ELF file", path);
		goto fail;
	}
	if (eh.e_type != ET_REL || eh.e_machine != EM_X86_64) {
		sut_errf(err, "%s: not an x86-64 relocatable object", path);
		goto fail;
	}
	if (elf_getshdrstrndx(elf, &shstrndx) || elf_getshdrnum(elf, &nsecs)) {
		sut_errf(err, "%s: %s", path, elf_errmsg(-1));
		goto fail;
	}
	o->nsecs = nsecs;
	o->secs = sut_xcalloc(nsecs, sizeof *o->secs);
	o->secs[0].name = "";
	if (read_sections(o, elf, shstrndx, err) || read_symbols(o, elf, err))
		goto fail;
	*out = o;
	return 0;
fail:
	bld_obj_close(o);
	return -1;
}

void bld_obj_close(struct bld_obj *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nsecs; i++)
		free(o->secs[i].relas);
	free(o->secs);
	free(o->syms);
	if (o->elf)
		elf_end(o->elf);
	if (o->fd >= 0)
		close(o->fd);
	free(o->path);
	free(o);
}

static bool defined_in_section(const struct bld_obj *o, size_t i)
{
	const struct bld_sym *s = &o->syms[i];
	return s->shndx != SHN_UNDEF && s->shndx < o->nsecs && s->name[0];
}

bool bld_sym_is_func(const struct bld_obj *o, size_t i)
{
	return o->syms[i].type == STT_FUNC && defined_in_section(o, i) &&
	       (o->secs[o->syms[i].shndx].flags & SHF_EXECINSTR);
}

bool bld_sym_is_object(const struct bld_obj *o, size_t i)
{
	return o->syms[i].type == STT_OBJECT && defined_in_section(o, i) &&
	       (o->secs[o->syms[i].shndx].flags & SHF_ALLOC);
}

bool bld_sec_is_relro(const struct bld_sec *s)
{
	return !strcmp(s->name, ".data.rel.ro") || !strncmp(s->name, ".data.rel.ro.", 13);
}

bool bld_sym_is_writable(const struct bld_obj *o, size_t i)
{
	if (!bld_sym_is_object(o, i))
		return false;
	const struct bld_sec *s = &o->secs[o->syms[i].shndx];
	return (s->flags & SHF_WRITE) && !bld_sec_is_relro(s);
}

long bld_cold_parent(const struct bld_obj *o, size_t i)
{
	const char *n = o->syms[i].name;
	size_t l = strlen(n);
	if (l <= 5 || strcmp(n + l - 5, ".cold"))
		return -1;
	for (size_t k = 0; k < o->nsyms; k++)
		if (k != i && bld_sym_is_func(o, k) && strlen(o->syms[k].name) == l - 5 &&
		    !strncmp(o->syms[k].name, n, l - 5))
			return (long)k;
	return -1;
}

static bool pc_relative(uint32_t type)
{
	const struct sut_reloc_type *t = sut_reloc_type(type);
	return t && t->pcrel;
}

/* The string (SHF_STRINGS) or fixed-size constant of a mergeable section holding `at`. */
static void merge_item(const struct bld_sec *s, uint64_t at, uint64_t *start, uint64_t *len)
{
	if (at >= s->size || !s->data) {
		*start = at < s->size ? at : s->size;
		*len = 0;
		return;
	}
	if (!(s->flags & SHF_STRINGS)) {
		uint64_t es = s->entsize ? s->entsize : 1;
		*start = at / es * es;
		*len = es;
		if (*start + *len > s->size)
			*len = s->size - *start;
		return;
	}
	uint64_t es = s->entsize ? s->entsize : 1, b = at / es * es;
	/* back to the byte after the previous terminator, forward to this one's */
	while (b >= es) {
		bool nul = true;
		for (uint64_t k = 0; k < es; k++)
			nul &= s->data[b - es + k] == 0;
		if (nul)
			break;
		b -= es;
	}
	uint64_t e = at / es * es;
	while (e + es <= s->size) {
		bool nul = true;
		for (uint64_t k = 0; k < es; k++)
			nul &= s->data[e + k] == 0;
		e += es;
		if (nul)
			break;
	}
	*start = b;
	*len = e - b;
}

/* The function or object of section sec that covers offset at (or, failing that, the one
 * symbol starting the section), or -1. */
static long covering_symbol(const struct bld_obj *o, uint32_t sec, uint64_t at)
{
	long first = -1;
	for (size_t i = 0; i < o->nsyms; i++) {
		const struct bld_sym *s = &o->syms[i];
		if (s->shndx != sec || (s->type != STT_FUNC && s->type != STT_OBJECT) || !s->name[0])
			continue;
		if (at >= s->value && at < s->value + s->size)
			return (long)i;
		if (s->value == 0 && first < 0)
			first = (long)i;
	}
	return first;
}

/* Local labels (".LC0", ".L5") are assembler artefacts whose numbers change with any edit;
 * they are compared by what they point at, like section symbols. */
static bool anonymous_symbol(const struct bld_sym *s)
{
	return s->type == STT_SECTION || !s->name[0] || !strncmp(s->name, ".L", 2);
}

void bld_resolve_ref(const struct bld_obj *o, const struct bld_rela *r, struct bld_ref *ref)
{
	memset(ref, 0, sizeof *ref);
	const struct bld_sym *s = r->sym < o->nsyms ? &o->syms[r->sym] : &o->syms[0];
	if (!anonymous_symbol(s) || s->shndx == SHN_UNDEF || s->shndx >= o->nsecs) {
		ref->kind = BLD_REF_SYM;
		ref->sym = r->sym;
		ref->delta = r->addend;
		return;
	}
	const struct bld_sec *sec = &o->secs[s->shndx];
	int64_t base = (int64_t)s->value + r->addend;
	/* A PC-relative field's addend is the target minus the distance to the next
	 * instruction (usually 4): the datum it designates is at base + 4. */
	uint64_t at = (uint64_t)(base + (pc_relative(r->type) ? 4 : 0));
	ref->sec = s->shndx;
	if (sec->flags & SHF_MERGE) {
		ref->kind = BLD_REF_MERGE;
		merge_item(sec, at, &ref->start, &ref->len);
		ref->delta = base - (int64_t)ref->start;
		return;
	}
	long c = covering_symbol(o, s->shndx, at);
	if (c >= 0) {
		ref->kind = BLD_REF_SYM;
		ref->sym = (uint32_t)c;
		ref->delta = base - (int64_t)o->syms[c].value;
		return;
	}
	ref->kind = BLD_REF_ANON;
	ref->delta = base;
}
