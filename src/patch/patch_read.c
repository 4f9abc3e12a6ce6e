/* SPDX-License-Identifier: Apache-2.0 */
/* The reader: untrusted bytes to a validated model (docs/patch-format.md).
 *
 * Invariants: a corrupt file never crashes the reader and never makes it read outside
 * the buffer. Every offset, size, index and string is checked before it is used: the ELF
 * and section headers are bounds-checked before libelf is asked for any data, strings
 * must be NUL-terminated inside their table, record sections must hold a whole number of
 * records. The finished model then passes sut_patch_validate() before it is returned; on
 * any failure nothing leaks and *out is untouched. */
#include "patch/patch.h"

#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch/patch_format.h"
#include "util/buf.h"

/* One section of the file as the reader sees it. */
struct rsec {
	GElf_Shdr sh;
	const char *name;
	long carried; /* model section index, or -1 */
	const uint8_t *bytes; /* file contents (NULL for SHT_NOBITS) */
};

struct reader {
	uint8_t *img; /* private copy: libelf may touch the image it is given */
	size_t len;
	Elf *elf;
	size_t shnum;
	struct rsec *sec;
	size_t meta, bind, funcs, preimage, str, sig, symtab; /* section indices, 0 = absent */
	unsigned meta_seen; /* META_* bits: keys whose model field cannot tell "unset" apart */
	struct sut_err *err;
};

static int corrupt(struct reader *r, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int corrupt(struct reader *r, const char *where, const char *fmt, ...)
{
	char msg[SUT_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return sut_errf(r->err, "corrupt patch: %s: %s", where, msg);
}

/* The string at `off` of a table, if it is NUL-terminated inside the table. */
static const char *str_at(const uint8_t *t, size_t n, uint64_t off)
{
	if (!t || off >= n || !memchr(t + off, 0, n - off))
		return NULL;
	return (const char *)t + off;
}

/* ---- ELF container ---------------------------------------------------------------- */

static int check_ehdr(struct reader *r)
{
	if (r->len < EI_NIDENT || memcmp(r->img, ELFMAG, SELFMAG) != 0)
		return sut_errf(r->err, "not an ELF file");
	if (r->img[EI_CLASS] != ELFCLASS64 || r->img[EI_DATA] != ELFDATA2LSB)
		return sut_errf(r->err, "not a suture patch: not a 64-bit little-endian ELF file");
	Elf64_Ehdr eh;
	if (r->len < sizeof eh)
		return corrupt(r, "ELF header", "file of %zu bytes is shorter than the header", r->len);
	memcpy(&eh, r->img, sizeof eh);
	if (eh.e_type != ET_REL || eh.e_machine != EM_X86_64)
		return sut_errf(r->err, "not a suture patch: ELF type %u, machine %u (expected a relocatable x86-64 file)",
				eh.e_type, eh.e_machine);
	if (eh.e_shnum == 0 || eh.e_shnum >= SHN_LORESERVE)
		return sut_errf(r->err, "not a suture patch: no .suture.meta section");
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > r->len ||
	    (r->len - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
		return corrupt(r, "ELF header", "section header table (offset %#llx, %u entries) outside the file of %#zx bytes",
			       (unsigned long long)eh.e_shoff, eh.e_shnum, r->len);
	if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum)
		return corrupt(r, "ELF header", "section name table index %u out of range", eh.e_shstrndx);
	return 0;
}

static int load_sections(struct reader *r)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return sut_errf(r->err, "libelf: %s", elf_errmsg(-1));
	r->elf = elf_memory((char *)r->img, r->len);
	size_t strndx;
	if (!r->elf || elf_kind(r->elf) != ELF_K_ELF || elf_getshdrnum(r->elf, &r->shnum) ||
	    elf_getshdrstrndx(r->elf, &strndx))
		return corrupt(r, "ELF header", "libelf: %s", elf_errmsg(-1));
	r->sec = sut_xcalloc(r->shnum, sizeof *r->sec);
	for (size_t i = 0; i < r->shnum; i++) {
		struct rsec *s = &r->sec[i];
		Elf_Scn *scn = elf_getscn(r->elf, i);
		s->carried = -1;
		if (!scn || !gelf_getshdr(scn, &s->sh))
			return corrupt(r, "section headers", "section %zu: %s", i, elf_errmsg(-1));
		if (s->sh.sh_type == SHT_NOBITS || s->sh.sh_type == SHT_NULL)
			continue;
		if (s->sh.sh_offset > r->len || s->sh.sh_size > r->len - s->sh.sh_offset)
			return corrupt(r, "section headers", "section %zu: contents %#llx+%#llx outside the file of %#zx bytes",
				       i, (unsigned long long)s->sh.sh_offset,
				       (unsigned long long)s->sh.sh_size, r->len);
		s->bytes = r->img + s->sh.sh_offset;
	}
	const struct rsec *names = &r->sec[strndx];
	if (names->sh.sh_type != SHT_STRTAB)
		return corrupt(r, "section headers", "section name table %zu is not a string table", strndx);
	for (size_t i = 1; i < r->shnum; i++) {
		r->sec[i].name = str_at(names->bytes, names->sh.sh_size, r->sec[i].sh.sh_name);
		if (!r->sec[i].name)
			return corrupt(r, "section headers", "section %zu: name offset %#x outside the section name table",
				       i, r->sec[i].sh.sh_name);
	}
	return 0;
}

/* Records where suture's own sections are; each may appear once. */
static int find_own_sections(struct reader *r)
{
	struct {
		const char *name;
		size_t *idx;
	} own[] = {
		{SUT_SEC_META, &r->meta},   {SUT_SEC_BIND, &r->bind},
		{SUT_SEC_FUNCS, &r->funcs}, {SUT_SEC_PREIMAGE, &r->preimage},
		{SUT_SEC_STR, &r->str},     {SUT_SEC_SIG, &r->sig},
	};
	for (size_t i = 1; i < r->shnum; i++) {
		const struct rsec *s = &r->sec[i];
		if (s->sh.sh_type == SHT_SYMTAB) {
			if (r->symtab)
				return corrupt(r, s->name, "second symbol table (section %zu)", i);
			r->symtab = i;
			continue;
		}
		if (s->sh.sh_type == SHT_REL)
			return corrupt(r, s->name, "SHT_REL relocations are not supported (use SHT_RELA)");
		for (size_t k = 0; k < sizeof own / sizeof own[0]; k++) {
			if (strcmp(s->name, own[k].name) != 0)
				continue;
			if (*own[k].idx)
				return corrupt(r, s->name, "section appears twice (%zu and %zu)", *own[k].idx, i);
			if (s->sh.sh_type != SHT_PROGBITS || (s->sh.sh_flags & SHF_ALLOC))
				return corrupt(r, s->name, "not a non-allocated SHT_PROGBITS section");
			*own[k].idx = i;
		}
	}
	if (!r->meta)
		return sut_errf(r->err, "not a suture patch: no .suture.meta section");
	const char *missing = !r->symtab ? ".symtab" : !r->bind ? SUT_SEC_BIND :
			      !r->funcs ? SUT_SEC_FUNCS : !r->preimage ? SUT_SEC_PREIMAGE :
			      !r->str ? SUT_SEC_STR : NULL;
	if (missing)
		return corrupt(r, missing, "section missing");
	return 0;
}

/* ---- metadata --------------------------------------------------------------------- */

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static bool parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* Calls fn on every key=value entry; entries are NUL-terminated, none may lack '='. */
static int meta_each(struct reader *r, int (*fn)(struct reader *, struct sut_patch *, const char *,
						   const char *),
		     struct sut_patch *p)
{
	const struct rsec *s = &r->sec[r->meta];
	size_t n = s->sh.sh_size;
	if (n == 0 || s->bytes[n - 1] != 0)
		return corrupt(r, SUT_SEC_META, "not a list of NUL-terminated entries");
	size_t entry = 0;
	for (size_t off = 0; off < n; entry++) {
		const char *e = (const char *)s->bytes + off;
		size_t elen = strlen(e);
		const char *eq = strchr(e, '=');
		if (!eq)
			return corrupt(r, SUT_SEC_META, "entry %zu has no '='", entry);
		char *key = strndup(e, (size_t)(eq - e));
		if (!key)
			abort();
		int rc = fn(r, p, key, eq + 1);
		free(key);
		if (rc)
			return -1;
		off += elen + 1;
	}
	return 0;
}

static int meta_format(struct reader *r, struct sut_patch *p, const char *key, const char *val)
{
	if (strcmp(key, "format") != 0)
		return 0;
	if (p->format)
		return corrupt(r, SUT_SEC_META, "duplicate key format");
	uint32_t v;
	if (!parse_u32(val, &v) || v == 0)
		return corrupt(r, SUT_SEC_META, "format \"%.40s\" is not a number", val);
	if (v != SUT_PATCH_FORMAT)
		return sut_errf(r->err, "unsupported patch format %u (this suture reads %d)", v,
				SUT_PATCH_FORMAT);
	p->format = v;
	return 0;
}

static int set_once(struct reader *r, char **dst, const char *key, const char *val)
{
	if (*dst)
		return corrupt(r, SUT_SEC_META, "duplicate key %s", key);
	*dst = sut_xstrdup(val);
	return 0;
}

enum { META_VERSION = 1, META_BUILD_ID = 2, META_CONSISTENCY = 4 };

static int meta_field(struct reader *r, struct sut_patch *p, const char *key, const char *val)
{
	if (strcmp(key, "id") == 0)
		return set_once(r, &p->id, key, val);
	if (strcmp(key, "target") == 0)
		return set_once(r, &p->target_name, key, val);
	if (strcmp(key, "description") == 0)
		return set_once(r, &p->description, key, val);
	if (strcmp(key, "source-package") == 0)
		return set_once(r, &p->pkg_source, key, val);
	if (strcmp(key, "source-version") == 0)
		return set_once(r, &p->pkg_version, key, val);
	if (strcmp(key, "binary-package") == 0)
		return set_once(r, &p->pkg_binary, key, val);
	if (strcmp(key, "cve") == 0) {
		p->cves = sut_xrealloc(p->cves, (p->ncves + 1) * sizeof *p->cves);
		p->cves[p->ncves++] = sut_xstrdup(val);
		return 0;
	}
	unsigned bit = strcmp(key, "version") == 0 ? META_VERSION
		       : strcmp(key, "build-id") == 0 ? META_BUILD_ID
		       : strcmp(key, "consistency") == 0 ? META_CONSISTENCY : 0;
	if (!bit)
		return 0; /* format (already read) or a key from a later revision: ignored */
	if (r->meta_seen & bit)
		return corrupt(r, SUT_SEC_META, "duplicate key %s", key);
	r->meta_seen |= bit;
	if (bit == META_VERSION && !parse_u32(val, &p->version))
		return corrupt(r, SUT_SEC_META, "version \"%.40s\" is not a number", val);
	if (bit == META_BUILD_ID) {
		int n = sut_unhex(val, p->build_id, sizeof p->build_id);
		if (n <= 0)
			return corrupt(r, SUT_SEC_META, "build-id \"%.140s\" is not 1-%d bytes of hex", val,
				       SUT_BUILD_ID_MAX);
		p->build_id_len = (size_t)n;
	}
	if (bit == META_CONSISTENCY) {
		if (strcmp(val, "strict") == 0)
			p->consistency = SUT_CONS_STRICT;
		else if (strcmp(val, "per-call") == 0)
			p->consistency = SUT_CONS_PER_CALL;
		else
			return corrupt(r, SUT_SEC_META, "unknown consistency \"%.40s\"", val);
	}
	return 0;
}

/* The format key is read first so a newer file is refused as such, not as corrupt. */
static int read_meta(struct reader *r, struct sut_patch *p)
{
	if (meta_each(r, meta_format, p))
		return -1;
	if (!p->format)
		return corrupt(r, SUT_SEC_META, "no format key");
	if (meta_each(r, meta_field, p))
		return -1;
	const char *missing = !p->id ? "id"
			      : !(r->meta_seen & META_VERSION) ? "version"
			      : !(r->meta_seen & META_BUILD_ID) ? "build-id"
			      : !(r->meta_seen & META_CONSISTENCY) ? "consistency" : NULL;
	if (missing)
		return corrupt(r, SUT_SEC_META, "no %s key", missing);
	return 0;
}

/* ---- carried sections, symbols, relocations --------------------------------------- */

static int read_carried(struct reader *r, struct sut_patch *p)
{
	for (size_t i = 1; i < r->shnum; i++)
		if (r->sec[i].sh.sh_flags & SHF_ALLOC)
			p->nsections++;
	if (p->nsections > SUT_PATCH_NSECTIONS_MAX)
		return corrupt(r, "section headers", "%zu carried sections (at most %d)", p->nsections,
			       SUT_PATCH_NSECTIONS_MAX);
	p->sections = sut_xcalloc(p->nsections, sizeof *p->sections);
	size_t n = 0;
	for (size_t i = 1; i < r->shnum; i++) {
		struct rsec *s = &r->sec[i];
		uint64_t fl = s->sh.sh_flags;
		if (!(fl & SHF_ALLOC))
			continue;
		struct sut_patch_section *d = &p->sections[n];
		bool x = fl & SHF_EXECINSTR, w = fl & SHF_WRITE;
		if (s->sh.sh_type == SHT_PROGBITS && !(x && w))
			d->kind = x ? SUT_SEC_TEXT : w ? SUT_SEC_DATA : SUT_SEC_RODATA;
		else if (s->sh.sh_type == SHT_NOBITS && w && !x)
			d->kind = SUT_SEC_BSS;
		else
			return corrupt(r, s->name, "allocated section of type %u with flags %#llx is not TEXT, RODATA, DATA or BSS",
				       s->sh.sh_type, (unsigned long long)fl);
		if (s->sh.sh_size > SUT_PATCH_SECTION_MAX)
			return corrupt(r, s->name, "size %#llx too large", (unsigned long long)s->sh.sh_size);
		d->name = sut_xstrdup(s->name);
		d->align = s->sh.sh_addralign ? s->sh.sh_addralign : 1;
		d->size = s->sh.sh_size;
		if (d->kind != SUT_SEC_BSS) {
			d->bytes = sut_xmalloc(d->size);
			if (d->size)
				memcpy(d->bytes, s->bytes, d->size);
		}
		s->carried = (long)n++;
	}
	return 0;
}

static long carried_index(const struct reader *r, uint64_t elf_index)
{
	return elf_index < r->shnum ? r->sec[elf_index].carried : -1;
}

static Elf_Data *section_data(struct reader *r, size_t idx)
{
	Elf_Data *d = elf_getdata(elf_getscn(r->elf, idx), NULL);
	if (d && d->d_size != r->sec[idx].sh.sh_size)
		return NULL;
	return d;
}

static int read_symbols(struct reader *r, struct sut_patch *p)
{
	const struct rsec *st = &r->sec[r->symtab];
	const struct rsec *bind = &r->sec[r->bind];
	const struct rsec *str = &r->sec[r->str];
	if (st->sh.sh_entsize != sizeof(Elf64_Sym) || st->sh.sh_size % sizeof(Elf64_Sym) ||
	    st->sh.sh_size == 0)
		return corrupt(r, st->name, "size %#llx is not a whole number of symbols",
			       (unsigned long long)st->sh.sh_size);
	if (st->sh.sh_link == 0 || st->sh.sh_link >= r->shnum ||
	    r->sec[st->sh.sh_link].sh.sh_type != SHT_STRTAB)
		return corrupt(r, st->name, "linked string table %u is not a string table", st->sh.sh_link);
	const struct rsec *names = &r->sec[st->sh.sh_link];
	size_t nsym = st->sh.sh_size / sizeof(Elf64_Sym) - 1;
	if (bind->sh.sh_size % SUT_BIND_SIZE || bind->sh.sh_size / SUT_BIND_SIZE != nsym)
		return corrupt(r, SUT_SEC_BIND, "size %#llx is not %zu records of %d bytes (one per symbol)",
			       (unsigned long long)bind->sh.sh_size, nsym, SUT_BIND_SIZE);
	Elf_Data *d = section_data(r, r->symtab);
	GElf_Sym sym;
	if (!d || !gelf_getsym(d, 0, &sym))
		return corrupt(r, st->name, "unreadable: %s", elf_errmsg(-1));
	if (sym.st_name || sym.st_shndx != SHN_UNDEF || sym.st_value || sym.st_info)
		return corrupt(r, st->name, "symbol 0 is not the null symbol");

	p->symbols = sut_xcalloc(nsym, sizeof *p->symbols);
	for (size_t i = 0; i < nsym; i++) {
		struct sut_patch_symbol *y = &p->symbols[i];
		const uint8_t *rec = bind->bytes + i * SUT_BIND_SIZE;
		p->nsymbols = i + 1; /* so a failure frees what was set */
		if (!gelf_getsym(d, (int)(i + 1), &sym))
			return corrupt(r, st->name, "symbol %zu unreadable: %s", i + 1, elf_errmsg(-1));
		const char *name = str_at(names->bytes, names->sh.sh_size, sym.st_name);
		if (!name)
			return corrupt(r, st->name, "symbol %zu: name offset %#x outside %s", i + 1,
				       sym.st_name, names->name);
		y->name = sut_xstrdup(name);
		if (sut_get_u32(rec) != i + 1)
			return corrupt(r, SUT_SEC_BIND, "record %zu: symbol index %u (expected %zu)", i,
				       sut_get_u32(rec), i + 1);
		uint32_t kind = sut_get_u32(rec + 4), flags = sut_get_u32(rec + 28);
		if (kind < SUT_SYM_LOCAL || kind > SUT_SYM_EXTERN)
			return corrupt(r, SUT_SEC_BIND, "record %zu: unknown kind %u", i, kind);
		if (flags & ~SUT_BIND_FLAG_FUNC)
			return corrupt(r, SUT_SEC_BIND, "record %zu: unknown flags %#x", i, flags);
		y->kind = (enum sut_sym_kind)kind;
		y->value = sut_get_u64(rec + 8);
		y->size = sut_get_u64(rec + 16);
		y->is_func = flags & SUT_BIND_FLAG_FUNC;
		if ((ELF64_ST_TYPE(sym.st_info) == STT_FUNC) != y->is_func)
			return corrupt(r, st->name, "symbol %zu (%s): ELF type disagrees with %s", i + 1,
				       y->name, SUT_SEC_BIND);
		uint32_t voff = sut_get_u32(rec + 24);
		if (voff) {
			const char *v = str_at(str->bytes, str->sh.sh_size, voff);
			if (!v)
				return corrupt(r, SUT_SEC_BIND, "record %zu: version offset %#x outside %s", i,
					       voff, SUT_SEC_STR);
			y->version = sut_xstrdup(v);
		}
		if (y->kind != SUT_SYM_LOCAL) {
			if (sym.st_shndx != SHN_UNDEF)
				return corrupt(r, st->name, "symbol %zu (%s): bound outside the patch but defined in section %u",
					       i + 1, y->name, sym.st_shndx);
			continue;
		}
		long sec = carried_index(r, sym.st_shndx);
		if (sec < 0)
			return corrupt(r, st->name, "symbol %zu (%s): section %u is not a carried section",
				       i + 1, y->name, sym.st_shndx);
		y->section = (uint32_t)sec;
		if (sym.st_value != y->value || sym.st_size != y->size)
			return corrupt(r, st->name, "symbol %zu (%s): value/size disagree with %s", i + 1,
				       y->name, SUT_SEC_BIND);
	}
	return 0;
}

static int read_relocs(struct reader *r, struct sut_patch *p)
{
	/* One .rela section per carried section at most; relocations come out grouped by
	 * target section in model order, as the writer stores them. */
	size_t *rela_of = sut_xcalloc(p->nsections ? p->nsections : 1, sizeof *rela_of);
	int rc = -1;
	size_t total = 0;
	for (size_t i = 1; i < r->shnum; i++) {
		const struct rsec *s = &r->sec[i];
		if (s->sh.sh_type != SHT_RELA)
			continue;
		long t = carried_index(r, s->sh.sh_info);
		if (t < 0) {
			corrupt(r, s->name, "target section %u is not a carried section", s->sh.sh_info);
			goto out;
		}
		if (s->sh.sh_link != r->symtab) {
			corrupt(r, s->name, "linked to section %u instead of the symbol table", s->sh.sh_link);
			goto out;
		}
		if (s->sh.sh_entsize != sizeof(Elf64_Rela) || s->sh.sh_size % sizeof(Elf64_Rela)) {
			corrupt(r, s->name, "size %#llx is not a whole number of Elf64_Rela",
				(unsigned long long)s->sh.sh_size);
			goto out;
		}
		if (rela_of[t]) {
			corrupt(r, s->name, "second relocation section for %s", p->sections[t].name);
			goto out;
		}
		rela_of[t] = i;
		total += s->sh.sh_size / sizeof(Elf64_Rela);
	}
	p->relocs = sut_xcalloc(total, sizeof *p->relocs);
	for (size_t t = 0; t < p->nsections; t++) {
		if (!rela_of[t])
			continue;
		const struct rsec *s = &r->sec[rela_of[t]];
		const struct sut_patch_section *target = &p->sections[t];
		Elf_Data *d = section_data(r, rela_of[t]);
		size_t n = s->sh.sh_size / sizeof(Elf64_Rela);
		if (n && !d) {
			corrupt(r, s->name, "unreadable: %s", elf_errmsg(-1));
			goto out;
		}
		for (size_t k = 0; k < n; k++) {
			GElf_Rela e;
			if (!gelf_getrela(d, (int)k, &e)) {
				corrupt(r, s->name, "entry %zu unreadable: %s", k, elf_errmsg(-1));
				goto out;
			}
			uint64_t sym = ELF64_R_SYM(e.r_info);
			uint32_t type = (uint32_t)ELF64_R_TYPE(e.r_info);
			if (sym == 0 || sym > p->nsymbols) {
				corrupt(r, s->name, "entry %zu: symbol index %llu out of range (%zu symbols)", k,
					(unsigned long long)sym, p->nsymbols);
				goto out;
			}
			if (!sut_patch_reloc_type_ok(type)) {
				corrupt(r, s->name, "entry %zu: unsupported relocation type %u", k, type);
				goto out;
			}
			uint64_t w = sut_reloc_width(type);
			if (target->kind == SUT_SEC_BSS || target->size < w || e.r_offset > target->size - w) {
				corrupt(r, s->name, "entry %zu: %llu-byte field at %#llx outside %s (size %#llx)",
					k, (unsigned long long)w, (unsigned long long)e.r_offset,
					target->name, (unsigned long long)target->size);
				goto out;
			}
			struct sut_patch_reloc *m = &p->relocs[p->nrelocs++];
			m->section = (uint32_t)t;
			m->offset = e.r_offset;
			m->type = type;
			m->symbol = (uint32_t)(sym - 1);
			m->addend = e.r_addend;
		}
	}
	rc = 0;
out:
	free(rela_of);
	return rc;
}

/* ---- replaced functions and signature --------------------------------------------- */

static int opt_str(struct reader *r, size_t rec, const char *field, uint32_t off, char **out)
{
	if (!off)
		return 0;
	const struct rsec *str = &r->sec[r->str];
	const char *s = str_at(str->bytes, str->sh.sh_size, off);
	if (!s)
		return corrupt(r, SUT_SEC_FUNCS, "record %zu: %s offset %#x outside %s", rec, field, off,
			       SUT_SEC_STR);
	*out = sut_xstrdup(s);
	return 0;
}

static int read_funcs(struct reader *r, struct sut_patch *p)
{
	const struct rsec *fs = &r->sec[r->funcs];
	const struct rsec *pre = &r->sec[r->preimage];
	if (fs->sh.sh_size % SUT_FUNC_SIZE)
		return corrupt(r, SUT_SEC_FUNCS, "size %#llx is not a whole number of %d-byte records",
			       (unsigned long long)fs->sh.sh_size, SUT_FUNC_SIZE);
	size_t n = fs->sh.sh_size / SUT_FUNC_SIZE;
	p->funcs = sut_xcalloc(n, sizeof *p->funcs);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *rec = fs->bytes + i * SUT_FUNC_SIZE;
		struct sut_patch_func *f = &p->funcs[i];
		p->nfuncs = i + 1;
		uint32_t name = sut_get_u32(rec);
		if (!name)
			return corrupt(r, SUT_SEC_FUNCS, "record %zu: no name", i);
		if (opt_str(r, i, "name", name, &f->name) ||
		    opt_str(r, i, "file", sut_get_u32(rec + 4), &f->file) ||
		    opt_str(r, i, "reason", sut_get_u32(rec + 12), &f->reason))
			return -1;
		f->replacement = sut_get_u32(rec + 8);
		f->target_addr = sut_get_u64(rec + 16);
		f->target_size = sut_get_u64(rec + 24);
		uint32_t off = sut_get_u32(rec + 32);
		f->preimage_len = sut_get_u32(rec + 36);
		if (off > pre->sh.sh_size || f->preimage_len > pre->sh.sh_size - off)
			return corrupt(r, SUT_SEC_FUNCS, "record %zu: preimage range %#x+%#x outside %s (size %#llx)",
				       i, off, f->preimage_len, SUT_SEC_PREIMAGE,
				       (unsigned long long)pre->sh.sh_size);
		f->preimage = sut_xmalloc(f->preimage_len);
		if (f->preimage_len)
			memcpy(f->preimage, pre->bytes + off, f->preimage_len);
	}
	return 0;
}

static int read_sig(struct reader *r, struct sut_patch *p)
{
	if (!r->sig)
		return 0;
	const struct rsec *s = &r->sec[r->sig];
	if (s->sh.sh_size < SUT_SIG_HDR_SIZE)
		return corrupt(r, SUT_SEC_SIG, "size %#llx shorter than its %d-byte header",
			       (unsigned long long)s->sh.sh_size, SUT_SIG_HDR_SIZE);
	uint32_t alg = sut_get_u32(s->bytes + 16), len = sut_get_u32(s->bytes + 20);
	if (alg != SUT_SIG_ALG_ED25519)
		return sut_errf(r->err, "unsupported signature algorithm %u (this suture knows Ed25519 = %u)",
				alg, SUT_SIG_ALG_ED25519);
	if (len != SUT_SIG_ED25519_LEN || s->sh.sh_size - SUT_SIG_HDR_SIZE != len)
		return corrupt(r, SUT_SEC_SIG, "signature length %u in a section of %#llx bytes (Ed25519 signatures are %d bytes)",
			       len, (unsigned long long)s->sh.sh_size, SUT_SIG_ED25519_LEN);
	p->sig_key_id = sut_xmalloc(SUT_KEY_ID_LEN + 1);
	memcpy(p->sig_key_id, s->bytes, SUT_KEY_ID_LEN);
	p->sig_key_id[SUT_KEY_ID_LEN] = 0;
	if (strspn(p->sig_key_id, "0123456789abcdef") != SUT_KEY_ID_LEN)
		return corrupt(r, SUT_SEC_SIG, "key id is not %d lower-case hex digits", SUT_KEY_ID_LEN);
	p->sig = sut_xmalloc(len);
	memcpy(p->sig, s->bytes + SUT_SIG_HDR_SIZE, len);
	p->sig_len = len;
	return 0;
}

int sut_patch_read_mem(const void *data, size_t len, struct sut_patch **out, struct sut_err *err)
{
	struct reader r = {.len = len, .err = err};
	r.img = sut_xmalloc(len);
	if (len)
		memcpy(r.img, data, len);
	struct sut_patch *p = sut_xcalloc(1, sizeof *p);
	int rc = -1;
	if (check_ehdr(&r) || load_sections(&r) || find_own_sections(&r) || read_meta(&r, p) ||
	    read_carried(&r, p) || read_symbols(&r, p) || read_relocs(&r, p) || read_funcs(&r, p) ||
	    read_sig(&r, p))
		goto out;
	if (sut_patch_validate(p, err)) {
		sut_err_wrap(err, "invalid patch");
		goto out;
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	sut_patch_free(p);
	if (r.elf)
		elf_end(r.elf);
	free(r.sec);
	free(r.img);
	return rc;
}

int sut_patch_read_file(const char *path, struct sut_patch **out, struct sut_err *err)
{
	uint8_t *data;
	size_t len;
	if (sut_read_file(path, &data, &len, err))
		return -1;
	int rc = sut_patch_read_mem(data, len, out, err);
	free(data);
	if (rc)
		sut_err_wrap(err, "%s", path);
	return rc;
}
