/* SPDX-License-Identifier: Apache-2.0 */
/* Symbol tables with the STT_FILE scope of each local, and lookups by name and address.
 *
 * Static functions of the same name exist in several source files of one library (two
 * `aes_ocb_cipher` in libcrypto); only the STT_FILE symbol preceding a local tells them
 * apart, so every local records it, and lookups take the scope the caller expects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf/elf_internal.h"
#include "util/buf.h"

bool sut_sym_is_definition(const struct sut_sym *s)
{
	return s->shndx != SHN_UNDEF && s->type != STT_SECTION && s->type != STT_FILE &&
	       s->name && s->name[0];
}

int sut_elf_read_symtab(struct sut_elf *e, Elf_Scn *scn, bool from_dynsym,
			struct sut_sym **out, size_t *n, struct sut_err *err)
{
	GElf_Shdr sh;
	Elf_Data *d;
	*out = NULL;
	*n = 0;
	if (!gelf_getshdr(scn, &sh) || !(d = elf_getdata(scn, NULL)))
		return sut_errf(err, "%s: cannot read symbol table %zu: %s", e->path,
				elf_ndxscn(scn), elf_errmsg(-1));
	size_t entsize = gelf_fsize(e->elf, ELF_T_SYM, 1, EV_CURRENT);
	size_t count = d->d_size / entsize;
	struct sut_sym *syms = sut_xcalloc(count ? count : 1, sizeof *syms);
	const char *file = ""; /* locals before any STT_FILE have no scope */
	for (size_t i = 0; i < count; i++) {
		GElf_Sym gs;
		if (!gelf_getsym(d, (int)i, &gs)) {
			free(syms);
			return sut_errf(err, "%s: cannot read symbol %zu: %s", e->path, i,
					elf_errmsg(-1));
		}
		const char *name = gs.st_name ? elf_strptr(e->elf, sh.sh_link, gs.st_name) : "";
		if (!name) {
			free(syms);
			return sut_errf(err,
					"%s: symbol %zu has a name outside its string table: corrupt "
					"file",
					e->path, i);
		}
		struct sut_sym *s = &syms[i];
		s->name = name;
		s->value = gs.st_value;
		s->size = gs.st_size;
		s->type = GELF_ST_TYPE(gs.st_info);
		s->bind = GELF_ST_BIND(gs.st_info);
		s->visibility = GELF_ST_VISIBILITY(gs.st_other);
		s->shndx = gs.st_shndx;
		s->index = (uint32_t)i;
		s->from_dynsym = from_dynsym;
		if (s->type == STT_FILE)
			file = name;
		s->file = s->bind == STB_LOCAL ? file : NULL;
	}
	*out = syms;
	*n = count;
	return 0;
}

static int by_value(const void *a, const void *b)
{
	const struct sut_sym *x = *(const struct sut_sym *const *)a;
	const struct sut_sym *y = *(const struct sut_sym *const *)b;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void build_address_index(struct sut_elf *e)
{
	/* In a relocatable object values are offsets within different sections, so there is
	 * no address space to search. */
	if (e->ehdr.e_type == ET_REL)
		return;
	e->by_addr = sut_xcalloc(e->nsyms ? e->nsyms : 1, sizeof *e->by_addr);
	for (size_t i = 0; i < e->nsyms; i++) {
		const struct sut_sym *s = &e->syms[i];
		if (s->shndx != SHN_UNDEF && s->shndx != SHN_ABS && s->size > 0 &&
		    (s->type == STT_FUNC || s->type == STT_OBJECT || s->type == STT_GNU_IFUNC))
			e->by_addr[e->nby_addr++] = s;
	}
	qsort(e->by_addr, e->nby_addr, sizeof *e->by_addr, by_value);
	e->by_addr_maxend = sut_xcalloc(e->nby_addr ? e->nby_addr : 1, sizeof *e->by_addr_maxend);
	uint64_t maxend = 0;
	for (size_t i = 0; i < e->nby_addr; i++) {
		uint64_t end = e->by_addr[i]->value + e->by_addr[i]->size;
		if (end > maxend)
			maxend = end;
		e->by_addr_maxend[i] = maxend;
	}
}

int sut_elf_load_symbols(struct sut_elf *e, struct sut_err *err)
{
	Elf_Scn *scn = sut_elf_find_section(e, SHT_SYMTAB);
	e->has_symtab = scn != NULL;
	if (!scn)
		scn = sut_elf_find_section(e, SHT_DYNSYM);
	if (scn && sut_elf_read_symtab(e, scn, !e->has_symtab, &e->syms, &e->nsyms, err) < 0)
		return -1;
	sut_name_index_build(&e->sym_index, e->syms, e->nsyms);
	build_address_index(e);
	return 0;
}

void sut_elf_free_symbols(struct sut_elf *e)
{
	free(e->syms);
	sut_name_index_free(&e->sym_index);
	free(e->by_addr);
	free(e->by_addr_maxend);
}

size_t sut_elf_nsyms(const struct sut_elf *e)
{
	return e->nsyms;
}

const struct sut_sym *sut_elf_sym(const struct sut_elf *e, size_t i)
{
	return i < e->nsyms ? &e->syms[i] : NULL;
}

bool sut_elf_has_symtab(const struct sut_elf *e)
{
	return e->has_symtab;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* A local's STT_FILE scope matches the caller's when the basenames agree: either side
 * may carry a directory prefix ("crypto/evp/e_aes.c" against "e_aes.c"). */
static bool same_file(const char *scope, const char *wanted)
{
	return scope && strcmp(base_name(scope), base_name(wanted)) == 0;
}

/* A symbol matches a query name exactly, or (for .symtab names carrying a version, like
 * "memcpy@@GLIBC_2.14") by the part before '@' when the query has no version. */
static bool name_matches(const struct sut_sym *s, const char *name)
{
	if (strcmp(s->name, name) == 0)
		return true;
	return !strchr(name, '@') && sut_name_key_len(s->name) == strlen(name);
}

/* Ranks global definitions: a default-version ("@@") or unversioned name beats a
 * non-default one ("@"), and a strong binding beats a weak one. */
static int global_rank(const struct sut_sym *s)
{
	const char *at = strchr(s->name, '@');
	int rank = (!at || at[1] == '@') ? 2 : 0;
	return rank + (s->bind != STB_WEAK);
}

static int ambiguous(const struct sut_elf *e, const char *name, const char *scope_desc,
		     const struct sut_sym **cands, size_t n, struct sut_err *err)
{
	struct sut_buf b = {0};
	for (size_t i = 0; i < n && b.len < SUT_ERR_MAX; i++) {
		char item[256];
		int len = snprintf(item, sizeof item, "%s%s at 0x%llx", i ? ", " : "",
				   cands[i]->file && cands[i]->file[0] ? cands[i]->file : "(no file)",
				   (unsigned long long)cands[i]->value);
		if (len > 0)
			sut_buf_append(&b, item, strnlen(item, sizeof item));
	}
	sut_buf_append(&b, "", 1);
	sut_errf(err, "%s: symbol %s is ambiguous%s: %zu local definitions in %s; name the "
		      "source file",
		 e->path, name, scope_desc, n, (const char *)b.data);
	sut_buf_free(&b);
	return -1;
}

/* Several locals with the same name and value are one definition seen twice (an alias
 * emitted by both an object and a linker script); only distinct values are ambiguous. */
static bool all_same_value(const struct sut_sym **cands, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (cands[i]->value != cands[0]->value)
			return false;
	return true;
}

int sut_elf_find_sym(const struct sut_elf *e, const char *name, const char *file,
		     const struct sut_sym **out, struct sut_err *err)
{
	*out = NULL;
	const struct sut_sym *global = NULL;
	size_t nscoped = 0, nlocal = 0, cap = 8;
	const struct sut_sym **scoped = sut_xmalloc(cap * sizeof *scoped);
	const struct sut_sym **locals = sut_xmalloc(cap * sizeof *locals);
	for (uint32_t i = sut_name_index_first(&e->sym_index, e->syms, name); i != SUT_NAME_NONE;
	     i = sut_name_index_next(&e->sym_index, i)) {
		const struct sut_sym *s = &e->syms[i];
		if (!sut_sym_is_definition(s) || !name_matches(s, name))
			continue;
		if (s->bind != STB_LOCAL) {
			if (!global || global_rank(s) > global_rank(global))
				global = s;
			continue;
		}
		if (nlocal == cap) {
			cap *= 2;
			scoped = sut_xrealloc(scoped, cap * sizeof *scoped);
			locals = sut_xrealloc(locals, cap * sizeof *locals);
		}
		locals[nlocal++] = s;
		if (file && same_file(s->file, file))
			scoped[nscoped++] = s;
	}
	int rc = 0;
	if (nscoped > 1 && !all_same_value(scoped, nscoped)) {
		/* Same basename in several directories: a scope that matches a recorded
		 * STT_FILE in full (compilers that keep the path) settles it. gcc records
		 * only the basename, so then the ambiguity stands and is reported. */
		size_t exact = 0;
		for (size_t i = 0; i < nscoped; i++)
			if (strcmp(scoped[i]->file, file) == 0)
				scoped[exact++] = scoped[i];
		if (exact > 0)
			nscoped = exact;
	}
	if (nscoped > 0) {
		if (!all_same_value(scoped, nscoped)) {
			char desc[300];
			snprintf(desc, sizeof desc, " within %s", file);
			rc = ambiguous(e, name, desc, scoped, nscoped, err);
		} else {
			*out = scoped[0];
			rc = 1;
		}
	} else if (global) {
		*out = global;
		rc = 1;
	} else if (nlocal > 0) {
		if (!all_same_value(locals, nlocal)) {
			rc = ambiguous(e, name, "", locals, nlocal, err);
		} else {
			*out = locals[0];
			rc = 1;
		}
	}
	free(scoped);
	free(locals);
	return rc;
}

/* Of several symbols containing an address, the most specific: the one starting
 * closest to it, then the smaller, then a global over a local, a function over data. */
static bool better_at(const struct sut_sym *a, const struct sut_sym *b)
{
	if (!b)
		return true;
	if (a->value != b->value)
		return a->value > b->value;
	if (a->size != b->size)
		return a->size < b->size;
	if ((a->bind != STB_LOCAL) != (b->bind != STB_LOCAL))
		return a->bind != STB_LOCAL;
	return a->type == STT_FUNC && b->type != STT_FUNC;
}

const struct sut_sym *sut_elf_sym_at(const struct sut_elf *e, uint64_t vaddr)
{
	/* lo = number of entries with value <= vaddr */
	size_t lo = 0, hi = e->nby_addr;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->by_addr[mid]->value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	const struct sut_sym *best = NULL;
	/* Walk back while some earlier symbol may still reach past vaddr. */
	for (size_t i = lo; i-- > 0 && e->by_addr_maxend[i] > vaddr;) {
		const struct sut_sym *s = e->by_addr[i];
		if (vaddr - s->value < s->size && better_at(s, best))
			best = s;
	}
	return best;
}
