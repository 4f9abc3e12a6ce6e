/* SPDX-License-Identifier: Apache-2.0 */
/* sut_patch_validate: every structural rule of a patch, checked on the model so that the
 * reader (on untrusted bytes) and the writer (on a builder's model) enforce the same
 * rules. After it succeeds, later layers index sections, symbols and preimages without
 * re-checking bounds (the invariant stated in patch.h). Each message names the element. */
#include "patch/patch.h"

#include <stdlib.h>
#include <string.h>

#include "patch/patch_format.h"
#include "util/buf.h"

bool sut_patch_id_valid(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n < 1 || n >= SUT_PATCH_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '+' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

static bool digits(const char *s, size_t min, size_t max)
{
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	return s[n] == 0 && n >= min && n <= max;
}

/* CVE-YYYY-NNNN with four or more sequence digits, as MITRE assigns them. */
bool sut_patch_cve_valid(const char *s)
{
	if (!s || strncmp(s, "CVE-", 4) != 0 || strlen(s) < 13 || s[8] != '-')
		return false;
	char year[5];
	memcpy(year, s + 4, 4);
	year[4] = 0;
	return digits(year, 4, 4) && digits(s + 9, 4, 19);
}

/* Names suture's own sections use; a carried section with one of them would make the
 * file ambiguous for readelf users and second implementations. */
static bool reserved_section_name(const char *n)
{
	return strcmp(n, ".symtab") == 0 || strcmp(n, ".strtab") == 0 ||
	       strcmp(n, ".shstrtab") == 0 || strncmp(n, ".suture", 7) == 0 ||
	       strncmp(n, ".rela", 5) == 0;
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* An optional string is NULL or non-empty: the file stores "none" as offset 0. */
static bool opt_ok(const char *s)
{
	return !s || s[0];
}

/* A package name or version: what Debian allows in either ([A-Za-z0-9.+~:-], 1-100
 * characters), so it can be printed as it is. */
static bool pkg_ok(const char *s)
{
	if (!s)
		return true;
	size_t n = strlen(s);
	if (n < 1 || n > 100)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr(".+~:-", s[i])))
			return false;
	return true;
}

static const char *kind_name(enum sut_sec_kind k)
{
	switch (k) {
	case SUT_SEC_TEXT: return "TEXT";
	case SUT_SEC_RODATA: return "RODATA";
	case SUT_SEC_DATA: return "DATA";
	case SUT_SEC_BSS: return "BSS";
	}
	return "?";
}

static int check_header(const struct sut_patch *p, struct sut_err *err)
{
	if (p->format != SUT_PATCH_FORMAT)
		return sut_errf(err, "unsupported patch format %u (this suture reads %d)", p->format,
				SUT_PATCH_FORMAT);
	if (!sut_patch_id_valid(p->id))
		return sut_errf(err, "patch id \"%s\": must be 1-%d characters of [A-Za-z0-9._+-]",
				p->id ? p->id : "", SUT_PATCH_ID_MAX - 1);
	if (p->version < 1)
		return sut_errf(err, "patch %s: version must be at least 1", p->id);
	for (size_t i = 0; i < p->ncves; i++)
		if (!sut_patch_cve_valid(p->cves[i]))
			return sut_errf(err, "patch %s: cve %zu \"%s\" is not of the form CVE-YYYY-NNNN",
					p->id, i, p->cves[i] ? p->cves[i] : "");
	if (p->build_id_len < 1 || p->build_id_len > SUT_BUILD_ID_MAX)
		return sut_errf(err, "patch %s: target build-id length %zu (must be 1-%d bytes)", p->id,
				p->build_id_len, SUT_BUILD_ID_MAX);
	if (p->consistency != SUT_CONS_STRICT && p->consistency != SUT_CONS_PER_CALL)
		return sut_errf(err, "patch %s: unknown consistency rule %d", p->id, (int)p->consistency);
	if (!pkg_ok(p->pkg_source) || !pkg_ok(p->pkg_version) || !pkg_ok(p->pkg_binary))
		return sut_errf(err, "patch %s: source-package, source-version and binary-package must be 1-100 characters of [A-Za-z0-9.+~:-]",
				p->id);
	return 0;
}

static int check_sections(const struct sut_patch *p, struct sut_err *err)
{
	if (p->nsections > SUT_PATCH_NSECTIONS_MAX)
		return sut_errf(err, "%zu sections (at most %d)", p->nsections, SUT_PATCH_NSECTIONS_MAX);
	for (size_t i = 0; i < p->nsections; i++) {
		const struct sut_patch_section *s = &p->sections[i];
		if (!s->name || !s->name[0])
			return sut_errf(err, "section %zu: empty name", i);
		if (reserved_section_name(s->name))
			return sut_errf(err, "section %zu: name %s is reserved for suture's own sections", i,
					s->name);
		if (s->kind < SUT_SEC_TEXT || s->kind > SUT_SEC_BSS)
			return sut_errf(err, "section %zu (%s): unknown kind %d", i, s->name, (int)s->kind);
		if (!pow2(s->align) || s->align > SUT_PATCH_ALIGN_MAX)
			return sut_errf(err, "section %zu (%s): alignment %#llx is not a power of two up to %#x",
					i, s->name, (unsigned long long)s->align, SUT_PATCH_ALIGN_MAX);
		if (s->size > SUT_PATCH_SECTION_MAX)
			return sut_errf(err, "section %zu (%s): size %#llx larger than %#llx", i, s->name,
					(unsigned long long)s->size, (unsigned long long)SUT_PATCH_SECTION_MAX);
		if (s->kind == SUT_SEC_BSS && s->bytes)
			return sut_errf(err, "section %zu (%s): BSS section with bytes", i, s->name);
		if (s->kind != SUT_SEC_BSS && s->size && !s->bytes)
			return sut_errf(err, "section %zu (%s): %s section without bytes", i, s->name,
					kind_name(s->kind));
	}
	return 0;
}

static int check_symbols(const struct sut_patch *p, struct sut_err *err)
{
	if (p->nsymbols >= UINT32_MAX)
		return sut_errf(err, "%zu symbols (too many)", p->nsymbols);
	for (size_t i = 0; i < p->nsymbols; i++) {
		const struct sut_patch_symbol *y = &p->symbols[i];
		if (!y->name || !y->name[0])
			return sut_errf(err, "symbol %zu: empty name", i);
		if (y->kind < SUT_SYM_LOCAL || y->kind > SUT_SYM_EXTERN)
			return sut_errf(err, "symbol %zu (%s): unknown kind %d", i, y->name, (int)y->kind);
		if (y->version && (y->kind != SUT_SYM_EXTERN || !y->version[0]))
			return sut_errf(err, "symbol %zu (%s): a version is allowed only on an EXTERN symbol and must not be empty",
					i, y->name);
		if (y->kind != SUT_SYM_LOCAL) {
			if (y->section)
				return sut_errf(err, "symbol %zu (%s): section index set on a non-LOCAL symbol", i,
						y->name);
			continue;
		}
		if (y->section >= p->nsections)
			return sut_errf(err, "symbol %zu (%s): section %u out of range (%zu sections)", i,
					y->name, y->section, p->nsections);
		const struct sut_patch_section *s = &p->sections[y->section];
		if (y->value > s->size || y->size > s->size - y->value)
			return sut_errf(err, "symbol %zu (%s): range %#llx+%#llx outside section %s (size %#llx)",
					i, y->name, (unsigned long long)y->value,
					(unsigned long long)y->size, s->name, (unsigned long long)s->size);
	}
	return 0;
}

static int check_relocs(const struct sut_patch *p, struct sut_err *err)
{
	for (size_t i = 0; i < p->nrelocs; i++) {
		const struct sut_patch_reloc *r = &p->relocs[i];
		if (r->section >= p->nsections)
			return sut_errf(err, "relocation %zu: section %u out of range (%zu sections)", i,
					r->section, p->nsections);
		const struct sut_patch_section *s = &p->sections[r->section];
		if (s->kind == SUT_SEC_BSS)
			return sut_errf(err, "relocation %zu: patches BSS section %s, which has no bytes", i,
					s->name);
		if (!sut_patch_reloc_type_ok(r->type))
			return sut_errf(err, "relocation %zu: unsupported type %u in section %s", i, r->type,
					s->name);
		if (r->symbol >= p->nsymbols)
			return sut_errf(err, "relocation %zu: symbol %u out of range (%zu symbols)", i,
					r->symbol, p->nsymbols);
		uint64_t w = sut_reloc_width(r->type);
		if (s->size < w || r->offset > s->size - w)
			return sut_errf(err, "relocation %zu: offset %#llx outside section %s (size %#llx)", i,
					(unsigned long long)r->offset, s->name, (unsigned long long)s->size);
	}
	return 0;
}

static int cmp_func_addr(const void *a, const void *b)
{
	const struct sut_patch_func *x = *(const struct sut_patch_func *const *)a;
	const struct sut_patch_func *y = *(const struct sut_patch_func *const *)b;
	return x->target_addr < y->target_addr ? -1 : x->target_addr > y->target_addr;
}

/* Two funcs on one address (or overlapping) would write two jumps into one function. */
static int check_func_overlap(const struct sut_patch *p, struct sut_err *err)
{
	const struct sut_patch_func **v = sut_xcalloc(p->nfuncs, sizeof *v);
	for (size_t i = 0; i < p->nfuncs; i++)
		v[i] = &p->funcs[i];
	qsort(v, p->nfuncs, sizeof *v, cmp_func_addr);
	int rc = 0;
	for (size_t i = 1; i < p->nfuncs && !rc; i++) {
		if (v[i]->target_addr == v[i - 1]->target_addr)
			rc = sut_errf(err, "functions %s and %s: same target address %#llx", v[i - 1]->name,
				      v[i]->name, (unsigned long long)v[i]->target_addr);
		else if (v[i]->target_addr - v[i - 1]->target_addr < v[i - 1]->target_size)
			rc = sut_errf(err, "functions %s and %s: target ranges overlap at %#llx",
				      v[i - 1]->name, v[i]->name, (unsigned long long)v[i]->target_addr);
	}
	free(v);
	return rc;
}

static int check_funcs(const struct sut_patch *p, struct sut_err *err)
{
	if (p->nfuncs < 1)
		return sut_errf(err, "patch %s replaces no function", p->id);
	for (size_t i = 0; i < p->nfuncs; i++) {
		const struct sut_patch_func *f = &p->funcs[i];
		if (!f->name || !f->name[0])
			return sut_errf(err, "function %zu: empty name", i);
		if (!opt_ok(f->file) || !opt_ok(f->reason))
			return sut_errf(err, "function %zu (%s): empty file or reason (use NULL for none)", i,
					f->name);
		if (f->replacement >= p->nsymbols)
			return sut_errf(err, "function %zu (%s): replacement symbol %u out of range (%zu symbols)",
					i, f->name, f->replacement, p->nsymbols);
		const struct sut_patch_symbol *y = &p->symbols[f->replacement];
		if (y->kind != SUT_SYM_LOCAL || !y->is_func)
			return sut_errf(err, "function %zu (%s): replacement symbol %s is not a function defined by the patch",
					i, f->name, y->name);
		if (p->sections[y->section].kind != SUT_SEC_TEXT)
			return sut_errf(err, "function %zu (%s): replacement symbol %s is in non-TEXT section %s",
					i, f->name, y->name, p->sections[y->section].name);
		if (f->preimage_len != f->target_size)
			return sut_errf(err, "function %zu (%s): pre-image length %u differs from target size %llu",
					i, f->name, f->preimage_len, (unsigned long long)f->target_size);
		if (f->preimage_len < SUT_JMP_LEN)
			return sut_errf(err, "function %zu (%s): target size %u is smaller than a %d-byte jump",
					i, f->name, f->preimage_len, SUT_JMP_LEN);
		if (!f->preimage)
			return sut_errf(err, "function %zu (%s): no pre-image bytes", i, f->name);
		if (f->target_addr + f->target_size < f->target_addr)
			return sut_errf(err, "function %zu (%s): target range %#llx+%#llx wraps around", i,
					f->name, (unsigned long long)f->target_addr,
					(unsigned long long)f->target_size);
	}
	return check_func_overlap(p, err);
}

static int check_signature(const struct sut_patch *p, struct sut_err *err)
{
	if (!p->sig && !p->sig_len && !p->sig_key_id)
		return 0;
	if (!p->sig || !p->sig_len || !p->sig_key_id)
		return sut_errf(err, "patch %s: incomplete signature (signature, length and key id go together)",
				p->id);
	if (strlen(p->sig_key_id) != SUT_KEY_ID_LEN ||
	    strspn(p->sig_key_id, "0123456789abcdef") != SUT_KEY_ID_LEN)
		return sut_errf(err, "patch %s: signing key id \"%s\" is not %d lower-case hex digits",
				p->id, p->sig_key_id, SUT_KEY_ID_LEN);
	if (p->sig_len > 4096)
		return sut_errf(err, "patch %s: signature of %zu bytes is implausibly long", p->id,
				p->sig_len);
	return 0;
}

int sut_patch_validate(const struct sut_patch *p, struct sut_err *err)
{
	if (check_header(p, err) || check_sections(p, err) || check_symbols(p, err) ||
	    check_relocs(p, err) || check_funcs(p, err) || check_signature(p, err))
		return -1;
	return 0;
}
