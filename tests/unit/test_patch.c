/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the patch layer: the file format (round trip, determinism, readelf can read
 * it), validation rules, the reader's resistance to corrupt files, and signatures. */
#include "fixtures.h"

#include <elf.h>
#include <sys/stat.h>

#include "patch/patch.h"
#include "patch/sign.h"
#include "util/buf.h"

/* ---- a model touching every field ------------------------------------------------- */

static uint8_t *pattern(size_t n, unsigned seed)
{
	uint8_t *b = malloc(n ? n : 1);
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7);
	return b;
}

static struct sut_patch *make_model(void)
{
	struct sut_patch *p = calloc(1, sizeof *p);
	p->format = SUT_PATCH_FORMAT;
	p->id = strdup("fix-parse_header.1+deb");
	p->version = 3;
	p->description = strdup("Fix overflow in parse_header.\nSecond line, with = and ; inside.");
	p->ncves = 2;
	p->cves = calloc(2, sizeof *p->cves);
	p->cves[0] = strdup("CVE-2024-12345");
	p->cves[1] = strdup("CVE-2023-0001");
	p->target_name = strdup("libfoo.so.1");
	p->build_id_len = 20;
	for (int i = 0; i < 20; i++)
		p->build_id[i] = (uint8_t)(0xa0 + i);
	p->consistency = SUT_CONS_PER_CALL;

	p->nsections = 4;
	p->sections = calloc(4, sizeof *p->sections);
	p->sections[0] = (struct sut_patch_section){strdup(".text.parse_header"), SUT_SEC_TEXT, 16, 32, pattern(32, 0x55)};
	p->sections[1] = (struct sut_patch_section){strdup(".rodata.str1.1"), SUT_SEC_RODATA, 1, 12, (uint8_t *)strdup("hello world")};
	p->sections[2] = (struct sut_patch_section){strdup(".data.counter"), SUT_SEC_DATA, 8, 16, pattern(16, 3)};
	p->sections[3] = (struct sut_patch_section){strdup(".bss.cache"), SUT_SEC_BSS, 32, 64, NULL};

	p->nsymbols = 7;
	p->symbols = calloc(7, sizeof *p->symbols);
	p->symbols[0] = (struct sut_patch_symbol){strdup("parse_header"), SUT_SYM_LOCAL, 0, 0, 24, true, NULL};
	p->symbols[1] = (struct sut_patch_symbol){strdup("helper"), SUT_SYM_LOCAL, 0, 24, 8, true, NULL};
	p->symbols[2] = (struct sut_patch_symbol){strdup("msg"), SUT_SYM_LOCAL, 1, 0, 12, false, NULL};
	p->symbols[3] = (struct sut_patch_symbol){strdup("cache"), SUT_SYM_LOCAL, 3, 0, 64, false, NULL};
	p->symbols[4] = (struct sut_patch_symbol){strdup("static_table"), SUT_SYM_TARGET, 0, 0x4010, 256, false, NULL};
	p->symbols[5] = (struct sut_patch_symbol){strdup("errno_loc"), SUT_SYM_TARGET_GOT, 0, 0x3ff8, 0, true, NULL};
	p->symbols[6] = (struct sut_patch_symbol){strdup("memcpy"), SUT_SYM_EXTERN, 0, 0, 0, true, strdup("GLIBC_2.14")};

	struct sut_patch_reloc r[] = {
		{0, 4, R_X86_64_PC32, 2, -4},       {0, 10, R_X86_64_PLT32, 6, -4},
		{0, 16, R_X86_64_GOTPCRELX, 5, -4}, {0, 20, R_X86_64_PC32, 3, -4},
		{0, 24, R_X86_64_64, 4, 0},         {2, 0, R_X86_64_64, 2, 3},
		{2, 8, R_X86_64_PC64, 4, -0x7fffffffffffLL},
	};
	p->nrelocs = sizeof r / sizeof r[0];
	p->relocs = malloc(sizeof r);
	memcpy(p->relocs, r, sizeof r);

	p->nfuncs = 2;
	p->funcs = calloc(2, sizeof *p->funcs);
	p->funcs[0] = (struct sut_patch_func){strdup("parse_header"), strdup("parse.c"), 0x1200, 48,
					      pattern(48, 0x90), 48, 0, strdup("changed")};
	p->funcs[1] = (struct sut_patch_func){strdup("old_helper"), NULL, 0x1300, 5, pattern(5, 1), 5, 1, NULL};
	return p;
}

static void assert_str_eq_opt(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_models_equal(const struct sut_patch *a, const struct sut_patch *b)
{
	assert_int_equal(a->format, b->format);
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->version, b->version);
	assert_str_eq_opt(a->description, b->description);
	assert_int_equal(a->ncves, b->ncves);
	for (size_t i = 0; i < a->ncves; i++)
		assert_string_equal(a->cves[i], b->cves[i]);
	assert_str_eq_opt(a->target_name, b->target_name);
	assert_int_equal(a->build_id_len, b->build_id_len);
	assert_memory_equal(a->build_id, b->build_id, a->build_id_len);
	assert_int_equal(a->consistency, b->consistency);

	assert_int_equal(a->nsections, b->nsections);
	for (size_t i = 0; i < a->nsections; i++) {
		const struct sut_patch_section *x = &a->sections[i], *y = &b->sections[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->align, y->align);
		assert_int_equal(x->size, y->size);
		if (x->kind == SUT_SEC_BSS)
			assert_null(y->bytes);
		else
			assert_memory_equal(x->bytes, y->bytes, x->size);
	}
	assert_int_equal(a->nsymbols, b->nsymbols);
	for (size_t i = 0; i < a->nsymbols; i++) {
		const struct sut_patch_symbol *x = &a->symbols[i], *y = &b->symbols[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->kind, y->kind);
		assert_int_equal(x->section, y->section);
		assert_int_equal(x->value, y->value);
		assert_int_equal(x->size, y->size);
		assert_int_equal(x->is_func, y->is_func);
		assert_str_eq_opt(x->version, y->version);
	}
	assert_int_equal(a->nrelocs, b->nrelocs);
	for (size_t i = 0; i < a->nrelocs; i++) {
		const struct sut_patch_reloc *x = &a->relocs[i], *y = &b->relocs[i];
		assert_int_equal(x->section, y->section);
		assert_int_equal(x->offset, y->offset);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->symbol, y->symbol);
		assert_true(x->addend == y->addend);
	}
	assert_int_equal(a->nfuncs, b->nfuncs);
	for (size_t i = 0; i < a->nfuncs; i++) {
		const struct sut_patch_func *x = &a->funcs[i], *y = &b->funcs[i];
		assert_string_equal(x->name, y->name);
		assert_str_eq_opt(x->file, y->file);
		assert_int_equal(x->target_addr, y->target_addr);
		assert_int_equal(x->target_size, y->target_size);
		assert_int_equal(x->preimage_len, y->preimage_len);
		assert_memory_equal(x->preimage, y->preimage, x->preimage_len);
		assert_int_equal(x->replacement, y->replacement);
		assert_str_eq_opt(x->reason, y->reason);
	}
	assert_int_equal(a->sig_len, b->sig_len);
	if (a->sig_len)
		assert_memory_equal(a->sig, b->sig, a->sig_len);
	assert_str_eq_opt(a->sig_key_id, b->sig_key_id);
}

static void write_ok(const struct sut_patch *p, uint8_t **data, size_t *len)
{
	struct sut_err err = {0};
	if (sut_patch_write_mem(p, data, len, &err))
		fail_msg("write failed: %s", err.msg);
}

static struct sut_patch *read_ok(const uint8_t *data, size_t len)
{
	struct sut_err err = {0};
	struct sut_patch *p = NULL;
	if (sut_patch_read_mem(data, len, &p, &err))
		fail_msg("read failed: %s", err.msg);
	return p;
}

/* Reads must fail, with a message containing `want`. */
static void read_fails(const uint8_t *data, size_t len, const char *want)
{
	struct sut_err err = {0};
	struct sut_patch *p = (struct sut_patch *)0x1; /* must stay untouched */
	if (sut_patch_read_mem(data, len, &p, &err) != -1)
		fail_msg("read succeeded, expected \"%s\"", want);
	assert_ptr_equal(p, (struct sut_patch *)0x1);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

/* File offset and size of a named section, parsed by hand (independent of the reader). */
static void find_section(const uint8_t *d, size_t len, const char *name, size_t *off, size_t *size)
{
	Elf64_Ehdr eh;
	assert_true(len >= sizeof eh);
	memcpy(&eh, d, sizeof eh);
	Elf64_Shdr strsh;
	memcpy(&strsh, d + eh.e_shoff + eh.e_shstrndx * sizeof strsh, sizeof strsh);
	for (size_t i = 1; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, d + eh.e_shoff + i * sizeof sh, sizeof sh);
		if (strcmp((const char *)d + strsh.sh_offset + sh.sh_name, name) == 0) {
			*off = sh.sh_offset;
			*size = sh.sh_size;
			return;
		}
	}
	fail_msg("no section %s", name);
}

/* ---- format ----------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct sut_patch *p = make_model();
	uint8_t *d;
	size_t n;
	write_ok(p, &d, &n);
	struct sut_patch *q = read_ok(d, n);
	assert_models_equal(p, q);

	/* NULL optional fields and the strict rule survive too. */
	free(p->description);
	free(p->target_name);
	p->description = p->target_name = NULL;
	p->consistency = SUT_CONS_STRICT;
	free(d);
	sut_patch_free(q);
	write_ok(p, &d, &n);
	q = read_ok(d, n);
	assert_models_equal(p, q);
	free(d);
	sut_patch_free(q);
	sut_patch_free(p);
}

static void test_deterministic(void **state)
{
	struct sut_patch *p = make_model();
	uint8_t *a, *b, *c;
	size_t na, nb, nc;
	write_ok(p, &a, &na);
	write_ok(p, &b, &nb);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	/* Re-serialising what was read gives the same bytes: what signatures rely on. */
	struct sut_patch *q = read_ok(a, na);
	write_ok(q, &c, &nc);
	assert_int_equal(na, nc);
	assert_memory_equal(a, c, na);
	free(a);
	free(b);
	free(c);
	sut_patch_free(q);
	sut_patch_free(p);
}

static void test_file_and_readelf(void **state)
{
	struct sut_patch *p = make_model();
	struct sut_err err = {0};
	char path[512];
	snprintf(path, sizeof path, "%s/fix.sut", fixture_tmpdir());
	if (sut_patch_write_file(p, path, &err))
		fail_msg("%s", err.msg);
	struct sut_patch *q = NULL;
	if (sut_patch_read_file(path, &q, &err))
		fail_msg("%s", err.msg);
	assert_models_equal(p, q);
	/* The standard tools read it without a single warning. */
	fixture_sh("readelf -a -W fix.sut >readelf.out 2>readelf.err && ! test -s readelf.err");
	fixture_sh("readelf -S -W fix.sut | grep -q ' .suture.meta *PROGBITS'");
	fixture_sh("readelf -S -W fix.sut | grep -q ' .rela.text.parse_header *RELA'");
	fixture_sh("readelf -S -W fix.sut | grep -q ' .bss.cache *NOBITS'");
	fixture_sh("readelf -p .suture.meta fix.sut | grep -q 'id=fix-parse_header.1+deb'");
	fixture_sh("readelf -p .suture.meta fix.sut | grep -q 'cve=CVE-2023-0001'");
	fixture_sh("readelf -s -W fix.sut | grep -q 'FUNC *GLOBAL *DEFAULT *UND memcpy'");
	fixture_sh("readelf -r -W fix.sut | grep -q 'R_X86_64_PLT32.*memcpy - 4'");
	fixture_sh("objdump -d fix.sut >/dev/null 2>&1");

	snprintf(path, sizeof path, "%s/missing.sut", fixture_tmpdir());
	assert_int_equal(sut_patch_read_file(path, &q, &err), -1);
	assert_non_null(strstr(err.msg, "missing.sut"));
	sut_patch_free(q);
	sut_patch_free(p);
}

static void test_find_symbol(void **state)
{
	struct sut_patch *p = make_model();
	assert_int_equal(sut_patch_find_symbol(p, "helper"), 1);
	assert_int_equal(sut_patch_find_symbol(p, "memcpy"), 6);
	assert_int_equal(sut_patch_find_symbol(p, "msg"), -1); /* data, not a function */
	assert_int_equal(sut_patch_find_symbol(p, "nope"), -1);
	assert_true(sut_patch_reloc_type_ok(R_X86_64_REX_GOTPCRELX));
	assert_false(sut_patch_reloc_type_ok(R_X86_64_GOTOFF64));
	assert_false(sut_patch_reloc_type_ok(R_X86_64_TPOFF32));
	sut_patch_free(p);
}

/* ---- validation ------------------------------------------------------------------- */

/* Mutation applied to a fresh model, then validate and write must both refuse it. */
static void invalid(void (*mutate)(struct sut_patch *), const char *want)
{
	struct sut_patch *p = make_model();
	struct sut_err err = {0};
	assert_int_equal(sut_patch_validate(p, &err), 0);
	mutate(p);
	assert_int_equal(sut_patch_validate(p, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
	uint8_t *d = NULL;
	size_t n;
	assert_int_equal(sut_patch_write_mem(p, &d, &n, &err), -1);
	assert_null(d);
	sut_patch_free(p);
}

static void m_bad_id(struct sut_patch *p) { p->id[3] = ' '; }
static void m_long_id(struct sut_patch *p)
{
	free(p->id);
	p->id = malloc(129);
	memset(p->id, 'a', 128);
	p->id[128] = 0;
}
static void m_reloc_offset(struct sut_patch *p) { p->relocs[3].offset = 30; }
static void m_reloc_offset64(struct sut_patch *p) { p->relocs[4].offset = 25; }
static void m_reloc_symbol(struct sut_patch *p) { p->relocs[1].symbol = 7; }
static void m_reloc_section(struct sut_patch *p) { p->relocs[1].section = 9; }
static void m_reloc_bss(struct sut_patch *p) { p->relocs[1].section = 3; }
static void m_reloc_type(struct sut_patch *p) { p->relocs[2].type = R_X86_64_GOTOFF64; }
static void m_preimage_len(struct sut_patch *p) { p->funcs[0].target_size = 47; }
static void m_preimage_short(struct sut_patch *p) { p->funcs[1].target_size = p->funcs[1].preimage_len = 4; }
static void m_repl_not_local(struct sut_patch *p) { p->funcs[1].replacement = 6; }
static void m_repl_not_func(struct sut_patch *p) { p->funcs[1].replacement = 2; }
static void m_repl_range(struct sut_patch *p) { p->funcs[1].replacement = 70; }
static void m_dup_target(struct sut_patch *p) { p->funcs[1].target_addr = 0x1200; }
static void m_overlap(struct sut_patch *p) { p->funcs[1].target_addr = 0x1210; }
static void m_cve(struct sut_patch *p) { p->cves[1][0] = 'c'; }
static void m_cve_short(struct sut_patch *p) { strcpy(p->cves[1], "CVE-2023-12"); }
static void m_no_funcs(struct sut_patch *p)
{
	for (size_t i = 0; i < p->nfuncs; i++) {
		free(p->funcs[i].name);
		free(p->funcs[i].file);
		free(p->funcs[i].preimage);
		free(p->funcs[i].reason);
	}
	p->nfuncs = 0;
}
static void m_version(struct sut_patch *p) { p->version = 0; }
static void m_build_id(struct sut_patch *p) { p->build_id_len = 0; }
static void m_format(struct sut_patch *p) { p->format = 2; }
static void m_align(struct sut_patch *p) { p->sections[2].align = 12; }
static void m_sym_range(struct sut_patch *p) { p->symbols[1].size = 9; }
static void m_sym_section(struct sut_patch *p) { p->symbols[2].section = 4; }
static void m_reserved_name(struct sut_patch *p) { strcpy(p->sections[2].name, ".suture.x"); }
static void m_empty_name(struct sut_patch *p) { p->symbols[4].name[0] = 0; }
static void m_version_on_local(struct sut_patch *p) { p->symbols[0].version = strdup("V1"); }
static void m_half_sig(struct sut_patch *p) { p->sig_key_id = strdup("0123456789abcdef"); }

static void test_validation(void **state)
{
	invalid(m_bad_id, "patch id \"fix parse_header.1+deb\": must be 1-127 characters");
	invalid(m_long_id, "patch id");
	invalid(m_reloc_offset, "relocation 3: offset 0x1e outside section .text.parse_header (size 0x20)");
	invalid(m_reloc_offset64, "relocation 4: offset 0x19 outside section .text.parse_header");
	invalid(m_reloc_symbol, "relocation 1: symbol 7 out of range (7 symbols)");
	invalid(m_reloc_section, "relocation 1: section 9 out of range");
	invalid(m_reloc_bss, "relocation 1: patches BSS section .bss.cache");
	invalid(m_reloc_type, "relocation 2: unsupported type 25");
	invalid(m_preimage_len, "function 0 (parse_header): pre-image length 48 differs from target size 47");
	invalid(m_preimage_short, "function 1 (old_helper): target size 4 is smaller than a 5-byte jump");
	invalid(m_repl_not_local, "function 1 (old_helper): replacement symbol memcpy is not a function defined by the patch");
	invalid(m_repl_not_func, "replacement symbol msg is not a function");
	invalid(m_repl_range, "replacement symbol 70 out of range");
	invalid(m_dup_target, "functions parse_header and old_helper: same target address 0x1200");
	invalid(m_overlap, "target ranges overlap");
	invalid(m_cve, "cve 1 \"cVE-2023-0001\"");
	invalid(m_cve_short, "cve 1");
	invalid(m_no_funcs, "replaces no function");
	invalid(m_version, "version must be at least 1");
	invalid(m_build_id, "build-id length 0");
	invalid(m_format, "unsupported patch format 2 (this suture reads 1)");
	invalid(m_align, "alignment 0xc");
	invalid(m_sym_range, "symbol 1 (helper): range 0x18+0x9 outside section .text.parse_header (size 0x20)");
	invalid(m_sym_section, "symbol 2 (msg): section 4 out of range");
	invalid(m_reserved_name, "reserved");
	invalid(m_empty_name, "symbol 4: empty name");
	invalid(m_version_on_local, "symbol 0 (parse_header): a version is allowed only on an EXTERN symbol");
	invalid(m_half_sig, "incomplete signature");
}

/* ---- reader errors ---------------------------------------------------------------- */

static void test_reader_errors(void **state)
{
	read_fails((const uint8_t *)"hello, world", 12, "not an ELF file");
	read_fails((const uint8_t *)"", 0, "not an ELF file");

	/* A compiler's object file is an ELF ET_REL x86-64 file, but not a patch. */
	char *obj = fixture_cc("plain", "int f(int x) { return x + 1; }\n", "-c -O2", "plain.o");
	uint8_t *d;
	size_t n;
	struct sut_err err = {0};
	assert_int_equal(sut_read_file(obj, &d, &n, &err), 0);
	read_fails(d, n, "not a suture patch: no .suture.meta section");
	free(d);
	free(obj);

	struct sut_patch *p = make_model();
	write_ok(p, &d, &n);
	size_t off, size;

	/* A future format is refused as such. */
	uint8_t *f = memmem(d, n, "format=1", 8);
	assert_non_null(f);
	f[7] = '2';
	read_fails(d, n, "unsupported patch format 2 (this suture reads 1)");
	f[7] = '1';

	/* Unknown keys are ignored (forward compatibility): rename "target" to "targex". */
	uint8_t *t = memmem(d, n, "target=", 7);
	t[5] = 'x';
	struct sut_patch *q = read_ok(d, n);
	assert_null(q->target_name);
	sut_patch_free(q);
	t[5] = 't';

	/* A preimage offset past its blob names the record and both sizes. */
	find_section(d, n, ".suture.funcs", &off, &size);
	assert_int_equal(size, 2 * 40);
	uint8_t save = d[off + 40 + 32];
	d[off + 40 + 32] = 0x31; /* record 1's preimage offset: 0x31, preimage blob is 0x35 bytes */
	read_fails(d, n, "corrupt patch: .suture.funcs: record 1: preimage range 0x31+0x5 outside .suture.preimage (size 0x35)");
	d[off + 40 + 32] = save;

	/* A relocation type the link layer does not implement. */
	find_section(d, n, ".rela.text.parse_header", &off, &size);
	d[off + 8] = R_X86_64_GOTOFF64; /* r_info low byte of entry 0 = type */
	read_fails(d, n, "corrupt patch: .rela.text.parse_header: entry 0: unsupported relocation type 25");
	d[off + 8] = R_X86_64_PC32;
	/* A relocation whose field runs past its section. */
	d[off] = 0x1e;
	read_fails(d, n, ".rela.text.parse_header: entry 0: 4-byte field at 0x1e outside .text.parse_header (size 0x20)");
	d[off] = 4;
	/* A relocation naming a symbol that does not exist. */
	d[off + 12] = 99;
	read_fails(d, n, "entry 0: symbol index 99 out of range (7 symbols)");
	d[off + 12] = 3;

	/* Record counts must match. */
	find_section(d, n, ".suture.bind", &off, &size);
	d[off + 32] = 5; /* record 1 claims symbol 5 */
	read_fails(d, n, "corrupt patch: .suture.bind: record 1: symbol index 5 (expected 2)");
	d[off + 32] = 2;

	/* Still intact after all the restorations. */
	q = read_ok(d, n);
	assert_models_equal(p, q);
	sut_patch_free(q);
	free(d);
	sut_patch_free(p);
}

/* A corrupt file must read cleanly or fail with a message: never crash, never leak. */
static void try_read(const uint8_t *d, size_t n, size_t *ok, size_t *bad)
{
	struct sut_err err = {0};
	struct sut_patch *p = NULL;
	if (sut_patch_read_mem(d, n, &p, &err) == 0) {
		assert_non_null(p);
		/* Whatever was read is a valid model that serialises. */
		uint8_t *w;
		size_t wn;
		write_ok(p, &w, &wn);
		free(w);
		sut_patch_free(p);
		(*ok)++;
	} else {
		assert_null(p);
		assert_true(err.msg[0] != 0);
		(*bad)++;
	}
}

static void test_corrupt_fuzz(void **state)
{
	struct sut_patch *p = make_model();
	uint8_t *d;
	size_t n, ok = 0, bad = 0;
	write_ok(p, &d, &n);
	for (size_t len = 0; len < n; len++) {
		uint8_t *cut = malloc(len ? len : 1); /* exact size so overreads are visible to tools */
		memcpy(cut, d, len);
		try_read(cut, len, &ok, &bad);
		free(cut);
	}
	assert_true(bad >= n - 16); /* trailing padding aside, every truncation is detected */

	Elf64_Ehdr eh;
	memcpy(&eh, d, sizeof eh);
	srand(12345);
	uint8_t *m = malloc(n);
	for (int i = 0; i < 6000; i++) {
		memcpy(m, d, n);
		/* Half anywhere, half in the headers, where a wrong byte does the most damage. */
		size_t at = i % 2 ? (size_t)rand() % n
				  : (i % 4 ? (size_t)rand() % sizeof eh
					   : eh.e_shoff + (size_t)rand() % (n - eh.e_shoff));
		uint8_t v = (uint8_t)(rand() % 255 + 1);
		m[at] ^= v;
		try_read(m, n, &ok, &bad);
	}
	free(m);
	print_message("fuzz: %zu read, %zu refused\n", ok, bad);
	assert_true(bad > 1000);
	free(d);
	sut_patch_free(p);
}

/* ---- signatures ------------------------------------------------------------------- */

static void keypair(const char *name, char *priv, char *pub)
{
	struct sut_err err = {0};
	sprintf(priv, "%s/%s.key", fixture_tmpdir(), name);
	sprintf(pub, "%s/%s.pub", fixture_tmpdir(), name);
	if (sut_key_generate(priv, pub, &err))
		fail_msg("%s", err.msg);
}

static void test_sign_verify(void **state)
{
	char priv[512], pub[512], priv2[512], pub2[512], id[SUT_KEY_ID_LEN + 1], fid[SUT_KEY_ID_LEN + 1];
	struct sut_err err = {0};
	keypair("alice", priv, pub);
	keypair("mallory", priv2, pub2);
	struct stat st;
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* An existing private key is never overwritten. */
	assert_int_equal(sut_key_generate(priv, pub, &err), -1);

	struct sut_patch *p = make_model();
	const char *alice[] = {pub}, *both[] = {pub2, pub}, *other[] = {pub2};
	assert_int_equal(sut_patch_verify(p, alice, 1, id, &err), -1);
	assert_string_equal(err.msg, "patch fix-parse_header.1+deb is not signed");

	uint8_t *unsigned_bytes, *canon, *d;
	size_t un, cn, n;
	write_ok(p, &unsigned_bytes, &un);
	if (sut_patch_sign(p, priv, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(p->sig_len, 64);
	assert_int_equal(sut_key_id_of_file(pub, fid, &err), 0);
	assert_string_equal(p->sig_key_id, fid);
	assert_int_equal(sut_key_id_of_file(priv, fid, &err), 0); /* same id from either half */
	assert_string_equal(p->sig_key_id, fid);

	/* What is signed is the file without its signature. */
	assert_int_equal(sut_patch_canonical_bytes(p, &canon, &cn, &err), 0);
	assert_int_equal(cn, un);
	assert_memory_equal(canon, unsigned_bytes, un);

	/* Signed file round trip, then verification against the trusted set. */
	write_ok(p, &d, &n);
	assert_true(n > un);
	struct sut_patch *q = read_ok(d, n);
	assert_models_equal(p, q);
	memset(id, 0, sizeof id);
	if (sut_patch_verify(q, both, 2, id, &err))
		fail_msg("%s", err.msg);
	assert_string_equal(id, p->sig_key_id);
	sut_patch_free(q);

	/* Another trusted set: unknown key. */
	q = read_ok(d, n);
	assert_int_equal(sut_patch_verify(q, other, 1, id, &err), -1);
	char want[256];
	snprintf(want, sizeof want, "signed by unknown key %s (not among 1 trusted keys)", p->sig_key_id);
	assert_non_null(strstr(err.msg, want));
	sut_patch_free(q);

	/* One byte of code changed in the file. */
	size_t off, size;
	find_section(d, n, ".text.parse_header", &off, &size);
	d[off + 2] ^= 0x01;
	q = read_ok(d, n);
	assert_int_equal(sut_patch_verify(q, alice, 1, id, &err), -1);
	assert_non_null(strstr(err.msg, "bad signature (patch modified after signing?)"));
	sut_patch_free(q);
	d[off + 2] ^= 0x01;

	/* One byte of metadata or of the signature itself. */
	uint8_t *v = memmem(d, n, "version=3", 9);
	v[8] = '4';
	q = read_ok(d, n);
	assert_int_equal(sut_patch_verify(q, alice, 1, id, &err), -1);
	assert_non_null(strstr(err.msg, "bad signature"));
	sut_patch_free(q);
	v[8] = '3';
	d[n - 1] ^= 0; /* section headers are last; flip the last signature byte instead */
	find_section(d, n, ".suture.sig", &off, &size);
	d[off + size - 1] ^= 0x80;
	q = read_ok(d, n);
	assert_int_equal(sut_patch_verify(q, alice, 1, id, &err), -1);
	assert_non_null(strstr(err.msg, "bad signature"));
	sut_patch_free(q);
	d[off + size - 1] ^= 0x80;

	/* Restored: verifies again. */
	q = read_ok(d, n);
	assert_int_equal(sut_patch_verify(q, alice, 1, NULL, &err), 0);
	sut_patch_free(q);

	/* A missing trusted key file is an error naming it. */
	const char *missing[] = {"/nonexistent/key.pub"};
	assert_int_equal(sut_patch_verify(p, missing, 1, id, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/key.pub"));

	free(d);
	free(canon);
	free(unsigned_bytes);
	sut_patch_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_file_and_readelf),
		cmocka_unit_test(test_find_symbol),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_corrupt_fuzz),
		cmocka_unit_test(test_sign_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
