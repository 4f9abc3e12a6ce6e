/* SPDX-License-Identifier: Apache-2.0 */
/* The elf layer against fixture objects built here with gcc, checked against what
 * binutils (readelf) reports about the same files. */
#include "fixtures.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "elf/elf.h"
#include "util/buf.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

/* Two files with a static `helper` each (different bodies), a global, a hidden function,
 * an exported variable read through the GOT and an imported libc function. */
static const char src_a[] =
	"__attribute__((noinline)) static int helper(void) { return 1; }\n"
	"int a_fn(void) { return helper(); }\n";
static const char src_b[] =
	"#include <stdio.h>\n"
	"__attribute__((noinline)) static int helper(void) { return 2; }\n"
	"__attribute__((visibility(\"hidden\"), noinline)) int hidden_fn(void) { return 7; }\n"
	"int counter = 5;\n"
	"int b_fn(void) { puts(\"b\"); return helper() + hidden_fn() + counter; }\n";
/* Two versions of one exported function, the newer the default. */
static const char src_ver[] =
	"int foo_v1(void) { return 1; }\n"
	"int foo_v2(void) { return 2; }\n"
	"__asm__(\".symver foo_v1,foo@V1\");\n"
	"__asm__(\".symver foo_v2,foo@@V2\");\n";

static char *lib_path, *obj_a_path, *ver_path;

static int setup(void **state)
{
	const char *cflags = "-c -fPIC -O1 -fcf-protection=none";
	obj_a_path = fixture_cc("a", src_a, cflags, "a.o");
	free(fixture_cc("b", src_b, cflags, "b.o"));
	fixture_sh("gcc -shared -Wl,--build-id -o libfix.so a.o b.o");
	fixture_sh("readelf -n libfix.so | awk '/Build ID/ {print $3}' > buildid.txt");
	fixture_sh("readelf -rW libfix.so | awk '$3 == \"R_X86_64_JUMP_SLOT\" && $5 ~ /^puts@/ "
		   "{print $1}' > puts_slot.txt");
	fixture_sh("readelf -rW libfix.so | awk '$3 == \"R_X86_64_GLOB_DAT\" && $5 == "
		   "\"counter\" {print $1}' > counter_slot.txt");
	fixture_sh("printf 'V1 { global: foo; local: *; };\\nV2 { global: foo; } V1;\\n' > ver.map");
	free(fixture_cc("ver", src_ver, cflags, "ver.o"));
	fixture_sh("gcc -shared -Wl,--version-script=ver.map -o libver.so ver.o");
	lib_path = sut_xasprintf("%s/libfix.so", fixture_tmpdir());
	ver_path = sut_xasprintf("%s/libver.so", fixture_tmpdir());
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	free(lib_path);
	free(obj_a_path);
	free(ver_path);
	(void)state;
	return 0;
}

static struct sut_elf *open_ok(const char *path)
{
	struct sut_elf *e = NULL;
	struct sut_err err = {0};
	if (sut_elf_open(path, &e, &err) != 0)
		fail_msg("open %s: %s", path, err.msg);
	return e;
}

/* First line of a file the fixture wrote, without its newline. */
static void read_line(const char *name, char *out, size_t cap)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", fixture_tmpdir(), name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, (int)cap, f));
	fclose(f);
	out[strcspn(out, "\n")] = 0;
}

static void test_static_helpers_by_file_scope(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	struct sut_err err = {0};
	const struct sut_sym *a = NULL, *b = NULL, *prefixed = NULL;
	assert_true(sut_elf_has_symtab(e));
	assert_int_equal(sut_elf_find_sym(e, "helper", "a.c", &a, &err), 1);
	assert_int_equal(sut_elf_find_sym(e, "helper", "b.c", &b, &err), 1);
	assert_string_equal(a->file, "a.c");
	assert_string_equal(b->file, "b.c");
	assert_int_equal(a->bind, STB_LOCAL);
	assert_int_equal(a->type, STT_FUNC);
	assert_int_not_equal(a->value, b->value);
	/* a directory prefix on the caller's side still names the same file */
	assert_int_equal(sut_elf_find_sym(e, "helper", "crypto/evp/a.c", &prefixed, &err), 1);
	assert_ptr_equal(prefixed, a);

	/* the bodies differ as the sources do: mov $1,%eax / mov $2,%eax */
	uint8_t code[5];
	assert_int_equal(sut_elf_read_vaddr(e, a->value, code, sizeof code, &err), 0);
	assert_int_equal(code[0], 0xb8);
	assert_int_equal(code[1], 1);
	assert_int_equal(sut_elf_read_vaddr(e, b->value, code, sizeof code, &err), 0);
	assert_int_equal(code[0], 0xb8);
	assert_int_equal(code[1], 2);
	sut_elf_close(e);
	(void)state;
}

static void test_global_hidden_absent(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;
	assert_int_equal(sut_elf_find_sym(e, "a_fn", NULL, &s, &err), 1);
	assert_int_equal(s->bind, STB_GLOBAL);
	assert_null(s->file);
	/* a scope with no local of that name falls back to the global */
	const struct sut_sym *s2 = NULL;
	assert_int_equal(sut_elf_find_sym(e, "a_fn", "b.c", &s2, &err), 1);
	assert_ptr_equal(s, s2);
	/* hidden: a local after linking, found as the unique local of its name */
	assert_int_equal(sut_elf_find_sym(e, "hidden_fn", NULL, &s, &err), 1);
	assert_int_equal(s->bind, STB_LOCAL);
	assert_int_equal(s->type, STT_FUNC);
	assert_int_equal(sut_elf_find_sym(e, "counter", NULL, &s, &err), 1);
	assert_int_equal(s->type, STT_OBJECT);
	assert_int_equal(sut_elf_find_sym(e, "no_such_function", NULL, &s, &err), 0);
	assert_null(s);
	/* undefined references are not definitions */
	assert_int_equal(sut_elf_find_sym(e, "puts", NULL, &s, &err), 0);
	sut_elf_close(e);
	(void)state;
}

static void test_ambiguous_helper(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;
	assert_int_equal(sut_elf_find_sym(e, "helper", NULL, &s, &err), -1);
	assert_null(s);
	assert_non_null(strstr(err.msg, "helper"));
	assert_non_null(strstr(err.msg, "a.c"));
	assert_non_null(strstr(err.msg, "b.c"));
	sut_err_clear(&err);
	assert_int_equal(sut_elf_find_sym(e, "helper", "c.c", &s, &err), -1);
	assert_non_null(strstr(err.msg, "a.c"));
	sut_elf_close(e);
	(void)state;
}

static void test_build_id_file_and_image(void **state)
{
	char expect[128], hex[128];
	read_line("buildid.txt", expect, sizeof expect);
	assert_true(strlen(expect) >= 16);

	struct sut_elf *e = open_ok(lib_path);
	const uint8_t *id = NULL;
	size_t n = sut_elf_build_id(e, &id);
	assert_true(n > 0 && n <= 64);
	sut_hex(id, n, hex);
	assert_string_equal(hex, expect);
	sut_elf_close(e);

	uint8_t *data;
	size_t len;
	struct sut_err err = {0};
	assert_int_equal(sut_read_file(lib_path, &data, &len, &err), 0);
	assert_true(len > 4096);
	uint8_t out[64];
	n = sut_elf_build_id_from_image(data, 4096, out, sizeof out);
	assert_true(n > 0);
	sut_hex(out, n, hex);
	assert_string_equal(hex, expect);
	/* too small to hold the notes, or too small a buffer for the id: nothing */
	assert_int_equal(sut_elf_build_id_from_image(data, 64, out, sizeof out), 0);
	assert_int_equal(sut_elf_build_id_from_image(data, 4096, out, 4), 0);
	/* program headers pointing far outside the image: nothing, and no crash */
	Elf64_Ehdr *eh = (Elf64_Ehdr *)data;
	eh->e_phoff = 1ull << 40;
	assert_int_equal(sut_elf_build_id_from_image(data, 4096, out, sizeof out), 0);
	free(data);
	(void)state;
}

/* File offset of vaddr computed from section headers, independently of PT_LOAD. */
static uint64_t file_offset_of(Elf *elf, uint64_t vaddr)
{
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		gelf_getshdr(scn, &sh);
		if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_ALLOC) && vaddr >= sh.sh_addr &&
		    vaddr < sh.sh_addr + sh.sh_size)
			return sh.sh_offset + (vaddr - sh.sh_addr);
	}
	fail_msg("no section holds 0x%llx", (unsigned long long)vaddr);
	return 0;
}

static void test_read_vaddr_matches_file(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;
	assert_int_equal(sut_elf_find_sym(e, "b_fn", NULL, &s, &err), 1);
	assert_true(s->size > 8);
	uint8_t *data;
	size_t len;
	assert_int_equal(sut_read_file(lib_path, &data, &len, &err), 0);
	uint64_t off = file_offset_of(sut_elf_handle(e), s->value);
	uint8_t *buf = malloc(s->size);
	assert_int_equal(sut_elf_read_vaddr(e, s->value, buf, s->size, &err), 0);
	assert_memory_equal(buf, data + off, s->size);
	free(buf);
	free(data);

	uint64_t lo, hi;
	sut_elf_load_span(e, &lo, &hi);
	assert_int_equal(lo, 0);
	assert_true(hi > s->value);
	/* .bss-like tail and addresses past the image */
	uint8_t b[16];
	assert_int_equal(sut_elf_read_vaddr(e, hi + 0x1000, b, sizeof b, &err), -1);
	assert_non_null(strstr(err.msg, "outside"));
	assert_int_equal(sut_elf_read_vaddr(e, hi - 4, b, sizeof b, &err), -1);
	sut_elf_close(e);
	(void)state;
}

static uint64_t read_hex_line(const char *name)
{
	char line[64];
	read_line(name, line, sizeof line);
	return strtoull(line, NULL, 16);
}

static void test_got_slots(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	uint64_t slot = 0;
	assert_int_equal(sut_elf_got_slot(e, "puts", &slot), 1);
	assert_int_equal(slot, read_hex_line("puts_slot.txt"));
	assert_int_equal(sut_elf_got_slot(e, "counter", &slot), 1);
	assert_int_equal(slot, read_hex_line("counter_slot.txt"));
	assert_int_equal(sut_elf_got_slot(e, "no_such_symbol", &slot), 0);
	/* a_fn is called directly within the library: no slot */
	assert_int_equal(sut_elf_got_slot(e, "a_fn", &slot), 0);
	sut_elf_close(e);
	(void)state;
}

static void test_dynsym_versions_libc(void **state)
{
	struct sut_elf *e = open_ok(LIBC);
	uint64_t def = 0, v214 = 0, v225 = 0;
	uint8_t type = 0;
	assert_int_equal(sut_elf_find_dynsym(e, "memcpy", NULL, &def, &type), 1);
	assert_true(type == STT_FUNC || type == STT_GNU_IFUNC);
	assert_int_equal(sut_elf_find_dynsym(e, "memcpy", "GLIBC_2.14", &v214, NULL), 1);
	assert_int_equal(sut_elf_find_dynsym(e, "memcpy", "GLIBC_2.2.5", &v225, NULL), 1);
	assert_int_equal(def, v214);
	assert_int_not_equal(def, v225);
	assert_int_equal(sut_elf_find_dynsym(e, "memcpy", "GLIBC_9.99", &def, NULL), 0);
	assert_int_equal(sut_elf_find_dynsym(e, "no_such_symbol_here", NULL, &def, NULL), 0);
	sut_elf_close(e);
	(void)state;
}

static void test_dynsym_versions_fixture(void **state)
{
	struct sut_elf *e = open_ok(ver_path);
	uint64_t def = 0, v1 = 0, v2 = 0;
	assert_int_equal(sut_elf_find_dynsym(e, "foo", NULL, &def, NULL), 1);
	assert_int_equal(sut_elf_find_dynsym(e, "foo", "V1", &v1, NULL), 1);
	assert_int_equal(sut_elf_find_dynsym(e, "foo", "V2", &v2, NULL), 1);
	assert_int_equal(def, v2);
	assert_int_not_equal(v1, v2);
	/* a versioned file does not satisfy a version it does not define */
	assert_int_equal(sut_elf_find_dynsym(e, "foo", "V3", &def, NULL), 0);
	/* .symtab carries the versions in the names; a bare name means the default */
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;
	assert_int_equal(sut_elf_find_sym(e, "foo", NULL, &s, &err), 1);
	assert_int_equal(s->value, v2);
	assert_int_equal(sut_elf_find_sym(e, "foo@V1", NULL, &s, &err), 1);
	assert_int_equal(s->value, v1);
	sut_elf_close(e);

	e = open_ok(lib_path);
	assert_int_equal(sut_elf_find_dynsym(e, "a_fn", NULL, &def, NULL), 1);
	/* as the dynamic linker: a file without version information satisfies a versioned
	 * reference (an unversioned interposer in front of libc) */
	assert_int_equal(sut_elf_find_dynsym(e, "a_fn", "V1", &def, NULL), 1);
	assert_int_equal(sut_elf_find_dynsym(e, "hidden_fn", NULL, &def, NULL), 0);
	assert_int_equal(sut_elf_find_dynsym(e, "puts", NULL, &def, NULL), 0);
	sut_elf_close(e);
	(void)state;
}

static void test_needed_version(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	const char *v = sut_elf_needed_version(e, "puts");
	assert_non_null(v);
	assert_string_equal(v, "GLIBC_2.2.5");
	assert_null(sut_elf_needed_version(e, "a_fn"));
	assert_null(sut_elf_needed_version(e, "no_such_symbol"));
	sut_elf_close(e);
	(void)state;
}

static void test_sym_at(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	struct sut_err err = {0};
	const struct sut_sym *s = NULL, *b = NULL;
	assert_int_equal(sut_elf_find_sym(e, "b_fn", NULL, &s, &err), 1);
	assert_ptr_equal(sut_elf_sym_at(e, s->value), s);
	assert_ptr_equal(sut_elf_sym_at(e, s->value + s->size - 1), s);
	assert_int_equal(sut_elf_find_sym(e, "helper", "b.c", &b, &err), 1);
	assert_ptr_equal(sut_elf_sym_at(e, b->value + 1), b);
	assert_int_equal(sut_elf_find_sym(e, "counter", NULL, &s, &err), 1);
	assert_ptr_equal(sut_elf_sym_at(e, s->value + 2), s);
	assert_null(sut_elf_sym_at(e, 0));
	assert_null(sut_elf_sym_at(e, UINT64_MAX));
	sut_elf_close(e);
	(void)state;
}

static void test_symbol_table_indices(void **state)
{
	struct sut_elf *e = open_ok(lib_path);
	assert_true(sut_elf_nsyms(e) > 10);
	for (size_t i = 0; i < sut_elf_nsyms(e); i++)
		assert_int_equal(sut_elf_sym(e, i)->index, i);
	assert_null(sut_elf_sym(e, sut_elf_nsyms(e)));
	sut_elf_close(e);
	(void)state;
}

/* libc has no .symtab: symbols come from .dynsym, and every defined name is found
 * again by lookup (the hash index holds every entry, even with thousands of names). */
static void test_dynsym_only_lookup_all(void **state)
{
	struct sut_elf *e = open_ok(LIBC);
	struct sut_err err = {0};
	assert_false(sut_elf_has_symtab(e));
	size_t found = 0;
	for (size_t i = 0; i < sut_elf_nsyms(e); i++) {
		const struct sut_sym *s = sut_elf_sym(e, i), *got = NULL;
		assert_true(s->from_dynsym);
		if (s->shndx == SHN_UNDEF || s->type == STT_SECTION || !s->name[0] ||
		    s->bind == STB_LOCAL)
			continue;
		assert_int_equal(sut_elf_find_sym(e, s->name, NULL, &got, &err), 1);
		assert_string_equal(got->name, s->name);
		found++;
	}
	assert_true(found > 1000);
	sut_elf_close(e);
	(void)state;
}

static void test_relocatable_object(void **state)
{
	struct sut_elf *e = open_ok(obj_a_path);
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;
	assert_int_equal(sut_elf_type(e), ET_REL);
	assert_true(sut_elf_has_symtab(e));
	assert_non_null(sut_elf_handle(e));
	assert_int_equal(sut_elf_find_sym(e, "helper", "a.c", &s, &err), 1);
	assert_string_equal(s->file, "a.c");
	assert_int_equal(sut_elf_find_sym(e, "a_fn", NULL, &s, &err), 1);
	assert_int_equal(s->bind, STB_GLOBAL);
	uint64_t lo = 1, hi = 1;
	sut_elf_load_span(e, &lo, &hi);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 0);
	uint8_t b[4];
	assert_int_equal(sut_elf_read_vaddr(e, s->value, b, sizeof b, &err), -1);
	const uint8_t *id;
	assert_int_equal(sut_elf_build_id(e, &id), 0);
	sut_elf_close(e);
	(void)state;
}

/* Every truncation of the library is refused with a message naming it, never a crash. */
static void test_truncated_and_garbage(void **state)
{
	uint8_t *data;
	size_t len;
	struct sut_err err = {0};
	struct sut_elf *e = NULL;
	assert_int_equal(sut_read_file(lib_path, &data, &len, &err), 0);
	for (size_t cut = 0; cut < len; cut += 61) {
		sut_err_clear(&err);
		if (sut_elf_open_mem(data, cut, "cut.so", &e, &err) == 0)
			fail_msg("a copy truncated to %zu of %zu bytes was accepted", cut, len);
		assert_null(e);
		assert_non_null(strstr(err.msg, "cut.so"));
	}
	/* the same through a file on disk */
	char path[512];
	snprintf(path, sizeof path, "%s/truncated.so", fixture_tmpdir());
	assert_int_equal(sut_write_file(path, data, len / 2, &err), 0);
	assert_int_equal(sut_elf_open(path, &e, &err), -1);
	assert_non_null(strstr(err.msg, "truncated.so"));
	assert_int_equal(sut_elf_open("/nonexistent/lib.so", &e, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/lib.so"));
	const char junk[] = "this is not an ELF file at all";
	assert_int_equal(sut_elf_open_mem(junk, sizeof junk, "junk", &e, &err), -1);
	assert_non_null(strstr(err.msg, "not an ELF"));
	/* the complete image opens from memory and agrees with the file */
	assert_int_equal(sut_elf_open_mem(data, len, "whole.so", &e, &err), 0);
	assert_string_equal(sut_elf_path(e), "whole.so");
	assert_int_equal(sut_elf_type(e), ET_DYN);
	sut_elf_close(e);
	free(data);
	(void)state;
}

/* Compilers that keep a directory in STT_FILE ("d1/x.c", "d2/x.c") let a full path
 * tell apart two files of one basename; the basename alone stays ambiguous. */
static void test_same_basename_in_two_directories(void **state)
{
	for (int i = 1; i <= 2; i++)
		fixture_sh("printf '\t.file \"d%d/x.c\"\n\t.text\n\t.type helper, @function\n"
			   "helper:\n\tmov $%d, %%%%eax\n\tret\n\t.size helper, .-helper\n"
			   "\t.globl g%d\n\t.type g%d, @function\ng%d:\n\tjmp helper\n"
			   "\t.size g%d, .-g%d\n\t.section .note.GNU-stack,\"\",@progbits\n' > d%d.s",
			   i, i, i, i, i, i, i, i);
	fixture_sh("gcc -shared -o libdup.so d1.s d2.s");
	char *path = sut_xasprintf("%s/libdup.so", fixture_tmpdir());
	struct sut_elf *e = open_ok(path);
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;
	uint8_t code[2];
	assert_int_equal(sut_elf_find_sym(e, "helper", "d2/x.c", &s, &err), 1);
	assert_string_equal(s->file, "d2/x.c");
	assert_int_equal(sut_elf_read_vaddr(e, s->value, code, sizeof code, &err), 0);
	assert_int_equal(code[0], 0xb8);
	assert_int_equal(code[1], 2);
	assert_int_equal(sut_elf_find_sym(e, "helper", "x.c", &s, &err), -1);
	assert_non_null(strstr(err.msg, "d1/x.c"));
	assert_non_null(strstr(err.msg, "d2/x.c"));
	sut_elf_close(e);
	free(path);
	(void)state;
}

/* A stripped library has no static functions; its debug file, found by build-id, has
 * them at the addresses the stripped file's code occupies. */
static void test_debug_file_by_build_id(void **state)
{
	char id_hex[128];
	read_line("buildid.txt", id_hex, sizeof id_hex);
	fixture_sh("strip --strip-all -o libfix.stripped.so libfix.so && "
		   "mkdir -p dbg/.build-id/%.2s && "
		   "objcopy --only-keep-debug libfix.so dbg/.build-id/%.2s/%s.debug && "
		   "mkdir -p wrong/.build-id/%.2s && "
		   "objcopy --only-keep-debug libver.so wrong/.build-id/%.2s/%s.debug",
		   id_hex, id_hex, id_hex + 2, id_hex, id_hex, id_hex + 2);
	char *stripped = sut_xasprintf("%s/libfix.stripped.so", fixture_tmpdir());
	char *root = sut_xasprintf("%s/dbg", fixture_tmpdir());
	char *wrong = sut_xasprintf("%s/wrong", fixture_tmpdir());
	struct sut_err err = {0};
	const struct sut_sym *s = NULL;

	struct sut_elf *e = open_ok(stripped);
	assert_false(sut_elf_has_symtab(e));
	assert_int_equal(sut_elf_find_sym(e, "helper", "a.c", &s, &err), 0);
	const uint8_t *id;
	size_t id_len = sut_elf_build_id(e, &id);
	assert_true(id_len > 0);

	char *path = NULL;
	assert_int_equal(sut_elf_find_debug_file(root, id, id_len, &path), 1);
	/* a file at the right place with another build-id is not the debug file */
	char *none = NULL;
	assert_int_equal(sut_elf_find_debug_file(wrong, id, id_len, &none), 0);
	assert_null(none);
	assert_int_equal(sut_elf_find_debug_file(fixture_tmpdir(), id, id_len, &none), 0);

	struct sut_elf *dbg = open_ok(path);
	assert_true(sut_elf_has_symtab(dbg));
	assert_int_equal(sut_elf_find_sym(dbg, "helper", "a.c", &s, &err), 1);
	uint8_t code[2];
	assert_int_equal(sut_elf_read_vaddr(e, s->value, code, sizeof code, &err), 0);
	assert_int_equal(code[0], 0xb8);
	assert_int_equal(code[1], 1);
	sut_elf_close(dbg);
	sut_elf_close(e);
	free(path);
	free(stripped);
	free(root);
	free(wrong);
	(void)state;
}

/* Corrupted copies (bytes overwritten at pseudo-random places, fixed seed) either open
 * and answer queries, or are refused with a message; they never crash the reader. */
static void test_corrupt_copies_do_not_crash(void **state)
{
	uint8_t *orig;
	size_t len;
	struct sut_err err = {0};
	assert_int_equal(sut_read_file(lib_path, &orig, &len, &err), 0);
	uint8_t *data = malloc(len);
	uint32_t seed = 12345;
	size_t refused = 0;
	for (int round = 0; round < 3000; round++) {
		memcpy(data, orig, len);
		for (int k = 0; k < 4; k++) {
			seed = seed * 1103515245u + 12345u;
			/* most damage aimed at the headers and tables, where it hurts */
			size_t at = (seed >> 8) % (k == 0 ? 0x600 : len);
			seed = seed * 1103515245u + 12345u;
			data[at] = (uint8_t)(seed >> 16);
		}
		struct sut_elf *e = NULL;
		err.msg[0] = 0;
		if (sut_elf_open_mem(data, len, "corrupt.so", &e, &err) < 0) {
			assert_true(err.msg[0] != 0);
			refused++;
			continue;
		}
		const struct sut_sym *s;
		uint64_t v, lo, hi;
		uint8_t buf[32];
		const uint8_t *id;
		for (size_t i = 0; i < sut_elf_nsyms(e); i++)
			sut_elf_find_sym(e, sut_elf_sym(e, i)->name, "a.c", &s, &err);
		sut_elf_find_dynsym(e, "a_fn", NULL, &v, NULL);
		sut_elf_find_dynsym(e, "a_fn", "V1", &v, NULL);
		sut_elf_needed_version(e, "puts");
		sut_elf_got_slot(e, "puts", &v);
		sut_elf_build_id(e, &id);
		sut_elf_load_span(e, &lo, &hi);
		sut_elf_read_vaddr(e, lo, buf, sizeof buf, &err);
		sut_elf_sym_at(e, lo + 0x1100);
		sut_elf_close(e);
		uint8_t out[64];
		sut_elf_build_id_from_image(data, 4096, out, sizeof out);
	}
	assert_true(refused > 0);
	free(data);
	free(orig);
	(void)state;
}

/* The first field (hex) of the first line `cmd` prints, or 0. */
static unsigned long sh_hex(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	unsigned long v = 0;
	if (fscanf(f, "%lx", &v) != 1)
		v = 0;
	pclose(f);
	return v;
}

/* IRELATIVE slots (libc's own strlen) and the TLS entries of a library and a program,
 * against readelf. */
static void test_ifunc_and_tls_entries(void **state)
{
	(void)state;
	struct sut_elf *e;
	struct sut_err err;
	assert_int_equal(sut_elf_open(LIBC, &e, &err), 0);
	uint64_t resolver;
	uint8_t type;
	assert_int_equal(sut_elf_find_dynsym(e, "strlen", NULL, &resolver, &type), 1);
	assert_int_equal(type, STT_GNU_IFUNC);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "readelf -rW %s | awk '$3 == \"R_X86_64_IRELATIVE\" && $4 == "
		 "\"%lx\" { print $1; exit }'", LIBC, (unsigned long)resolver);
	uint64_t slot = 0;
	assert_int_equal(sut_elf_irelative_slot(e, resolver, &slot), 1);
	assert_int_equal(slot, sh_hex(cmd));
	assert_int_equal(sut_elf_irelative_slot(e, resolver + 1, &slot), 0);
	/* memcpy@GLIBC_2.2.5 and memcpy@@GLIBC_2.14; one strstr */
	assert_int_equal(sut_elf_count_dynsym_defs(e, "memcpy"), 2);
	assert_int_equal(sut_elf_count_dynsym_defs(e, "strstr"), 1);
	assert_int_equal(sut_elf_count_dynsym_defs(e, "no_such_symbol"), 0);
	assert_false(sut_elf_is_program(e));
	sut_elf_close(e);

	const char *src = "static __thread int ld_n;\n__thread int gd_n = 3;\n"
			  "static __thread int ie_n __attribute__((tls_model(\"initial-exec\")));\n"
			  "int f(void) { return ++ld_n + ++gd_n + ++ie_n; }\n";
	free(fixture_cc("tls", src, "-O2 -fPIC -shared -Wl,--build-id", "libtls.so"));
	char *path = sut_xasprintf("%s/libtls.so", fixture_tmpdir());
	assert_int_equal(sut_elf_open(path, &e, &err), 0);
	assert_false(sut_elf_is_program(e));
	struct sut_elf_tls t;
	assert_int_equal(sut_elf_tls_segment(e, &t), 1);
	snprintf(cmd, sizeof cmd, "readelf -lW %s | awk '$1 == \"TLS\" { print $3 }'", path);
	assert_int_equal(t.vaddr, sh_hex(cmd));
	int64_t tp;
	assert_int_equal(sut_elf_tls_tpoff(e, 0, &tp), 0); /* a library has no fixed offset */
	snprintf(cmd, sizeof cmd, "readelf -rW %s | awk '$3 == \"R_X86_64_DTPMOD64\" && $5 == "
		 "\"gd_n\" { print $1 }'", path);
	assert_int_equal(sut_elf_tls_slot(e, SUT_ELF_TLS_GD_PAIR, "gd_n", 0, &slot), 1);
	assert_int_equal(slot, sh_hex(cmd));
	assert_int_equal(sut_elf_tls_slot(e, SUT_ELF_TLS_GD_PAIR, "ld_n", 0, &slot), 0);
	snprintf(cmd, sizeof cmd, "readelf -rW %s | awk '$3 == \"R_X86_64_DTPMOD64\" && NF == 4 "
		 "{ print $1; exit }'", path);
	assert_int_equal(sut_elf_tls_slot(e, SUT_ELF_TLS_OWN_MODULE, NULL, 0, &slot), 1);
	assert_int_equal(slot, sh_hex(cmd));
	snprintf(cmd, sizeof cmd, "readelf -rW %s | awk '$3 == \"R_X86_64_TPOFF64\" { print $1 }'",
		 path);
	const struct sut_sym *ie;
	assert_int_equal(sut_elf_find_sym(e, "ie_n", "tls.c", &ie, &err), 1);
	assert_int_equal(sut_elf_tls_slot(e, SUT_ELF_TLS_TPOFF, NULL, ie->value, &slot), 1);
	assert_int_equal(slot, sh_hex(cmd));
	assert_int_equal(sut_elf_tls_slot(e, SUT_ELF_TLS_TPOFF, NULL, ie->value + 4, &slot), 0);
	sut_elf_close(e);
	free(path);

	/* a program: its TLS offsets are fixed, as the static linker computed them */
	const char *prog = "__thread int a = 1;\nstatic __thread long b;\n"
			   "int main(void) { return a + (int)++b; }\n";
	free(fixture_cc("tlsprog", prog, "-O2 -fPIE -pie -Wl,--build-id", "tlsprog"));
	path = sut_xasprintf("%s/tlsprog", fixture_tmpdir());
	assert_int_equal(sut_elf_open(path, &e, &err), 0);
	assert_true(sut_elf_is_program(e));
	const struct sut_sym *b;
	assert_int_equal(sut_elf_find_sym(e, "b", "tlsprog.c", &b, &err), 1);
	assert_int_equal(sut_elf_tls_tpoff(e, b->value, &tp), 1);
	/* the witness: the displacement of main's %fs: access to b, from objdump */
	snprintf(cmd, sizeof cmd, "objdump -d --no-show-raw-insn %s | awk '/<main>:/,/ret/' | "
		 "grep -o '%%fs:0x[0-9a-f]*' | sed 's/%%fs:0x//' | sort -u", path);
	FILE *f = popen(cmd, "r");
	char line[64];
	bool seen = false;
	while (fgets(line, sizeof line, f))
		seen |= (int64_t)strtoull(line, NULL, 16) == tp;
	pclose(f);
	assert_true(seen);
	sut_elf_close(e);
	free(path);
}

/* The first initialiser: DT_INIT when the library has one (gcc's crti), else the first
 * DT_INIT_ARRAY entry (a constructor, with -nostartfiles), else an error; the file
 * offset given holds the same bytes as the vaddr. */
static void test_first_init(void **state)
{
	(void)state;
	/* constructors with a body (gcc drops empty ones) */
	fixture_sh("printf 'volatile int v;\\n__attribute__((constructor)) static void c1(void) { v = 1; }\\n"
		   "__attribute__((constructor)) static void c2(void) { v = 2; }\\nint f(void) { return v; }\\n' > ctor.c");
	fixture_sh("gcc -shared -fPIC -O1 -o libinit.so ctor.c");
	fixture_sh("gcc -shared -fPIC -O1 -nostartfiles -o libarr.so ctor.c");
	fixture_sh("printf 'int f(void) { return 1; }\\n' > none.c && "
		   "gcc -shared -fPIC -O1 -nostartfiles -o libnone.so none.c");
	fixture_sh("readelf -dW libinit.so | awk '$2 == \"(INIT)\" {print $3}' > init.txt");
	fixture_sh("a=$(readelf -dW libarr.so | awk '$2 == \"(INIT_ARRAY)\" {print $3}'); "
		   "readelf -rW libarr.so | awk '$3 == \"R_X86_64_RELATIVE\" {print $1, $4}' | "
		   "while read o v; do [ $((0x$o)) -eq $((a)) ] && echo $v; done > arr.txt; true");
	const char *names[] = {"libinit.so", "libarr.so"};
	const char *want_files[] = {"init.txt", "arr.txt"};
	for (int i = 0; i < 2; i++) {
		char *path = sut_xasprintf("%s/%s", fixture_tmpdir(), names[i]);
		struct sut_elf *e = open_ok(path);
		uint64_t vaddr = 0, off = 0;
		struct sut_err err = {0};
		if (sut_elf_first_init(e, &vaddr, &off, &err) != 0)
			fail_msg("%s: %s", names[i], err.msg);
		char want[64];
		read_line(want_files[i], want, sizeof want);
		assert_int_equal(vaddr, strtoull(want, NULL, 16));
		uint8_t a[16], b[16];
		assert_int_equal(sut_elf_read_vaddr(e, vaddr, a, sizeof a, &err), 0);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		assert_int_equal(fseek(f, (long)off, SEEK_SET), 0);
		assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
		fclose(f);
		assert_memory_equal(a, b, sizeof a);
		assert_int_equal(sut_elf_count_ifuncs(e), 0);
		sut_elf_close(e);
		free(path);
	}
	char *path = sut_xasprintf("%s/libnone.so", fixture_tmpdir());
	struct sut_elf *e = open_ok(path);
	uint64_t vaddr = 0, off = 0;
	struct sut_err err = {0};
	assert_int_equal(sut_elf_first_init(e, &vaddr, &off, &err), -1);
	assert_non_null(strstr(err.msg, "no initialiser"));
	sut_elf_close(e);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_helpers_by_file_scope),
		cmocka_unit_test(test_global_hidden_absent),
		cmocka_unit_test(test_ambiguous_helper),
		cmocka_unit_test(test_same_basename_in_two_directories),
		cmocka_unit_test(test_build_id_file_and_image),
		cmocka_unit_test(test_read_vaddr_matches_file),
		cmocka_unit_test(test_got_slots),
		cmocka_unit_test(test_dynsym_versions_libc),
		cmocka_unit_test(test_dynsym_versions_fixture),
		cmocka_unit_test(test_needed_version),
		cmocka_unit_test(test_sym_at),
		cmocka_unit_test(test_symbol_table_indices),
		cmocka_unit_test(test_dynsym_only_lookup_all),
		cmocka_unit_test(test_relocatable_object),
		cmocka_unit_test(test_truncated_and_garbage),
		cmocka_unit_test(test_debug_file_by_build_id),
		cmocka_unit_test(test_corrupt_copies_do_not_crash),
		cmocka_unit_test(test_ifunc_and_tls_entries),
		cmocka_unit_test(test_first_init),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
